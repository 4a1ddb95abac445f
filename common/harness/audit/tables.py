"""Checks of the printed tables against their definitions: confusion matrices, per-class tables, class
counts and model summaries."""
from __future__ import annotations

import itertools
import math

import numpy as np

from common.harness.audit.base import IMPLAUSIBLE, IMPOSSIBLE, Finding, close, digits, half_unit
from common.toolkit.eval.metrics import per_class_from_confusion

LIMIT_MIN_ITEMS = 20  # a perfect (or zero) score on fewer items than this can happen; on more it is a claim to question


def confusion_checks(entry):
    cm = np.asarray(entry["matrix"], dtype=float)
    if entry.get("rows_are_true") is False:
        cm = cm.T
    names = entry["class_names"]
    out = []
    if cm.shape != (len(names), len(names)):
        return [Finding("confusion shape", entry["id"], entry["source"], False, f"{len(names)} class names",
                        f"a {cm.shape[0]}x{cm.shape[1]} matrix")]
    is_share = cm.max() <= 1.0 + 1e-9  # printed as row-normalised fractions
    per = per_class_from_confusion(cm)
    reported = entry.get("reported", {})
    if "accuracy" in reported:
        accuracy = np.trace(cm) / cm.sum() if not is_share else float(np.mean(np.diag(cm)))
        label = "trace / total" if not is_share else "mean of the diagonal (row-normalised matrix)"
        out.append(Finding("confusion -> accuracy", entry["id"], entry["source"],
                           close(accuracy, reported["accuracy"], 0.006), f"{reported['accuracy']:.4f}",
                           f"{accuracy:.4f} ({label})"))
    for kind in ("recall", "precision", "f1"):
        for cls, value in reported.get(kind, {}).items():
            if cls not in names:
                out.append(Finding(f"confusion -> {kind}", entry["id"], entry["source"], False, f"{cls}: {value}",
                                   f"no class {cls!r} among {names}"))
                continue
            implied = per[kind][names.index(cls)]
            out.append(Finding(f"confusion -> {kind}", entry["id"], entry["source"], close(implied, value, 0.006),
                               f"{cls}: {value:.4f}", f"{cls}: {implied:.4f}"))
    counts = entry.get("dataset_counts")
    if counts and not is_share:
        for cls, total in counts.items():
            if cls in names:
                row = cm[names.index(cls)].sum()
                out.append(Finding("confusion row total", entry["id"], entry["source"], row == total,
                                   f"{cls}: {row:.0f} test items in the matrix", f"{cls}: {total} in the dataset"))
    if entry.get("dataset_classes"):
        missing = [c for c in entry["dataset_classes"] if c not in names]
        extra = [c for c in names if c not in entry["dataset_classes"]]
        if missing or extra:
            out.append(Finding("class list", entry["id"], entry["source"], False, f"classes {names}",
                               f"the dataset's classes {entry['dataset_classes']}",
                               f"missing {missing}, not in the dataset {extra}"))
    return out


METRIC_KEYS = ("precision", "recall", "f1", "specificity")


def _table_half_unit(table):
    """A table is printed at one precision (trailing zeros dropped: 0.995 beside 0.995995996):
    half a unit in the last decimal of its longest value."""
    values = [v[k] for v in table["rows"].values() for k in METRIC_KEYS if k in v]
    return min((half_unit(v) for v in values), default=0.5)


def per_class_checks(table):
    rows, h = table["rows"], _table_half_unit(table)
    out = []
    f1_outside = []
    for cls, v in rows.items():
        if all(k in v for k in ("precision", "recall", "f1")) and v["precision"] + v["recall"] > 0:
            p, r = v["precision"], v["recall"]
            implied = 2 * p * r / (p + r)
            # how far rounding P and R can move 2PR/(P+R), plus F1's own rounding
            tol = h * (2 * r * r + 2 * p * p) / (p + r) ** 2 + h
            out.append(Finding("F1 = 2PR/(P+R)", table["id"], table["source"], close(implied, v["f1"], tol),
                               f"{cls}: F1 {v['f1']}", f"{cls}: {implied:.4f} from P {p}, R {r}"))
            if not (min(p, r) - h <= v["f1"] <= max(p, r) + h):
                f1_outside.append(f"{cls}: F1 {v['f1']} outside [{min(p, r)}, {max(p, r)}]")
    if any("f1" in v and ("precision" in v or "recall" in v) for v in rows.values()):
        out.append(Finding("min(P,R) <= F1 <= max(P,R)", table["id"], table["source"], not f1_outside,
                           "; ".join(f1_outside) or f"F1 of {len(rows)} classes",
                           "F1 is the harmonic mean of P and R, so it lies between them", severity=IMPOSSIBLE))
    out += _range_in_table(table)
    counts = table.get("dataset_counts")
    supports = {c: v["support"] for c, v in rows.items() if "support" in v}
    if counts:
        for cls, total in counts.items():
            if cls in supports:
                out.append(Finding("support vs dataset", table["id"], table["source"], supports[cls] == total,
                                   f"{cls}: support {supports[cls]}", f"{cls}: {total} test items in the dataset"))
    if supports and "reported_total" in table:
        total = sum(supports.values())
        out.append(Finding("sum of supports", table["id"], table["source"], total == table["reported_total"],
                           f"total {table['reported_total']}", f"{total} (sum of per-class supports)"))
    recalls = {c: v["recall"] for c, v in rows.items() if "recall" in v}
    if recalls and "reported_accuracy" in table:
        lo, hi = min(recalls.values()), max(recalls.values())
        acc = table["reported_accuracy"]
        out.append(Finding("min recall <= accuracy <= max recall", table["id"], table["source"],
                           lo - h <= acc <= hi + half_unit(acc) + h, f"accuracy {acc}",
                           f"recalls from {lo} to {hi}", "accuracy is the support-weighted mean of the recalls"))
    out += _macro_checks(table, h)
    if supports and all("precision" in v and "recall" in v for v in rows.values()):
        out += _count_checks(table, supports, h)
    return out


def _range_in_table(table):
    bad = [f"{cls}: {k} {v[k]}" for cls, v in table["rows"].items() for k in METRIC_KEYS
           if k in v and not 0 <= v[k] <= 1]
    return [Finding("value in its metric's range", table["id"], table["source"], False, "; ".join(bad),
                    "precision, recall, F1, specificity in [0, 1]", severity=IMPOSSIBLE)] if bad else []


def _macro_checks(table, h):
    """A printed macro average is the mean of the per-class rows, and so lies between their extremes."""
    out = []
    for key, value in table.get("macro", {}).items():
        per_class = [v[key] for v in table["rows"].values() if key in v]
        if len(per_class) != len(table["rows"]):
            continue
        mean = float(np.mean(per_class))
        out.append(Finding(f"macro {key} = mean of the rows", table["id"], table["source"],
                           close(mean, value, h + half_unit(value)), f"macro {key} {value}",
                           f"{mean:.4f} (mean of {len(per_class)} rows, which range from {min(per_class)} to {max(per_class)})"))
    return out


def _count_checks(table, supports, h):
    """What recall, precision and support imply as counts: true positives = recall x support and
    predicted = TP / precision must be whole; predictions add up to the supports; accuracy,
    specificity and MCC follow; a perfect or zero score on many items is flagged."""
    rows, out = table["rows"], []
    tp = {c: rows[c]["recall"] * supports[c] for c in supports}
    predicted = {c: tp[c] / rows[c]["precision"] for c in supports if rows[c]["precision"] > 0}
    fractional = []
    for c in supports:
        if not close(tp[c], round(tp[c]), h * supports[c]):
            fractional.append(f"{c}: TP = recall x support = {tp[c]:.3f}")
        precision = rows[c]["precision"]
        if c in predicted and not close(predicted[c], round(predicted[c]),
                                         h * supports[c] / precision + tp[c] * h / precision ** 2):
            fractional.append(f"{c}: predicted = TP / precision = {predicted[c]:.3f}")
    counts = ", ".join(f"{c} {round(tp[c])}/{supports[c]}" + (f" of {round(predicted[c])} predicted" if c in predicted else "")
                       for c in supports)
    out.append(Finding("whole counts", table["id"], table["source"], not fractional,
                       "; ".join(fractional) or f"P, R to {digits(h)} decimals", counts,
                       "recall x support and TP / precision must be whole numbers of items", IMPOSSIBLE))
    total = sum(supports.values())
    n_predicted = sum(predicted.values())
    out.append(Finding("predictions add up", table["id"], table["source"], abs(n_predicted - total) <= 0.02 * total,
                       f"{total} test items (sum of supports)",
                       f"{n_predicted:.0f} items predicted (sum over classes of recall x support / precision)"))
    accuracy = sum(tp.values()) / total
    if "reported_accuracy" in table:
        out.append(Finding("per-class -> accuracy", table["id"], table["source"],
                           close(accuracy, table["reported_accuracy"], 0.01), f"{table['reported_accuracy']}",
                           f"{accuracy:.4f} (sum of recall x support / total)"))
    if len(predicted) == len(supports):
        fp = {c: predicted[c] - tp[c] for c in supports}
        for c in supports:
            if "specificity" in rows[c]:
                negatives = total - supports[c]
                implied = (negatives - fp[c]) / negatives
                out.append(Finding("specificity from the counts", table["id"], table["source"],
                                   close(implied, rows[c]["specificity"], 2 * h + h * supports[c] / negatives),
                                   f"{c}: specificity {rows[c]['specificity']}",
                                   f"{c}: {implied:.4f} = TN / (TN + FP) with FP = {fp[c]:.0f}"))
        if "reported_mcc" in table:
            s, correct = total, sum(tp.values())
            p_k, t_k = np.array(list(predicted.values())), np.array(list(supports.values()), dtype=float)
            mcc = (correct * s - p_k @ t_k) / math.sqrt((s * s - p_k @ p_k) * (s * s - t_k @ t_k))
            out.append(Finding("MCC from the counts", table["id"], table["source"], close(mcc, table["reported_mcc"], 0.01),
                               f"MCC {table['reported_mcc']}", f"{mcc:.4f} (multi-class MCC from true and predicted counts)"))
    out += _limit_values(table, supports, tp, predicted, accuracy)
    return out


def _limit_values(table, supports, tp, predicted, accuracy):
    """Precision, recall or F1 of exactly 1 or 0 on many items: possible, but a strong claim next to
    the table's own accuracy (the chance figure assumes each item right with that accuracy)."""
    out = []
    for c, v in table["rows"].items():
        at_limit = [f"{k} {v[k]}" for k in ("precision", "recall", "f1") if k in v and v[k] in (0, 1)]
        if not at_limit or c not in supports:
            continue
        what, items = [], 0
        if v.get("recall") == 1 or v.get("f1") == 1:
            what.append(f"all {supports[c]} {c} items right")
            items = max(items, supports[c])
        if (v.get("precision") == 1 or v.get("f1") == 1) and c in predicted:
            what.append(f"none of the {round(predicted[c])} items called {c} wrong")
            items = max(items, round(predicted[c]))
        wrong = v.get("recall") == 0 or v.get("f1") == 0
        if wrong:
            what.append(f"none of the {supports[c]} {c} items right")
            items = max(items, supports[c])
        if items < LIMIT_MIN_ITEMS:
            continue
        chance = (1 - accuracy) ** items if wrong else accuracy ** items
        out.append(Finding("a metric at its limit on many items", table["id"], table["source"], False,
                           f"{c}: {', '.join(at_limit)}", "; ".join(what),
                           f"{items} items; if each were right with the table's accuracy {accuracy:.3f}, "
                           f"this has probability {chance:.1g}", IMPLAUSIBLE))
    return out


def count_table_checks(table):
    """Printed class counts (a dataset table): they add up to the printed total, and match the
    dataset's real counts where those are known."""
    counts, out = table["counts"], []
    if "total" in table:
        total = sum(counts.values())
        out.append(Finding("counts add up", table["id"], table["source"], total == table["total"],
                           f"total {table['total']}", f"{total} (sum of the printed class counts)"))
    real = table.get("dataset_counts", {})
    differ = [f"{c}: {counts[c]} printed, {real[c]} in the dataset" for c in counts if c in real and counts[c] != real[c]]
    if real:
        out.append(Finding("counts vs dataset", table["id"], table["source"], not differ,
                           "; ".join(differ) or f"{len(counts)} class counts",
                           f"the dataset's counts ({table.get('dataset_counts_from', 'the dataset')})"))
    return out


def _layer_params(layer, inputs):
    """Parameters of a layer from its input and output widths, where its type fixes them."""
    kind, width = layer.get("type", ""), layer["output_shape"][-1]
    if kind == "Dense":
        return (inputs + 1) * width
    if kind == "BatchNormalization":
        return 4 * width
    if kind in ("Dropout", "Flatten"):
        return 0
    if kind == "Bidirectional" and layer.get("cell") in ("LSTM", "GRU"):  # concatenated directions
        units, gates = width // 2, 4 if layer["cell"] == "LSTM" else 3
        return 2 * gates * units * (inputs + units + 1) + (2 * gates * units if layer["cell"] == "GRU" else 0)
    return None


def model_summary_checks(summary):
    out = []
    layers = summary.get("layers", [])
    layer_sum = sum(layer.get("params", 0) for layer in layers)
    if layers and "total_params" in summary and all("params" in layer for layer in layers):
        out.append(Finding("layer params add up", summary["id"], summary["source"], layer_sum == summary["total_params"],
                           f"total {summary['total_params']:,}", f"{layer_sum:,} (sum of the printed rows)"))
    if all(k in summary for k in ("total_params", "trainable_params", "non_trainable_params")):
        parts = summary["trainable_params"] + summary["non_trainable_params"]
        out.append(Finding("trainable + non-trainable", summary["id"], summary["source"], parts == summary["total_params"],
                           f"total {summary['total_params']:,}", f"{parts:,}"))
    if all(k in summary for k in ("total_params", "trainable_params")) and layers:
        frozen = summary["total_params"] - summary["trainable_params"]
        visible = sum(layer["params"] // 2 for layer in layers if layer.get("type") == "BatchNormalization")
        out.append(Finding("non-trainable >= batch-norm statistics", summary["id"], summary["source"], frozen >= visible,
                           f"{frozen:,} non-trainable (total - trainable)",
                           f"at least {visible:,}: the moving mean and variance of the printed batch-norm layers"))
    for previous, layer in itertools.pairwise(layers):
        if not previous.get("output_shape") or not layer.get("output_shape"):
            continue
        implied = _layer_params(layer, previous["output_shape"][-1])
        if implied is not None:
            out.append(Finding("layer params from shapes", summary["id"], summary["source"], implied == layer["params"],
                               f"{layer['name']} ({layer['type']}): {layer['params']:,}",
                               f"{implied:,} from input width {previous['output_shape'][-1]} and output "
                               f"{layer['output_shape']}"))
    return out
