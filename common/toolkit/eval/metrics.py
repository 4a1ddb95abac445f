"""Classification metrics from labels and class scores, one dict per evaluated fold.

Sensitivity is recall; specificity is TN / (TN + FP) per class (one-vs-rest).
Macro averages weigh every class equally, as the papers' per-class tables do.
ROC AUC and PR AP are one-vs-rest per class, from the scores; a class absent
from a fold's test set has no AUC (None) rather than a made-up value.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts with rows = true class, columns = predicted class."""
    cells = np.asarray(y_true, dtype=int) * n_classes + np.asarray(y_pred, dtype=int)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def matthews_corrcoef(cm):
    """The multi-class MCC (Gorodkin's R_K, as scikit-learn computes it) from a confusion matrix; 0 where
    all true or all predicted labels are one class."""
    cm = np.asarray(cm, dtype=float)
    true, predicted, correct, total = cm.sum(axis=1), cm.sum(axis=0), np.trace(cm), cm.sum()
    denominator = (total ** 2 - predicted @ predicted) * (total ** 2 - true @ true)
    return 0.0 if denominator == 0 else float((correct * total - true @ predicted) / np.sqrt(denominator))


def roc_auc(positives, scores):
    """The area under the one-vs-rest ROC curve, as the Mann-Whitney statistic it equals: the chance that a
    positive item scores above a negative one, ties counting half (from ranks: the bootstrap of the
    intervals calls this thousands of times, and scikit-learn's curve costs ten times more)."""
    n_positive = positives.sum()
    rank_sum = stats.rankdata(scores)[positives].sum()
    return float((rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * (len(positives) - n_positive)))


def average_precision(positives, scores):
    """The one-vs-rest PR curve's average precision, as scikit-learn defines it: the precision at each distinct
    score threshold (highest first), weighted by the recall gained there."""
    order = np.argsort(-scores, kind="stable")
    last_of_each_score = np.r_[np.flatnonzero(np.diff(scores[order])), len(scores) - 1]
    true_positives = np.cumsum(positives[order])[last_of_each_score]
    precision = true_positives / (last_of_each_score + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def per_class_from_confusion(cm):
    """Precision, recall, specificity, F1 and support per class from a confusion matrix."""
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    support, predicted, total = cm.sum(axis=1), cm.sum(axis=0), cm.sum()
    fp, fn = predicted - tp, support - tp
    tn = total - tp - fp - fn
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "specificity": specificity, "f1": f1, "support": support}


def classification_metrics(y_true, y_score, class_names):
    """Accuracy, macro P/R/specificity/F1, MCC, per-class ROC AUC and PR AP, confusion matrix."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    n = len(class_names)
    y_pred = y_score.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, n)
    per = per_class_from_confusion(cm)
    present = per["support"] > 0
    auc, ap = [], []
    for c in range(n):
        positives = y_true == c
        if positives.all() or not positives.any():
            auc.append(None)
            ap.append(None)
        else:
            auc.append(roc_auc(positives, y_score[:, c]))
            ap.append(average_precision(positives, y_score[:, c]))
    macro = lambda values: float(np.mean([v for v, p in zip(values, present) if p])) if present.any() else None
    finite = lambda values: float(np.mean([v for v in values if v is not None])) if any(v is not None for v in values) else None
    return {
        "accuracy": float((y_pred == y_true).mean()),
        "macro_precision": macro(per["precision"]),
        "macro_recall": macro(per["recall"]),
        "macro_specificity": macro(per["specificity"]),
        "macro_f1": macro(per["f1"]),
        "mcc": matthews_corrcoef(cm),
        "macro_roc_auc": finite(auc),
        "macro_pr_ap": finite(ap),
        "per_class": {
            name: {"precision": float(per["precision"][c]), "recall": float(per["recall"][c]),
                   "specificity": float(per["specificity"][c]), "f1": float(per["f1"][c]),
                   "support": int(per["support"][c]), "roc_auc": auc[c], "pr_ap": ap[c]}
            for c, name in enumerate(class_names)},
        "confusion_matrix": cm.tolist(),
    }
