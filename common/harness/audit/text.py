"""The text against the tables: what a sentence says of the printed numbers, recomputed.

- comparison (`statements`): a sentence says one printed number is higher than another, for every pair
  it covers (a quantifier such as "all" or "in both datasets" is every pair), and where it states the
  size of the gap ("over 15%", "0.17 above"), that size, in points or relative;
- headline (claims with `headline: true`): a number the abstract, discussion or conclusion presents as
  a result must be one of the table values it speaks of (`of`, else every claim of its dataset and
  metric), rounded or cut to the digits it prints; one that matches only training or validation
  figures while it stands as a test result is flagged too;
- macro F-score: a macro F1 is the mean of per-class harmonic means, at most the harmonic mean of macro
  precision and macro recall (the harmonic mean is concave), so F <= 2PR/(P+R) <= max(P, R). The lower
  bound min(P, R) <= F holds for a single class (tables.per_class_checks), not for macro averages;
- granularity at the stated sizes: an accuracy on a dataset whose test-set size the text states (facts
  `<dataset>.test_items`, and `<dataset>.runs` where results are means of repeated runs) must be
  k / (runs x M) for one of the sizes the text allows.
"""
from __future__ import annotations

from common.harness.audit.base import IMPLAUSIBLE, IMPOSSIBLE, Finding, as_printed, claim_half_unit, claim_kind, pct
from common.harness.audit.numbers import granularity


def stated(text):
    """A number as the sentence prints it, with its rounding: '15%' -> (0.15, 0.005), '0.17' -> (0.17, 0.005)."""
    text = str(text).strip()
    number = text.rstrip("%").strip()
    decimals = len(number.partition(".")[2])
    value, half = float(number), 0.5 * 10.0 ** -decimals
    return (value / 100, half / 100) if text.endswith("%") else (value, half)


def matches(value, target, half):
    """A printed `target` stands for `value` if it is `value` rounded or cut to the printed digits."""
    return abs(value - target) <= half + 1e-12 or target - 1e-12 <= value < target + 2 * half


# ---- comparisons ---------------------------------------------------------------------------------

def comparison_checks(claims):
    by_id = {c["id"]: c for c in claims["claims"]}
    out = []
    for s in claims.get("statements", []):
        pairs = [(by_id[a], by_id[b]) for a, b in s["higher"]]
        wrong = [f"{a['id']} {as_printed(a)} is not above {b['id']} {as_printed(b)}"
                 for a, b in pairs if a["reported"] <= b["reported"]]
        out.append(Finding("stated comparison", s["id"], s["source"], not wrong, f"\"{s['printed']}\"",
                           "; ".join(wrong) or f"{len(pairs)} pair(s), each in the stated direction",
                           s.get("note", ""), family="comparison"))
        if "difference" in s:
            out.append(_difference(s, *pairs[0]))
    return out


def _difference(s, a, b):
    """The stated gap of the first pair, in points (a - b) or relative (a / b - 1), against the numbers."""
    target, half = stated(s["difference"])
    points, relative = a["reported"] - b["reported"], a["reported"] / b["reported"] - 1
    gap = relative if s.get("scale") == "relative" else points
    kind = s.get("difference_kind", "point")
    ok = {"point": matches(gap, target, half), "lower_bound": gap >= target - 1e-12,
          "upper_bound": gap <= target + 1e-12, "approximate": abs(gap - target) <= 2 * half + 1e-12}[kind]
    said = {"point": "", "lower_bound": "over ", "upper_bound": "under ", "approximate": "about "}[kind]
    arithmetic = (f"{as_printed(a)} - {as_printed(b)} = {pct(points, 2)} points "
                  f"({pct(relative, 1)} relative)")
    return Finding("stated difference", s["id"], s["source"], ok,
                   f"\"{s['printed']}\" (a gap of {said}{s['difference']}, {s.get('scale', 'points')})", arithmetic,
                   s.get("note", ""), family="comparison")


# ---- headlines -----------------------------------------------------------------------------------

def headline_checks(claims):
    out = []
    for h in claims["claims"]:
        if h.get("headline") and claim_kind(h) == "point":
            out.append(_headline(h, claims["claims"]))
    return out


def _measure(claim):
    """The measure a metric names, whatever data it is measured on: train_accuracy and accuracy are one."""
    return claim["metric"].removeprefix("train_").removeprefix("val_")


def _is_result(c):
    return not str(c.get("why_not_checkable", "")).startswith("other method") and c.get("measures") != "model"


def _headline(h, all_claims):
    half = claim_half_unit(h)
    same_metric = [c for c in all_claims if _measure(c) == _measure(h) and c["source"] != h["source"]
                   and not c.get("headline") and _is_result(c) and claim_kind(c) in ("point", "lower_bound")]
    candidates = ([c for c in all_claims if c["id"] in h["of"]] if h.get("of")
                  else [c for c in same_metric if c["dataset"] == h["dataset"]])
    hits = [c for c in candidates if matches(c["reported"], h["reported"], half)]
    listed = ", ".join(f"{c['source']} {c.get('measures')} {as_printed(c)}" for c in candidates)
    quote = f"\"{h['printed']}\" ({h['dataset']}, {h.get('measures')})"
    if not hits:
        tables = {c["source"] for c in candidates}  # a value of the same tables it does match: a likely swap
        elsewhere = [c for c in same_metric if c["source"] in tables and c not in candidates
                     and matches(c["reported"], h["reported"], half)]
        note = "; it matches " + ", ".join(f"{c['id']} ({c['dataset']}, {as_printed(c)})" for c in elsewhere) \
            if elsewhere else ""
        return Finding("headline vs the table values", h["id"], h["source"], False, quote,
                       f"none of the values it speaks of rounds or cuts to {as_printed(h)}: {listed}{note}",
                       family="headline")
    held_out = [c for c in hits if c.get("measures") == "test"]
    if h.get("measures") == "test" and not held_out:
        shown = ", ".join(f"{c['source']} {c.get('measures')} {as_printed(c)}" for c in hits)
        return Finding("headline vs the table values", h["id"], h["source"], False, quote,
                       f"it matches only {shown}: no test figure of the paper is {as_printed(h)}",
                       severity=IMPLAUSIBLE, family="headline")
    return Finding("headline vs the table values", h["id"], h["source"], True, quote,
                   "matches " + ", ".join(f"{c['source']} {as_printed(c)}" for c in hits), family="headline")


# ---- macro F-score -------------------------------------------------------------------------------

def macro_f_bound(claims):
    """Macro F1 <= 2PR/(P+R) for the macro precision and recall printed beside it (one source, data, split)."""
    groups = {}
    for c in claims["claims"]:
        if c["metric"] in ("macro_precision", "macro_recall", "macro_f1") and claim_kind(c) == "point":
            groups.setdefault((c["source"], c["dataset"], c.get("measures")), {}).setdefault(c["metric"], c)
    out = []
    for (source, _, _), g in groups.items():
        if len(g) < 3:
            continue
        p, r, f = (g[m]["reported"] for m in ("macro_precision", "macro_recall", "macro_f1"))
        bound = 2 * p * r / (p + r)
        tol = claim_half_unit(g["macro_f1"]) + max(claim_half_unit(g["macro_precision"]),
                                                    claim_half_unit(g["macro_recall"]))
        out.append(Finding("macro F1 <= 2PR/(P+R)", g["macro_f1"]["id"], source, f <= bound + tol,
                           f"macro F1 {as_printed(g['macro_f1'])} with macro precision "
                           f"{as_printed(g['macro_precision'])} and macro recall {as_printed(g['macro_recall'])}",
                           f"2PR/(P+R) = {pct(bound, 2)}, the most a mean of per-class F1 can be",
                           "a macro F1 may lie below min(P, R); it cannot lie above the harmonic mean",
                           IMPOSSIBLE, family="definitions"))
    return out


# ---- granularity at the sizes the text states ---------------------------------------------------

def stated_size_granularity(claims):
    facts = {f["about"]: f["value"] for f in claims.get("facts", [])}
    out = []
    for c in claims["claims"]:
        sizes = facts.get(f"{c['dataset']}.test_items")
        if (sizes is None or c["metric"] != "accuracy" or c.get("measures") != "test" or c.get("test_items")
                or claim_kind(c) != "point" or not _is_result(c)):
            continue
        runs = sorted({1, facts.get(f"{c['dataset']}.runs", 1)})
        tried = [granularity(c["id"], c["source"], c["reported"], n, sizes, claim_half_unit(c))[0] for n in runs]
        fits = [f for f in tried if f.consistent]
        finding = fits[0] if fits else Finding(
            "granularity", c["id"], c["source"], False, f"{pct(c['reported'])} on {c['dataset']} ({c['printed']})",
            "; ".join(f"{f.paper}: {f.implied}" for f in tried),
            f"the text allows {' or '.join(map(str, runs))} run(s) on {_sizes(sizes)} test items", IMPOSSIBLE)
        finding.check, finding.family = "granularity at the stated test-set sizes", "granularity"
        out.append(finding)
    return out


def _sizes(sizes):
    return f"{sizes[0]}-{sizes[1]}" if isinstance(sizes, list) else str(sizes)
