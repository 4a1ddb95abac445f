"""The claims audit: what a paper's own printed numbers imply, recomputed.

Every check follows from a metric's definition and compares numbers the paper
printed with each other (or with counts of the real dataset), showing both sides:

- transcription: claims.yaml's number is the one in the printed quote;
- range: a fraction lies in [0, 1], MCC in [-1, 1], a loss or a count is >= 0;
- one result stated in several places (`quantity`) has one value, and where it does
  not, which places agree (a value equal to another quantity's is named: a swap);
- granularity: one run's accuracy on M test items is k/M, a mean over N runs is a
  multiple of 1/(N*M); a std over N such runs has a smallest and a largest value;
- cross-entropy vs accuracy: a misclassified item has p(true class) <= 1/2, so the
  mean cross-entropy is at least (1 - accuracy) * ln 2;
- per-class tables: F1 = 2PR/(P+R) and min(P,R) <= F1 <= max(P,R); recall x support
  and true positives / precision are whole numbers; predicted counts add up to the
  supports; accuracy = sum(recall_c x support_c) / N, so it lies between the smallest
  and the largest recall; macro averages are means of the rows; specificity and MCC
  follow from the counts;
- a confusion matrix against the accuracy and per-class figures stated for it;
- a CI against its mean, std and n; a model summary's rows against its total and
  each layer's parameters against its shapes; printed class counts against their
  total and against the dataset.

Rounding: a transcribed number is taken as exact to half a unit in its last decimal
(74.923% -> 0.74923 +- 0.000005); a check fails only when the gap is larger than that.
YAML drops trailing zeros ("98.0%" -> 0.98), which makes a check more lenient, never
stricter. Two kinds of failure: *inconsistent* (the printed numbers cannot all be
true) and *implausible* (possible, but improbable: a perfect score on many items, a
training figure identical to a test figure).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import re
from decimal import Decimal

import numpy as np

from common.metrics import per_class_from_confusion
from common.protocols import ci_from_mean_std

INCONSISTENT = "inconsistent"
IMPLAUSIBLE = "implausible"
LIMIT_MIN_ITEMS = 20  # a perfect (or zero) score on fewer items than this can happen; on more it is a claim to question


@dataclasses.dataclass
class Finding:
    check: str
    item: str  # claim / table id
    source: str
    consistent: bool
    paper: str  # what the paper printed
    implied: str  # what follows from its other numbers
    detail: str = ""
    severity: str = INCONSISTENT  # what a failure means: inconsistent or implausible ("" for a pass)

    def __post_init__(self):
        if self.consistent:
            self.severity = ""


def audit(claims: dict) -> list[Finding]:
    findings, pinned = [], set()
    for claim in claims["claims"]:
        findings += _transcription(claim)  # units and ranges: checked when loading (common.claims)
        if claim.get("runs") and claim.get("test_items") and _kind(claim) == "point":
            findings += _granularity(claim["id"], claim["source"], claim["reported"], claim["runs"], claim["test_items"],
                                     _claim_half_unit(claim))
            pinned.add((claim["source"], claim["reported"], claim["runs"], str(claim["test_items"])))
    findings += _same_quantity_checks(claims["claims"])
    findings += _loss_vs_accuracy(claims["claims"])
    findings += _training_equals_test(claims["claims"])
    for cm in claims["confusion_matrices"]:
        findings += _confusion_checks(cm)
    for table in claims["per_class_tables"]:
        findings += _per_class_checks(table)
    for table in claims.get("count_tables", []):
        findings += _count_table_checks(table)
    for s in claims["summaries"]:
        findings += _summary_checks(s, pinned)
    for summary in claims["model_summaries"]:
        findings += _model_summary_checks(summary)
    return findings


# ---- rounding -----------------------------------------------------------------------------------

def _half_unit(value) -> float:
    """Half a unit in the last decimal of a transcribed number: its rounding error."""
    exponent = Decimal(repr(value) if isinstance(value, float) else str(value)).normalize().as_tuple().exponent
    return 0.5 * 10.0 ** min(exponent, 0)


def _close(a, b, tol):
    return abs(float(a) - float(b)) <= tol + 1e-12


def _kind(claim):
    return claim.get("kind", "point")


def _pct(value, digits=3):
    return f"{100 * value:.{digits}f}%"


# ---- single claims ------------------------------------------------------------------------------

NUMBER = r"\d[\d,]*(?:\.\d+)?"
NUMBER_WORDS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                             "nine", "ten", "eleven", "twelve"])}


def _printed_values(printed: str, unit: str):
    """The numbers a printed quote can stand for, in claims.yaml's unit, each with its rounding:
    a percentage as a fraction, 'k/n' as its ratio (exact), a bare number as itself (or, for a
    fraction, as a percentage), a number word ('six') as its number."""
    text = str(printed)
    as_float = lambda s: float(s.replace(",", ""))
    half = lambda s: 0.5 * 10.0 ** -len(s.partition(".")[2])
    percents = re.findall(rf"({NUMBER})\s*(?:%|percent)", text)
    if percents:
        return [(as_float(p) / 100, half(p) / 100) for p in percents]
    ratios = re.findall(rf"({NUMBER})\s*/\s*({NUMBER})", text)
    if ratios:
        return [(as_float(k) / as_float(n), 0.0) for k, n in ratios]
    bare = re.findall(NUMBER, text)
    words = [(float(NUMBER_WORDS[w]), 0.0) for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS]
    return [(as_float(b), half(b)) for b in bare] + words + (
        [(as_float(b) / 100, half(b) / 100) for b in bare] if unit == "fraction" else [])


def _claim_half_unit(claim):
    """A claim's rounding: that of the printed number it was transcribed from ("98.0%" -> 0.0005),
    else half a unit in the last decimal of the transcribed value."""
    reported = claim["reported"]
    for value, half in _printed_values(claim["printed"], claim.get("unit", "fraction")):
        if _close(value, reported, _half_unit(reported)):
            return half or _half_unit(reported)  # a ratio k/n is exact: the transcription's own rounding
    return _half_unit(reported)


def _agree_claims(a, b) -> bool:
    return abs(a["reported"] - b["reported"]) <= _claim_half_unit(a) + _claim_half_unit(b) + 1e-12


def _shown(claim):
    """A claim's number as the paper's unit reads: fractions as percentages."""
    v = claim["reported"]
    return f"{100 * v:.10g}%" if claim.get("unit", "fraction") == "fraction" else f"{v:,}" if isinstance(v, int) else f"{v}"


def _transcription(claim):
    """The transcription itself: claims.yaml's number must be one the printed quote holds.
    Listed only when it is not; a quote with no number in it is not checked."""
    if _kind(claim) == "range" or not isinstance(claim["reported"], (int, float)):
        return []
    candidates = [value for value, _ in _printed_values(claim["printed"], claim.get("unit", "fraction"))]
    reported = claim["reported"]
    if not candidates or any(_close(c, reported, _half_unit(reported)) for c in candidates):
        return []
    shown = ", ".join(f"{c:.6g}" for c in candidates)
    return [Finding("transcription", claim["id"], claim["source"], False, str(claim["printed"]), f"{reported}",
                    f"claims.yaml's value is none of the printed numbers ({shown})")]


def _granularity(item, source, value, runs, test_items, h=None):
    """One run's accuracy on M items is k/M; a mean over N runs is K/(N*M) for a whole K.
    `test_items` may be a range [lo, hi] where the paper pins M only roughly."""
    sizes = range(test_items[0], test_items[1] + 1) if isinstance(test_items, list) else [test_items]
    h = _half_unit(value) if h is None else h
    nearest = []
    for m in sizes:
        grid = runs * m
        k = round(value * grid)
        best = min((k - 1, k, k + 1), key=lambda kk: abs(kk / grid - value))
        if _close(best / grid, value, h):
            return [Finding("granularity", item, source, True, _what_over(value, runs, test_items),
                            f"{best}/{grid} = {best / grid:.6f}")]
        below, above = math.floor(value * grid), math.ceil(value * grid)
        nearest.append(f"M={m}: {below}/{grid} = {_pct(below / grid)}, {above}/{grid} = {_pct(above / grid)}")
    return [Finding("granularity", item, source, False, _what_over(value, runs, test_items),
                    "not a multiple of 1/(N*M) within rounding; nearest: " + "; ".join(nearest),
                    f"rounding allows +-{h:.1g}")]


def _what_over(value, runs, test_items):
    m = f"{test_items[0]}-{test_items[1]}" if isinstance(test_items, list) else f"{test_items}"
    return f"{_pct(value)} ({'one run' if runs == 1 else f'mean of {runs} runs'} on {m} items)"


# ---- claims against each other -----------------------------------------------------------------

def _clusters(members):
    """Members grouped by agreement (sorted by value; a member joins a group it agrees with)."""
    groups = []
    for claim in sorted(members, key=lambda c: c["reported"]):
        if groups and _agree_claims(groups[-1][-1], claim):
            groups[-1].append(claim)
        else:
            groups.append([claim])
    return groups


def _same_quantity_checks(claims):
    """Claims naming one result (`quantity`) must agree. One finding per quantity: the values
    stated and where; a value that equals another quantity's (of the same metric) is named."""
    quantities = {}
    for claim in claims:
        if claim.get("quantity") and _kind(claim) == "point":
            quantities.setdefault(claim["quantity"], []).append(claim)
    out = []
    for quantity, members in quantities.items():
        if len(members) < 2:
            continue
        groups = _clusters(members)
        stated = "; ".join(", ".join(c["source"] for c in g) + f": {_shown(g[0])}" for g in groups)
        if len(groups) == 1:
            out.append(Finding("one result, stated in several places", quantity, _sources(members), True, stated,
                               f"one value ({len(members)} places agree within rounding)"))
            continue
        notes = []
        for g in groups:
            for other, other_members in quantities.items():
                same = [c for c in other_members if c["metric"] == g[0]["metric"] and _agree_claims(c, g[0])]
                if other != quantity and same:
                    notes.append(f"{', '.join(c['source'] for c in g)}: {_shown(g[0])} equals {other} as stated "
                                 f"in {', '.join(c['source'] for c in same)}")
        out.append(Finding("one result, stated in several places", quantity, _sources(members), False, stated,
                           f"{len(groups)} different values", "; ".join(notes)))
    return out


def _sources(members):
    return " / ".join(dict.fromkeys(c["source"] for c in members))


ACCURACY_METRICS = ("accuracy", "train_accuracy", "val_accuracy")


def _run_key(claim):
    return claim["dataset"], claim.get("measures"), claim.get("experiment")


def _loss_vs_accuracy(claims):
    """A cross-entropy loss and an accuracy measured on the same data by the same run: every
    misclassified item has p(true class) <= 1/2, so loss >= (1 - accuracy) * ln 2 (an added
    weight penalty only makes the loss larger; Keras' running epoch means keep the bound).
    A claim with unit `loss` is read as cross-entropy, the loss of every paper here."""
    accuracies = {}
    for claim in claims:
        if claim["metric"] in ACCURACY_METRICS and _kind(claim) == "point":
            accuracies.setdefault(_run_key(claim), []).append(claim)
    out = []
    for loss in claims:
        if loss.get("unit") != "loss" or _kind(loss) != "point":
            continue
        for acc in accuracies.get(_run_key(loss), []):
            bound = (1 - acc["reported"] - _claim_half_unit(acc)) * math.log(2)
            out.append(Finding("cross-entropy >= (1 - accuracy) ln 2", loss["id"], _sources([loss, acc]),
                               loss["reported"] + _claim_half_unit(loss) >= bound,
                               f"{loss['metric']} {_shown(loss)} with {acc['metric']} {_shown(acc)}",
                               f"a cross-entropy of at least {bound:.4f}"))
    return out


def _training_equals_test(claims):
    """A training accuracy identical (to its printed digits) to a test accuracy on the same
    dataset is improbable: one of the two labels is likely wrong. Listed only when it happens."""
    out = []
    tests = [c for c in claims if c.get("measures") == "test" and c["metric"] == "accuracy" and _kind(c) == "point"
             and not str(c.get("why_not_checkable", "")).startswith("other method")]
    for train in claims:
        if train.get("measures") != "training" or train["metric"] not in ACCURACY_METRICS or _kind(train) != "point":
            continue
        same = [t for t in tests if t["dataset"] == train["dataset"] and _agree_claims(t, train)]
        if same:
            out.append(Finding("a training figure equals a test figure", train["id"], train["source"], False,
                               f"{train['dataset']} training accuracy {_shown(train)}",
                               "the test accuracy of " + ", ".join(dict.fromkeys(f"{t['source']} ({_shown(t)})"
                                                                                 for t in same)),
                               "the same digits for training and held-out data: one of the labels is likely wrong",
                               IMPLAUSIBLE))
    return out


# ---- confusion matrices -------------------------------------------------------------------------

def _confusion_checks(entry):
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
                           _close(accuracy, reported["accuracy"], 0.006), f"{reported['accuracy']:.4f}",
                           f"{accuracy:.4f} ({label})"))
    for kind in ("recall", "precision", "f1"):
        for cls, value in reported.get(kind, {}).items():
            if cls not in names:
                out.append(Finding(f"confusion -> {kind}", entry["id"], entry["source"], False, f"{cls}: {value}",
                                   f"no class {cls!r} among {names}"))
                continue
            implied = per[kind][names.index(cls)]
            out.append(Finding(f"confusion -> {kind}", entry["id"], entry["source"], _close(implied, value, 0.006),
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


# ---- per-class tables ---------------------------------------------------------------------------

METRIC_KEYS = ("precision", "recall", "f1", "specificity")


def _table_half_unit(table):
    """A table is printed at one precision (trailing zeros dropped: 0.995 beside 0.995995996):
    half a unit in the last decimal of its longest value."""
    values = [v[k] for v in table["rows"].values() for k in METRIC_KEYS if k in v]
    return min((_half_unit(v) for v in values), default=0.5)


def _per_class_checks(table):
    rows, h = table["rows"], _table_half_unit(table)
    out = []
    f1_outside = []
    for cls, v in rows.items():
        if all(k in v for k in ("precision", "recall", "f1")) and v["precision"] + v["recall"] > 0:
            p, r = v["precision"], v["recall"]
            implied = 2 * p * r / (p + r)
            # how far rounding P and R can move 2PR/(P+R), plus F1's own rounding
            tol = h * (2 * r * r + 2 * p * p) / (p + r) ** 2 + h
            out.append(Finding("F1 = 2PR/(P+R)", table["id"], table["source"], _close(implied, v["f1"], tol),
                               f"{cls}: F1 {v['f1']}", f"{cls}: {implied:.4f} from P {p}, R {r}"))
            if not (min(p, r) - h <= v["f1"] <= max(p, r) + h):
                f1_outside.append(f"{cls}: F1 {v['f1']} outside [{min(p, r)}, {max(p, r)}]")
    if any("f1" in v and ("precision" in v or "recall" in v) for v in rows.values()):
        out.append(Finding("min(P,R) <= F1 <= max(P,R)", table["id"], table["source"], not f1_outside,
                           "; ".join(f1_outside) or f"F1 of {len(rows)} classes",
                           "F1 is the harmonic mean of P and R, so it lies between them"))
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
                           lo - h <= acc <= hi + _half_unit(acc) + h, f"accuracy {acc}",
                           f"recalls from {lo} to {hi}", "accuracy is the support-weighted mean of the recalls"))
    out += _macro_checks(table, h)
    if supports and all("precision" in v and "recall" in v for v in rows.values()):
        out += _count_checks(table, supports, h)
    return out


def _range_in_table(table):
    bad = [f"{cls}: {k} {v[k]}" for cls, v in table["rows"].items() for k in METRIC_KEYS
           if k in v and not 0 <= v[k] <= 1]
    return [Finding("value in its metric's range", table["id"], table["source"], False, "; ".join(bad),
                    "precision, recall, F1, specificity in [0, 1]")] if bad else []


def _macro_checks(table, h):
    """A printed macro average is the mean of the per-class rows, and so lies between their extremes."""
    out = []
    for key, value in table.get("macro", {}).items():
        per_class = [v[key] for v in table["rows"].values() if key in v]
        if len(per_class) != len(table["rows"]):
            continue
        mean = float(np.mean(per_class))
        out.append(Finding(f"macro {key} = mean of the rows", table["id"], table["source"],
                           _close(mean, value, h + _half_unit(value)), f"macro {key} {value}",
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
        if not _close(tp[c], round(tp[c]), h * supports[c]):
            fractional.append(f"{c}: TP = recall x support = {tp[c]:.3f}")
        precision = rows[c]["precision"]
        if c in predicted and not _close(predicted[c], round(predicted[c]),
                                         h * supports[c] / precision + tp[c] * h / precision ** 2):
            fractional.append(f"{c}: predicted = TP / precision = {predicted[c]:.3f}")
    counts = ", ".join(f"{c} {round(tp[c])}/{supports[c]}" + (f" of {round(predicted[c])} predicted" if c in predicted else "")
                       for c in supports)
    out.append(Finding("whole counts", table["id"], table["source"], not fractional,
                       "; ".join(fractional) or f"P, R to {_digits(h)} decimals", counts,
                       "recall x support and TP / precision must be whole numbers of items"))
    total = sum(supports.values())
    n_predicted = sum(predicted.values())
    out.append(Finding("predictions add up", table["id"], table["source"], abs(n_predicted - total) <= 0.02 * total,
                       f"{total} test items (sum of supports)",
                       f"{n_predicted:.0f} items predicted (sum over classes of recall x support / precision)"))
    accuracy = sum(tp.values()) / total
    if "reported_accuracy" in table:
        out.append(Finding("per-class -> accuracy", table["id"], table["source"],
                           _close(accuracy, table["reported_accuracy"], 0.01), f"{table['reported_accuracy']}",
                           f"{accuracy:.4f} (sum of recall x support / total)"))
    if len(predicted) == len(supports):
        fp = {c: predicted[c] - tp[c] for c in supports}
        for c in supports:
            if "specificity" in rows[c]:
                negatives = total - supports[c]
                implied = (negatives - fp[c]) / negatives
                out.append(Finding("specificity from the counts", table["id"], table["source"],
                                   _close(implied, rows[c]["specificity"], 2 * h + h * supports[c] / negatives),
                                   f"{c}: specificity {rows[c]['specificity']}",
                                   f"{c}: {implied:.4f} = TN / (TN + FP) with FP = {fp[c]:.0f}"))
        if "reported_mcc" in table:
            s, correct = total, sum(tp.values())
            p_k, t_k = np.array(list(predicted.values())), np.array(list(supports.values()), dtype=float)
            mcc = (correct * s - p_k @ t_k) / math.sqrt((s * s - p_k @ p_k) * (s * s - t_k @ t_k))
            out.append(Finding("MCC from the counts", table["id"], table["source"], _close(mcc, table["reported_mcc"], 0.01),
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


def _digits(h):
    return max(0, round(-math.log10(2 * h)))


# ---- printed counts, summaries, model summaries --------------------------------------------------

def _count_table_checks(table):
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


def _summary_checks(s, pinned=frozenset()):
    """The CI against mean, std and n; the mean's granularity (unless a claim already checked
    the same number) and the std's bounds where the test-set size is known."""
    out = []
    if all(k in s for k in ("mean", "std", "n", "ci95")):
        lo, hi = ci_from_mean_std(s["mean"], s["std"], s["n"])
        tol = 0.006 * max(1, abs(s["mean"]))
        z_lo, z_hi = s["mean"] - 1.96 * s["std"] / np.sqrt(s["n"]), s["mean"] + 1.96 * s["std"] / np.sqrt(s["n"])
        out.append(Finding("CI from mean, std, n", s["id"], s["source"],
                           _close(lo, s["ci95"][0], tol) and _close(hi, s["ci95"][1], tol),
                           f"[{s['ci95'][0]}, {s['ci95'][1]}]",
                           f"[{lo:.4f}, {hi:.4f}] (t, n={s['n']}); with z=1.96: [{z_lo:.4f}, {z_hi:.4f}]"))
        if not s["ci95"][0] <= s["mean"] <= s["ci95"][1]:
            out.append(Finding("mean inside CI", s["id"], s["source"], False, f"mean {s['mean']}",
                               f"outside its own CI [{s['ci95'][0]}, {s['ci95'][1]}]"))
    runs = s.get("runs", s.get("n"))
    if s.get("test_items") and runs and "mean" in s:
        if (s["source"], s["mean"], runs, str(s["test_items"])) not in pinned:
            out += _granularity(s["id"], s["source"], s["mean"], runs, s["test_items"])
        if "std" in s and runs > 1:
            out += _std_bounds(s, runs)
    return out


def _std_bounds(s, runs):
    """The std of N accuracies k_i/M with the printed mean: at least that of the k_i as equal as
    their total allows (r runs one item above the rest), at most sqrt(mean (1 - mean)) (values in
    [0, 1]). Population std (ddof 0) for the floor, sample std for the ceiling: the lenient ends."""
    sizes = range(s["test_items"][0], s["test_items"][1] + 1) if isinstance(s["test_items"], list) else [s["test_items"]]
    mean, std, h = s["mean"], s["std"], _half_unit(s["mean"])
    floors = []
    for m in sizes:
        grid = runs * m
        totals = range(math.floor((mean - h) * grid), math.ceil((mean + h) * grid) + 1)
        floors.append(min(math.sqrt((k % runs) * (runs - k % runs)) / (runs * m) for k in totals))
    floor = min(floors)
    ceiling = math.sqrt(mean * (1 - mean) * runs / (runs - 1))
    ok = floor - _half_unit(std) <= std <= ceiling + _half_unit(std)
    return [Finding("std possible for N runs on M items", s["id"], s["source"], ok, f"std {_pct(std, 2)} over {runs} runs",
                    f"between {_pct(floor, 2)} and {_pct(ceiling, 2)}",
                    "the floor: whole numbers of correct items per run, spread as evenly as the mean allows")]


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


def _model_summary_checks(summary):
    out = []
    layers = summary.get("layers", [])
    layer_sum = sum(layer["params"] for layer in layers)
    if layers and "total_params" in summary:
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


# ---- rendering ----------------------------------------------------------------------------------

def _result(f):
    return "ok" if f.consistent else f"**{f.severity}**"


def to_markdown(paper, findings):
    bad = [f for f in findings if not f.consistent]
    implausible = sum(f.severity == IMPLAUSIBLE for f in bad)
    lines = [f"## {paper}: {len(findings)} checks, {len(bad) - implausible} inconsistent, {implausible} implausible", ""]
    if findings:
        lines += ["| check | item | source | result | the paper prints | its other numbers imply | note |",
                  "|---|---|---|---|---|---|---|"]
        order = {INCONSISTENT: 0, IMPLAUSIBLE: 1, "": 2}
        for f in sorted(findings, key=lambda f: (f.consistent, order[f.severity])):
            lines.append(f"| {f.check} | {f.item} | {f.source} | {_result(f)} | {_cell(f.paper)} | "
                         f"{_cell(f.implied)} | {_cell(f.detail)} |")
    return "\n".join(lines) + "\n"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")
