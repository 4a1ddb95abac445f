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
  total and against the dataset;
- the text against the tables (text.py): stated comparisons and differences, headline
  numbers, macro F1 <= 2PR/(P+R), granularity at every test-set size the text states;
- the text's descriptions (facts.py): one fact one value, dataset arithmetic, the
  architecture text against the printed model table.

Rounding: a transcribed number is taken as exact to half a unit in its last decimal
(74.923% -> 0.74923 +- 0.000005); a check fails only when the gap is larger than that.
YAML drops trailing zeros ("98.0%" -> 0.98), which makes a check more lenient, never
stricter. Three kinds of failure: *impossible* (no data could give the printed number:
an accuracy that is no k/M, an F1 outside its bounds, 41% of 50 people), *inconsistent*
(two things the paper prints cannot both be true) and *implausible* (possible, but
improbable: a perfect score on many items, a training figure identical to a test figure).
"""

from __future__ import annotations

from common.harness.audit.base import (
    IMPLAUSIBLE,
    IMPOSSIBLE,
    INCONSISTENT,
    SEVERITIES,
    Finding,
    claim_half_unit,
    claim_kind,
)
from common.harness.audit.facts import architecture_checks, arithmetic_checks, one_value_checks
from common.harness.audit.numbers import (
    granularity,
    loss_vs_accuracy,
    same_quantity_checks,
    summary_checks,
    training_equals_test,
    transcription,
)
from common.harness.audit.tables import confusion_checks, count_table_checks, model_summary_checks, per_class_checks
from common.harness.audit.text import comparison_checks, headline_checks, macro_f_bound, stated_size_granularity

__all__ = ["IMPLAUSIBLE", "IMPOSSIBLE", "INCONSISTENT", "Finding", "audit", "to_markdown", "summary_line"]

# The family of each shared check that does not name its own (the new families set theirs).
FAMILY_OF_CHECK = {"transcription": "transcription", "granularity": "granularity",
                   "std possible for N runs on M items": "granularity",
                   "one result, stated in several places": "one result, several places",
                   "a training figure equals a test figure": "training vs test"}


def audit(claims: dict) -> list[Finding]:
    findings, pinned = [], set()
    for claim in claims["claims"]:
        findings += transcription(claim)  # units and ranges: checked when loading (common.harness.judge.claims)
        if claim.get("runs") and claim.get("test_items") and claim_kind(claim) == "point":
            findings += granularity(claim["id"], claim["source"], claim["reported"], claim["runs"], claim["test_items"],
                                    claim_half_unit(claim))
            pinned.add((claim["source"], claim["reported"], claim["runs"], str(claim["test_items"])))
    findings += same_quantity_checks(claims["claims"])
    findings += loss_vs_accuracy(claims["claims"])
    findings += training_equals_test(claims["claims"])
    for cm in claims["confusion_matrices"]:
        findings += confusion_checks(cm)
    for table in claims["per_class_tables"]:
        findings += per_class_checks(table)
    for table in claims.get("count_tables", []):
        findings += count_table_checks(table)
    for s in claims["summaries"]:
        findings += summary_checks(s, pinned)
    for summary in claims["model_summaries"]:
        findings += model_summary_checks(summary)
    findings += comparison_checks(claims) + headline_checks(claims) + macro_f_bound(claims)
    findings += stated_size_granularity(claims)
    findings += one_value_checks(claims) + arithmetic_checks(claims) + architecture_checks(claims)
    for f in findings:
        f.family = f.family or FAMILY_OF_CHECK.get(f.check, "definitions")
    return findings


# ---- rendering ----------------------------------------------------------------------------------

def _result(f):
    return "ok" if f.consistent else f"**{f.severity}**"


def _ordered(findings):
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (f.consistent, order.get(f.severity, len(order))))


def summary_line(findings):
    """How many findings, of which severity, and which families found them."""
    bad = [f for f in findings if not f.consistent]
    if not bad:
        return f"no findings in {len(findings)} checks"
    severities = ", ".join(f"{n} {s}" for s in SEVERITIES if (n := sum(f.severity == s for f in bad)))
    families = {}
    for f in bad:
        families[f.family] = families.get(f.family, 0) + 1
    by_family = ", ".join(f"{family} {n}" for family, n in sorted(families.items(), key=lambda kv: -kv[1]))
    return f"{len(bad)} findings ({severities}) in {len(findings)} checks; found by: {by_family}"


def to_markdown(paper, findings):
    """A paper's section: its findings as sentences, worst first, a closing note, then every check."""
    bad = _ordered([f for f in findings if not f.consistent])
    lines = [f'<a id="{paper}"></a>', "", f"## {paper}", ""]
    lines += [f"{i}. **{f.severity}** ({f.family}{'' if f.check == f.family else ': ' + f.check}; {f.item}) "
              f"{f.sentence()}" for i, f in enumerate(bad, 1)]
    lines += ["" if bad else "No check fails.", "", f"*{paper}: {summary_line(findings)}.*", ""]
    if findings:
        lines += ["<details><summary>Every check</summary>", "",
                  "| check | family | item | source | result | the paper prints | its other numbers imply | note |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {f.check} | {f.family} | {f.item} | {f.source} | {_result(f)} | {_cell(f.paper)} | "
                  f"{_cell(f.implied)} | {_cell(f.detail)} |" for f in _ordered(findings)]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")
