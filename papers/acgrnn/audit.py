"""What the printed Fig. 7 matrix implies for every Table 1 metric.

The shared audit (common/harness/audit/) checks a matrix against its stated accuracy and
per-class figures, its class list and row totals. Table 1 states macro precision,
sensitivity, specificity, F-score and MCC as well; this module recomputes each from
Fig. 7, read as printed (rows "Actual") and as the text describes it (rows
predicted). Table 2's F-scores against their precision and sensitivity are the shared
macro-F bound (common/harness/audit/text.py). `audit_findings(claims)` returns
common.harness.audit.Finding rows, the same as the shared checks.
"""
from __future__ import annotations

import numpy as np

from common.harness.audit import Finding
from common.toolkit.eval.metrics import per_class_from_confusion

TABLE1 = ("accuracy", "macro_precision", "macro_recall", "macro_specificity", "macro_f1", "mcc")
TOLERANCE = 0.0006  # Table 1 prints four decimals


def matrix_metrics(cm):
    """Accuracy, macro P / R / specificity / F1 and MCC of a count matrix, rows true. MCC two ways: the
    multi-class one (Gorodkin's R_K, what sklearn computes) and the mean of the per-class one-vs-rest MCCs."""
    cm = np.asarray(cm, dtype=float)
    per = per_class_from_confusion(cm)
    total, correct = cm.sum(), np.trace(cm)
    true, predicted = cm.sum(axis=1), cm.sum(axis=0)
    mcc = (correct * total - true @ predicted) / np.sqrt((total ** 2 - predicted @ predicted) * (total ** 2 - true @ true))
    tp = np.diag(cm)
    fn, fp = true - tp, predicted - tp
    tn = total - tp - fn - fp
    one_vs_rest = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {"accuracy": correct / total, "macro_precision": per["precision"].mean(), "macro_recall": per["recall"].mean(),
            "macro_specificity": per["specificity"].mean(), "macro_f1": per["f1"].mean(), "mcc": float(mcc),
            "mcc_one_vs_rest_mean": float(one_vs_rest.mean())}


def audit_findings(claims):
    claims_by_id = {c["id"]: c for c in claims["claims"]}
    out = []
    for entry in claims["confusion_matrices"]:
        readings = {"rows actual (as printed)": np.asarray(entry["matrix"]),
                    "rows predicted (as the text says)": np.asarray(entry["matrix"]).T}
        for reading, cm in readings.items():
            implied = matrix_metrics(cm)
            for metric in TABLE1:
                claim = claims_by_id.get(f"table1_test_{metric}")
                if claim is None:
                    continue
                values = [implied[metric]] + ([implied["mcc_one_vs_rest_mean"]] if metric == "mcc" else [])
                shown = f"{implied[metric]:.4f}" + (f" (multi-class); {values[1]:.4f} (mean of one-vs-rest)"
                                                    if metric == "mcc" else "")
                out.append(Finding(f"Table 1 from the matrix, {reading}", claim["id"], f"{claim['source']} vs "
                                   f"{entry['source']}", any(abs(v - claim["reported"]) <= TOLERANCE for v in values),
                                   f"{metric} {claim['printed']}", shown, f"{int(cm.sum())} items in the matrix"))
    return out
