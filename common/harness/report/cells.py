"""Numbers as text: the cells of a report's and the scoreboard's tables."""
from __future__ import annotations

from common.harness.judge.claims import RATE_UNITS


def metric_unit(name):
    """A metric's unit from its name: proportions are fractions, the rest plain numbers."""
    if "loss" in name:
        return "loss"
    if name.endswith("params"):
        return "parameters"
    if name in ("mcc", "accuracy_gain"):
        return "signed_fraction"
    if name.startswith("throughput"):
        return "images_per_s"
    if name.startswith("frames_") or name.endswith(("_count", "_epoch")):
        return "count"
    return "fraction"


def fmt(value, unit="fraction"):
    """Fractions as percentages; everything else as a plain number."""
    if value is None:
        return "-"
    if unit in RATE_UNITS:
        return f"{100 * value:.2f}%"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"


def interval(summary, unit):
    lo, hi = summary["ci95"]
    return "-" if lo is None else f"[{fmt(lo, unit)}, {fmt(hi, unit)}]"


def achieved(summary, unit="fraction"):
    """'mean [lo, hi] (n runs)', both bounds in the mean's unit."""
    if not summary or summary.get("mean") is None:
        return "-"
    runs = "1 run" if summary["n"] == 1 else f"n={summary['n']}"
    lo = summary["ci95"][0]
    shown = "" if lo is None else f" {interval(summary, unit)}"
    return f"{fmt(summary['mean'], unit)}{shown} ({runs})"


def reported(row):
    """The paper's number in the same unit as ours, marked as a bound or range where it is one."""
    value, unit, kind = row["reported"], row["unit"], row.get("kind", "point")
    if kind == "range":
        return f"{fmt(value[0], unit)} to {fmt(value[1], unit)}"
    return {"lower_bound": "≥ ", "upper_bound": "≤ "}.get(kind, "") + fmt(value, unit)


def difference(row):
    summary = row["achieved"]
    if not summary or summary.get("mean") is None or row.get("kind", "point") != "point":
        return "-"
    diff = summary["mean"] - row["reported"]
    return f"{100 * diff:+.2f} pts" if row["unit"] in RATE_UNITS else f"{diff:+.4g}"


def verdict_text(row):
    return f"{row['verdict']} ({row['why']})" if row.get("why") else row["verdict"]


def quote(text):
    return f"\"{str(text).replace('|', '/')}\""


def count(value):
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def plain(value):
    return "all" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
