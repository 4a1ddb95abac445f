"""The verdict rules: one vocabulary, applied the same way to every paper's claims.

A claim is compared only with a run that follows the paper's per-run recipe (epochs,
schedule, optimizer, batch size, input, training images) on the paper's dataset and
protocol; any other run shows its number as "not comparable" with the reason. A run of
n of the protocol's N repeats (or k folds) at that recipe is a *sample*: it estimates
the same quantity with a wider interval, and is judged. A comparable run whose
predictions carry no information (one class takes nearly all predictions, accuracy at
or below the majority-class rate, a non-finite loss) is "degenerate": the recipe failed,
and none of its claims can be "reproduced". Otherwise the claim's number is set against
the run's 95% interval (`common.harness.judge.intervals`), which must also be narrow enough to decide
anything.
"""
from __future__ import annotations

import numpy as np

from common.harness.judge.claims import RATE_UNITS, claims_of

REPRODUCED = "reproduced"
BELOW = "not reproduced (below)"
ABOVE = "not reproduced (above)"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"
DEGENERATE = "degenerate run"
BY_CONSTRUCTION = "matches by construction"
NOT_CHECKABLE = "not checkable"

# One line each, printed in the scoreboard's header.
MEANINGS = {
    REPRODUCED: "the run follows the paper's recipe (all of its protocol's repeats or folds, or a sample of "
                "them) and the paper's number lies inside our 95% interval, which is narrow enough to decide (see "
                "*inconclusive*).",
    BELOW: "the paper's number lies above our whole 95% interval (our result is lower).",
    ABOVE: "the paper's number lies below our whole 95% interval (our result is higher).",
    INCONCLUSIVE: "the paper's number lies inside our 95% interval, but the interval is wider than "
                  "+-5 points (rates) or +-10% of the paper's number (other units), or there is none: "
                  "it would agree with almost any claim. So is a test metric whose interval leaves out the sampling "
                  "of the test items (a run that recorded only each fold's value of it).",
    NOT_COMPARABLE: "our run differs from the paper's per-run recipe (the reason is given: cut-down epochs, "
                    "another dataset, protocol or setting, synthetic data) or is a single run of a protocol of "
                    "several; its number is shown, not judged.",
    DEGENERATE: "the run follows the paper's recipe, but its predictions carry no information (one class takes "
                ">= 95% of them, accuracy at or below the majority-class rate, or a non-finite loss): the recipe "
                "failed here, so no claim of it is reproduced.",
    BY_CONSTRUCTION: "the suite built the model to match this number (e.g. a printed parameter count); "
                     "agreement shows the transcription, not the paper's result.",
    NOT_CHECKABLE: "no run can check it here (the reason is given: dataset not available, another "
                   "method's number, a detail the paper does not give, or no run yet).",
}

ONE_CLASS_SHARE = 0.95
FRACTION_HALF_WIDTH = 0.05  # a rate's interval wider than +-5 points decides nothing
RELATIVE_HALF_WIDTH = 0.10  # other units: +-10% of the paper's number
CUT_DOWN = ("epochs", "train_images")
SAMPLED = ("repeats", "folds trained")  # fewer is a sample of the protocol, not a change of its per-run recipe
# One line, printed in the scoreboard's header.
SAMPLE_RULE = ("A run of n of the protocol's N repeats or k folds, each at the paper's per-run recipe, is a *sample*: "
               "it is judged, on an interval that combines the spread over its n runs (t with n - 1 degrees of "
               "freedom) with the sampling of its distinct test items, so it is wider than the full protocol's. One "
               "run of a protocol of several gives no spread over runs and is not judged (*not comparable*), unless "
               "it collapsed at the per-run recipe: a failure needs no spread (*degenerate run*).")
OPEN_SETTINGS_RULE = ("Where the paper leaves a per-run setting open (batch size, learning rate, training length, k), the "
                      "suite's choice stands in its recipe, and a verdict names those choices: it holds at them.")


def degenerate_reasons(y_true, y_pred, class_names, history=None):
    """Why a fold's predictions carry no information; empty when they do."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    reasons = []
    if len(y_true) == 0:
        return ["no test items"]
    predicted = np.bincount(y_pred, minlength=len(class_names))
    top = int(predicted.argmax())
    if len(np.unique(y_true)) > 1 and predicted[top] / len(y_pred) >= ONE_CLASS_SHARE:
        reasons.append(f"{predicted[top] / len(y_pred):.0%} of the predictions are '{class_names[top]}'")
    majority = np.bincount(y_true).max() / len(y_true)
    accuracy = float((y_true == y_pred).mean())
    if accuracy <= majority:
        reasons.append(f"accuracy {accuracy:.1%} is at or below the majority-class rate {majority:.1%}")
    losses = [v for k, values in (history or {}).items() if k.endswith("loss") for v in values]
    if any(not np.isfinite(v) for v in losses):
        reasons.append("a non-finite loss in the training log")
    return reasons


def recipe_differences(recipe):
    """The ways a run departs from the recipe it is judged against, as (category, text) pairs:
    "sample" (fewer repeats or folds of the same per-run recipe), "cut-down" (fewer epochs or
    training images) or "other recipe". More repeats or folds than the recipe's is no departure."""
    out = []
    for field in recipe:
        run, target = field["run"], field["target"]
        if run == target:
            continue
        whose = "paper" if field["source"] == "paper" else \
            f"our full recipe{': ' + field['rule'] if field.get('rule') else ''}; the paper gives none"
        if field["label"] in SAMPLED and run is not None and target is not None:
            if run < target:
                out.append(("sample", f"{_show(run)} of {_show(target)} {field['label']}"))
        elif field["label"] in CUT_DOWN and _fewer(run, target):
            out.append(("cut-down", f"{_show(run)}/{_show(target)} {field['label']}"
                        + ("" if field["source"] == "paper" else f" ({whose})")))
        else:
            shown = "none" if run is None and field["label"] == "patience" else _show(run)  # trained to its cap
            out.append(("other recipe", f"{field['label']} {shown} ({whose}: {_show(target)})"))
    return out


def runs_in_sample(recipe):
    """(runs the record holds, runs the recipe's protocol holds): repeats x folds of each."""
    fields = {f["label"]: f for f in recipe}
    count = lambda side: int(np.prod([fields[k][side] or 1 for k in SAMPLED if k in fields]))
    return count("run"), count("target")


def _fewer(run, target):
    if target is None:  # the full recipe uses all of it (e.g. every training image)
        return run is not None
    return run is not None and run < target


def _show(value):
    return "all" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def judge(claim, run):
    """(verdict, reason) of one claim against one run record (None: no run yet)."""
    if claim["experiment"] is None:
        return NOT_CHECKABLE, claim["why_not_checkable"]
    if run is None:  # a claim on a dataset we lack names why; the experiment judges it once a copy is run
        return NOT_CHECKABLE, claim.get("why_not_checkable") or f"no run of experiment {claim['experiment']} yet"
    achieved = run.metrics.get(claim["metric"])
    if claim.get("by_construction"):
        if achieved and achieved["mean"] is not None and _inside(claim, achieved["mean"], achieved["mean"]):
            return BY_CONSTRUCTION, claim["by_construction"]
    if run.smoke:
        return NOT_COMPARABLE, "synthetic data (smoke run)"
    reasons = comparability_reasons(claim, run)
    if reasons:  # a failed run that is not the paper's recipe says nothing about the recipe either
        return NOT_COMPARABLE, reasons + ("; and its predictions are degenerate" if run.degenerate else "")
    chosen = open_settings(run.recipe)
    chosen = chosen and f"at our choices where the paper gives none: {chosen}"
    sample = "; ".join(text for category, text in recipe_differences(run.recipe) if category == "sample")
    sample = sample and f"a sample: {sample}"
    if run.degenerate:
        failed = "; ".join(f"{fold}: {', '.join(why)}" for fold, why in run.degenerate.items())
        return DEGENERATE, "; ".join(part for part in (failed, sample, chosen) if part)
    if achieved is None or achieved["mean"] is None:
        return NOT_CHECKABLE, f"this run recorded no {claim['metric']}"
    verdict, why = compare(claim, achieved)
    return verdict, "; ".join(part for part in (why, sample, chosen) if part)


def open_settings(recipe):
    """The per-run settings the paper leaves open, at this run's values ("batch_size 64, ..."): a verdict holds at
    these choices of ours. How many repeats or folds ran is not among them (that is the sample)."""
    open_fields = [f for f in recipe if f["source"] == "suite" and f["label"] not in SAMPLED]
    if any(f.get("rule") for f in open_fields):  # the length rule states the patience
        open_fields = [f for f in open_fields if f["label"] != "patience"]
    return ", ".join(f"{f['label']} ({f['rule']})" if f.get("rule") else f"{f['label']} {_show(f['run'])}"
                     for f in open_fields)


def comparability_reasons(claim, run):
    """Why a run cannot judge a claim (empty string when it can)."""
    parts = []
    if claim["dataset"] != run.dataset:
        parts.append(f"other dataset: {run.dataset}, the paper's is {claim['dataset']}")
    if claim.get("other_protocol"):
        parts.append(f"other protocol: {claim['other_protocol']}")
    by_category = {}
    for category, text in recipe_differences(run.recipe):
        by_category.setdefault(category, []).append(text)
    samples, (n, total) = by_category.pop("sample", []), runs_in_sample(run.recipe)
    # A sample of several runs is judged, on its wider interval; one run that collapsed at the per-run recipe is
    # the finding, since a failure needs no spread.
    if samples and n < 2 and (parts or by_category or not run.degenerate):
        parts.append(f"one run of the protocol's {total} ({', '.join(samples)}) gives no spread over runs")
    parts += [f"{category}: {', '.join(texts)}" for category, texts in by_category.items()]
    return "; ".join(parts)


def compare(claim, achieved):
    """Set the claim against the achieved interval."""
    lo, hi = achieved["ci95"]
    if lo is None:
        return INCONCLUSIVE, f"no interval ({achieved.get('method', 'single run')})"
    if runs_alone(claim, achieved):
        return INCONCLUSIVE, ("its interval is the spread over runs alone: the run recorded this metric per fold, "
                              "not per test item, so the sampling of the test items is left out")
    if not _inside(claim, lo, hi):
        return (BELOW, "") if hi < _low(claim) else (ABOVE, "")
    half = (hi - lo) / 2
    bound = FRACTION_HALF_WIDTH if claim["unit"] in RATE_UNITS else \
        RELATIVE_HALF_WIDTH * abs(_low(claim) or achieved["mean"] or 1.0)
    if half > bound:
        return INCONCLUSIVE, f"interval +-{_show_width(half, claim['unit'])} is wider than +-{_show_width(bound, claim['unit'])}"
    return REPRODUCED, ""


def runs_alone(claim, achieved):
    """Whether the interval of a test metric is the spread over runs alone, without the sampling of the test items
    (a run that recorded the metric per fold only): too narrow, above all when the folds share one test set."""
    return claim["measures"] == "test" and achieved.get("method") == "runs"


def _low(claim):
    reported = claim["reported"]
    return reported[0] if claim["kind"] == "range" else reported


def _inside(claim, lo, hi):
    """Whether [lo, hi] is consistent with the claim: contains the point, reaches the bound, meets the range."""
    reported, kind = claim["reported"], claim["kind"]
    if kind == "point":
        return lo <= reported <= hi
    if kind == "lower_bound":
        return hi >= reported
    if kind == "upper_bound":
        return lo <= reported
    return hi >= reported[0] and lo <= reported[1]


def _show_width(value, unit):
    return f"{100 * value:.1f} points" if unit in RATE_UNITS else f"{value:.3g}"


def judged_claims(record):
    """The paper's claims that this run's experiment checks, each with the achieved summary and a verdict."""
    rows = []
    for claim in (claims_of(record.paper) or {}).get("claims", []):
        if claim["experiment"] == record.experiment:
            verdict, why = judge(claim, record)
            rows.append({**claim_fields(claim), "achieved": record.metrics.get(claim["metric"]),
                         "verdict": verdict, "why": why})
    return rows


def claim_fields(claim):
    return {k: claim.get(k) for k in ("id", "source", "dataset", "metric", "measures", "kind", "reported", "unit",
                                      "printed")}
