"""The claims audit: what a paper's own printed numbers imply, recomputed.

Every check compares two things the paper printed (or one it printed with one we
can count) and reports both sides: a confusion matrix against the accuracy and
per-class figures stated for it, per-class precision / recall / F1 against each
other and against the class totals, a CI against its mean, std and n, a model
summary's rows against its total. Rounding is allowed for: a check only fails
when the gap is larger than the printed precision can explain.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from common.metrics import per_class_from_confusion
from common.protocols import ci_from_mean_std


@dataclasses.dataclass
class Finding:
    check: str
    item: str  # claim / table id
    source: str
    consistent: bool
    paper: str  # what the paper printed
    implied: str  # what follows from its other numbers
    detail: str = ""


ROUNDING_F1 = 0.011  # F1 from P and R each rounded to 2 decimals can be off by about 0.01


def _close(a, b, tol):
    return abs(float(a) - float(b)) <= tol


def audit(claims: dict) -> list[Finding]:
    findings = []
    for claim in claims["claims"]:
        findings += _printed_matches_value(claim)
    findings += _same_quantity_checks(claims["claims"])
    for cm in claims["confusion_matrices"]:
        findings += _confusion_checks(cm)
    for table in claims["per_class_tables"]:
        findings += _per_class_checks(table)
    for s in claims["summaries"]:
        findings += _summary_checks(s)
    for summary in claims["model_summaries"]:
        findings += _model_summary_checks(summary)
    return findings


def _printed_matches_value(claim):
    """The transcription itself: a printed percentage must equal the fraction recorded."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*%\s*", str(claim["printed"]))
    if not match or not isinstance(claim["reported"], (int, float)):
        return []
    printed = float(match.group(1)) / 100
    ok = _close(printed, claim["reported"], 1e-6)
    return [] if ok else [Finding("transcription", claim["id"], claim["source"], False, claim["printed"],
                                  f"{claim['reported']}", "claims.yaml's value differs from the printed text")]


SAME_QUANTITY_TOLERANCE = 0.0006  # 74.92% and 74.923% are one number printed at two precisions


def _same_quantity_checks(claims):
    """Claims marked with the same `quantity` (one result stated in several places) must agree."""
    groups = {}
    for claim in claims:
        if claim.get("quantity"):
            groups.setdefault(claim["quantity"], []).append(claim)
    out = []
    for quantity, members in groups.items():
        first = members[0]
        for other in members[1:]:
            out.append(Finding("one result, stated twice", quantity, f"{first['source']} vs {other['source']}",
                               _close(first["reported"], other["reported"], SAME_QUANTITY_TOLERANCE),
                               f"{first['id']}: {first['printed']}", f"{other['id']}: {other['printed']}"))
    return out


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


def _per_class_checks(table):
    rows = table["rows"]
    out = []
    for cls, v in rows.items():
        if all(k in v for k in ("precision", "recall", "f1")) and v["precision"] + v["recall"] > 0:
            implied = 2 * v["precision"] * v["recall"] / (v["precision"] + v["recall"])
            out.append(Finding("F1 = 2PR/(P+R)", table["id"], table["source"], _close(implied, v["f1"], ROUNDING_F1),
                               f"{cls}: F1 {v['f1']}", f"{cls}: {implied:.4f} from P {v['precision']}, R {v['recall']}"))
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
    if supports and all("precision" in v and "recall" in v for v in rows.values()):
        # recall x support = true positives; true positives / precision = items predicted as the class.
        # Every test item is predicted as exactly one class, so the predicted counts must add up to the total.
        tp = {c: rows[c]["recall"] * supports[c] for c in supports}
        predicted = sum(tp[c] / rows[c]["precision"] for c in supports if rows[c]["precision"] > 0)
        total = sum(supports.values())
        out.append(Finding("predictions add up", table["id"], table["source"], abs(predicted - total) <= 0.02 * total,
                           f"{total} test items (sum of supports)",
                           f"{predicted:.0f} items predicted (sum over classes of recall x support / precision)"))
        accuracy = sum(tp.values()) / total
        if "reported_accuracy" in table:
            out.append(Finding("per-class -> accuracy", table["id"], table["source"],
                               _close(accuracy, table["reported_accuracy"], 0.01), f"{table['reported_accuracy']}",
                               f"{accuracy:.4f} (sum of recall x support / total)"))
    return out


def _summary_checks(s):
    out = []
    if all(k in s for k in ("mean", "std", "n", "ci95")):
        lo, hi = ci_from_mean_std(s["mean"], s["std"], s["n"])
        width_ok = _close(lo, s["ci95"][0], 0.006 * max(1, abs(s["mean"]))) and _close(hi, s["ci95"][1], 0.006 * max(1, abs(s["mean"])))
        z_lo, z_hi = s["mean"] - 1.96 * s["std"] / np.sqrt(s["n"]), s["mean"] + 1.96 * s["std"] / np.sqrt(s["n"])
        out.append(Finding("CI from mean, std, n", s["id"], s["source"], width_ok,
                           f"[{s['ci95'][0]}, {s['ci95'][1]}]",
                           f"[{lo:.4f}, {hi:.4f}] (t, n={s['n']}); with z=1.96: [{z_lo:.4f}, {z_hi:.4f}]"))
        inside = s["ci95"][0] <= s["mean"] <= s["ci95"][1]
        if not inside:
            out.append(Finding("mean inside CI", s["id"], s["source"], False, f"mean {s['mean']}",
                               f"outside its own CI [{s['ci95'][0]}, {s['ci95'][1]}]"))
    return out


def _model_summary_checks(summary):
    out = []
    layer_sum = sum(layer["params"] for layer in summary.get("layers", []))
    if summary.get("layers") and "total_params" in summary:
        out.append(Finding("layer params add up", summary["id"], summary["source"], layer_sum == summary["total_params"],
                           f"total {summary['total_params']:,}", f"{layer_sum:,} (sum of the printed rows)"))
    if all(k in summary for k in ("total_params", "trainable_params", "non_trainable_params")):
        parts = summary["trainable_params"] + summary["non_trainable_params"]
        out.append(Finding("trainable + non-trainable", summary["id"], summary["source"], parts == summary["total_params"],
                           f"total {summary['total_params']:,}", f"{parts:,}"))
    return out


def to_markdown(paper, findings):
    bad = [f for f in findings if not f.consistent]
    lines = [f"## {paper}: {len(findings)} checks, {len(bad)} inconsistent", ""]
    if findings:
        lines += ["| check | item | source | consistent | the paper prints | its other numbers imply | note |",
                  "|---|---|---|---|---|---|---|"]
        for f in sorted(findings, key=lambda f: f.consistent):
            lines.append(f"| {f.check} | {f.item} | {f.source} | {'yes' if f.consistent else '**NO**'} | {f.paper} | "
                         f"{f.implied} | {f.detail} |")
    return "\n".join(lines) + "\n"
