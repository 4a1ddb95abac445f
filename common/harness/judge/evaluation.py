"""From the folds' predictions to the numbers a report shows.

Per fold: the classification metrics and whether its predictions carry any
information at all (`common.harness.judge.verdicts.degenerate_reasons`). Over folds: each metric's
mean and 95% interval from the runs and the test items (`common.harness.judge.intervals`), and one
confusion matrix in which every distinct test item counts once, whatever the protocol:
an item tested by several runs (repeats on one test set, overlapping random splits)
adds the share of those runs that predicted each class.
"""
from __future__ import annotations

import numpy as np

from common.harness.judge.intervals import combine, wilson
from common.harness.judge.verdicts import degenerate_reasons
from common.toolkit.eval.metrics import classification_metrics

BOOTSTRAP_SAMPLES = 100
BOOTSTRAPPED = ("macro_precision", "macro_recall", "macro_specificity", "macro_f1", "mcc", "macro_roc_auc",
                "macro_pr_ap")


def aggregate(results, folds, class_names):
    """{"per_fold", "metrics", "confusion_matrix", "test_items", "degenerate"} of a run's fold results."""
    folds = {f.name: f for f in folds}
    per_fold = {}
    for name, r in results.items():
        m = classification_metrics(r.y_true, r.y_prob, class_names)
        m["extra"] = dict(r.extra)
        if r.train_seconds > 0 and r.train_images > 0:
            m["extra"]["throughput_images_per_s"] = r.train_images / r.train_seconds
        m["degenerate"] = degenerate_reasons(r.y_true, r.y_prob.argmax(1), class_names, r.history)
        per_fold[name] = m
    test_index = [folds[name].test_index for name in results]
    confusion, unique_items = item_confusion(results.values(), test_index, len(class_names))
    values = _per_fold_scalars(per_fold)
    # A run's test set is mean_test items; the distinct items over all runs are unique_items (k-fold: k times
    # as many; repeats on one test set: as many). Test-sampling errors are taken over the distinct items.
    mean_test = float(np.mean([len(r.y_true) for r in results.values()]))
    first = next(iter(results.values()))
    bootstrap = _bootstrap_standard_errors(first, class_names)
    per_item = per_item_standard_errors(results.values(), test_index)
    metrics = {}
    for key, fold_values in values.items():
        if key in per_item:
            metrics[key] = combine(fold_values, per_item[key], metric_range(key), test_se_from="per item")
            continue
        trials = _trials(key, per_fold, folds, class_names)
        if trials is not None and key not in ("train_accuracy", "val_accuracy"):
            trials = [t * unique_items / mean_test for t in trials]
        se = bootstrap.get(key)
        metrics[key] = _summary(key, fold_values, trials,
                                None if se is None else se * np.sqrt(len(first.y_true) / unique_items))
    degenerate = {name: m["degenerate"] for name, m in per_fold.items() if m["degenerate"]}
    return {"per_fold": per_fold, "metrics": metrics, "confusion_matrix": confusion.tolist(),
            "test_items": unique_items, "degenerate": degenerate}


def item_confusion(results, test_index, n_classes):
    """(confusion matrix, number of distinct test items): rows true, columns predicted; each distinct test item
    adds 1 in all, split over the classes its runs predicted."""
    one_hot = np.eye(n_classes)
    true = item_means([one_hot[r.y_true] for r in results], test_index)
    predicted = item_means([one_hot[r.y_prob.argmax(1)] for r in results], test_index)
    return true.T @ predicted, len(true)


def per_item_standard_errors(results, test_index):
    """{extra metric: the standard error of its mean over the distinct test items}, for the extra metrics every
    fold gives per test item (FoldResult.extra_per_item)."""
    results = list(results)
    names = set.intersection(*(set(r.extra_per_item) for r in results))
    errors = {}
    for name in names:
        means = item_means([r.extra_per_item[name] for r in results], test_index)
        if len(means) > 1:
            errors[name] = float(np.std(means, ddof=1) / np.sqrt(len(means)))
    return errors


def item_means(per_run, test_index):
    """Per distinct test item, in item order, the mean of a per-item value (a row) over the runs that tested it:
    an item tested by several runs counts once. Without item indices (hand-built folds), the runs are taken
    as testing the same items in the same order."""
    per_run = [np.asarray(values, dtype=float) for values in per_run]
    if any(index is None for index in test_index):
        return np.mean(per_run, axis=0)
    items = np.concatenate(test_index)
    times_tested = np.bincount(items)
    sums = np.zeros((len(times_tested), *per_run[0].shape[1:]))
    np.add.at(sums, items, np.concatenate(per_run))
    tested = times_tested > 0
    return sums[tested] / times_tested[tested].reshape(-1, *[1] * (sums.ndim - 1))


def _per_fold_scalars(per_fold):
    values = {}
    for m in per_fold.values():
        for k in ("accuracy", *BOOTSTRAPPED):
            values.setdefault(k, []).append(m[k])
        for k, v in m["extra"].items():
            values.setdefault(k, []).append(v)
        for cls, per in m["per_class"].items():
            for k, v in per.items():
                if k != "support":
                    values.setdefault(f"per_class.{cls}.{k}", []).append(v)
    return values


def _trials(key, per_fold, folds, class_names):
    """Per fold, the number of items a rate metric is a proportion of (None: not a plain proportion)."""
    if key == "accuracy":
        return [len(folds[f].test) for f in per_fold]
    if key == "train_accuracy":
        return [len(folds[f].train) for f in per_fold]
    if key == "val_accuracy":
        return [len(folds[f].val) for f in per_fold]
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "per_class" and parts[2] in ("recall", "precision", "specificity"):
        c = class_names.index(parts[1])
        trials = []
        for m in per_fold.values():
            cm = np.asarray(m["confusion_matrix"])
            support, predicted, total = cm[c].sum(), cm[:, c].sum(), cm.sum()
            trials.append({"recall": support, "precision": predicted, "specificity": total - support}[parts[2]])
        return trials
    return None


def _summary(key, fold_values, trials, bootstrapped_se):
    """A proportion's standard error from its trials (Wilson's interval for a single run); other metrics
    from the bootstrap; metrics without per-item data from the runs alone."""
    value_range = metric_range(key)
    finite = [v for v in fold_values if v is not None and np.isfinite(v)]
    if not finite:
        return combine([])
    if trials is not None and len(trials) == len(fold_values) and all(t > 0 for t in trials):
        mean, effective = float(np.mean(finite)), float(np.mean(trials))
        se = float(np.sqrt(max(mean * (1 - mean), 0.0) / effective))
        single = wilson(mean * effective, effective)["ci95"] if len(finite) == 1 else None
        return combine(fold_values, se, value_range, single_ci=single)
    return combine(fold_values, bootstrapped_se, value_range)


def _bootstrap_standard_errors(result, class_names):
    """Bootstrap standard errors over one fold's test items, for metrics that are not plain proportions."""
    names = list(BOOTSTRAPPED) + [f"per_class.{c}.{k}" for c in class_names for k in ("f1", "roc_auc", "pr_ap")]

    def pick(m, name):
        if name.startswith("per_class."):
            _, cls, k = name.split(".")
            return m["per_class"][cls][k]
        return m[name]
    y_true, y_prob = np.asarray(result.y_true), np.asarray(result.y_prob)
    samples = {name: [] for name in names}
    rng = np.random.default_rng(0)
    for _ in range(BOOTSTRAP_SAMPLES):
        draw = rng.integers(0, len(y_true), len(y_true))
        m = classification_metrics(y_true[draw], y_prob[draw], class_names)
        for name in names:
            value = pick(m, name)
            if value is not None and np.isfinite(value):
                samples[name].append(value)
    return {name: float(np.std(v, ddof=1)) for name, v in samples.items() if len(v) > 1}


def metric_range(name):
    """The values a metric can take, which its interval never leaves: rates (every accuracy, such as a
    backbone's `efficientnet_test_accuracy`, macro and per-class metrics, a share of explained variance) in
    [0, 1]; MCC and a gain of one rate over another in [-1, 1]; the rest (counts, losses, throughput) >= 0.
    A training or validation variant (`train_mcc`, `per_class.happy.train_roc_auc`) has its metric's range."""
    leaf = name.split(".")[-1].removeprefix("train_").removeprefix("val_")
    if leaf == "mcc" or leaf.endswith("_gain"):
        return (-1.0, 1.0)
    if name.startswith("per_class.") or leaf.startswith("macro_") or leaf == "accuracy" or leaf.endswith(
            ("_accuracy", "explained_variance")):
        return (0.0, 1.0)
    return (0.0, np.inf)
