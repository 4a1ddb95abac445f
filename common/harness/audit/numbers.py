"""Checks of the claims against each other: transcription, granularity, one result in several places,
cross-entropy against accuracy, training against test figures, and printed CIs and spreads."""
from __future__ import annotations

import math

import numpy as np

from common.harness.audit.base import (
    IMPLAUSIBLE,
    IMPOSSIBLE,
    Finding,
    agree,
    as_printed,
    claim_half_unit,
    claim_kind,
    close,
    half_unit,
    pct,
    printed_values,
    sources_of,
)
from common.toolkit.data.protocols import ci_from_mean_std


def transcription(claim):
    """The transcription itself: claims.yaml's number must be one the printed quote holds.
    Listed only when it is not; a quote with no number in it is not checked."""
    if claim_kind(claim) == "range" or not isinstance(claim["reported"], (int, float)):
        return []
    candidates = [value for value, _ in printed_values(claim["printed"], claim.get("unit", "fraction"))]
    reported = claim["reported"]
    if not candidates or any(close(c, reported, half_unit(reported)) for c in candidates):
        return []
    shown = ", ".join(f"{c:.6g}" for c in candidates)
    return [Finding("transcription", claim["id"], claim["source"], False, str(claim["printed"]), f"{reported}",
                    f"claims.yaml's value is none of the printed numbers ({shown})")]


def granularity(item, source, value, runs, test_items, h=None):
    """One run's accuracy on M items is k/M; a mean over N runs is K/(N*M) for a whole K.
    `test_items` may be a range [lo, hi] where the paper pins M only roughly."""
    sizes = range(test_items[0], test_items[1] + 1) if isinstance(test_items, list) else [test_items]
    h = half_unit(value) if h is None else h
    nearest = []
    for m in sizes:
        grid = runs * m
        k = round(value * grid)
        best = min((k - 1, k, k + 1), key=lambda kk: abs(kk / grid - value))
        if close(best / grid, value, h):
            return [Finding("granularity", item, source, True, _what_over(value, runs, test_items),
                            f"{best}/{grid} = {best / grid:.6f}")]
        below, above = math.floor(value * grid), math.ceil(value * grid)
        nearest.append(f"M={m}: {below}/{grid} = {pct(below / grid)}, {above}/{grid} = {pct(above / grid)}")
    return [Finding("granularity", item, source, False, _what_over(value, runs, test_items),
                    "not a multiple of 1/(N*M) within rounding; nearest: " + "; ".join(nearest),
                    f"rounding allows +-{h:.1g}", IMPOSSIBLE)]


def _what_over(value, runs, test_items):
    m = f"{test_items[0]}-{test_items[1]}" if isinstance(test_items, list) else f"{test_items}"
    return f"{pct(value)} ({'one run' if runs == 1 else f'mean of {runs} runs'} on {m} items)"


def _clusters(members):
    """Members grouped by agreement (sorted by value; a member joins a group it agrees with)."""
    groups = []
    for claim in sorted(members, key=lambda c: c["reported"]):
        if groups and agree(groups[-1][-1], claim):
            groups[-1].append(claim)
        else:
            groups.append([claim])
    return groups


def same_quantity_checks(claims):
    """Claims naming one result (`quantity`) must agree. One finding per quantity: the values
    stated and where; a value that equals another quantity's (of the same metric) is named."""
    quantities = {}
    for claim in claims:
        if claim.get("quantity") and claim_kind(claim) == "point":
            quantities.setdefault(claim["quantity"], []).append(claim)
    out = []
    for quantity, members in quantities.items():
        if len(members) < 2:
            continue
        groups = _clusters(members)
        stated = "; ".join(", ".join(c["source"] for c in g) + f": {as_printed(g[0])}" for g in groups)
        if len(groups) == 1:
            out.append(Finding("one result, stated in several places", quantity, sources_of(members), True, stated,
                               f"one value ({len(members)} places agree within rounding)"))
            continue
        notes = []
        for g in groups:
            for other, other_members in quantities.items():
                same = [c for c in other_members if c["metric"] == g[0]["metric"] and agree(c, g[0])]
                if other != quantity and same:
                    notes.append(f"{', '.join(c['source'] for c in g)}: {as_printed(g[0])} equals {other} as stated "
                                 f"in {', '.join(c['source'] for c in same)}")
        out.append(Finding("one result, stated in several places", quantity, sources_of(members), False, stated,
                           f"{len(groups)} different values", "; ".join(notes)))
    return out


ACCURACY_METRICS = ("accuracy", "train_accuracy", "val_accuracy")


def _run_key(claim):
    return claim["dataset"], claim.get("measures"), claim.get("experiment")


def loss_vs_accuracy(claims):
    """A cross-entropy loss and an accuracy measured on the same data by the same run: every
    misclassified item has p(true class) <= 1/2, so loss >= (1 - accuracy) * ln 2 (an added
    weight penalty only makes the loss larger; Keras' running epoch means keep the bound).
    A claim with unit `loss` is read as cross-entropy, the loss of every paper here."""
    accuracies = {}
    for claim in claims:
        if claim["metric"] in ACCURACY_METRICS and claim_kind(claim) == "point":
            accuracies.setdefault(_run_key(claim), []).append(claim)
    out = []
    for loss in claims:
        if loss.get("unit") != "loss" or claim_kind(loss) != "point":
            continue
        for acc in accuracies.get(_run_key(loss), []):
            bound = (1 - acc["reported"] - claim_half_unit(acc)) * math.log(2)
            out.append(Finding("cross-entropy >= (1 - accuracy) ln 2", loss["id"], sources_of([loss, acc]),
                               loss["reported"] + claim_half_unit(loss) >= bound,
                               f"{loss['metric']} {as_printed(loss)} with {acc['metric']} {as_printed(acc)}",
                               f"a cross-entropy of at least {bound:.4f}", severity=IMPOSSIBLE))
    return out


def training_equals_test(claims):
    """A training accuracy identical (to its printed digits) to a test accuracy on the same
    dataset is improbable: one of the two labels is likely wrong. Listed only when it happens."""
    out = []
    tests = [c for c in claims if c.get("measures") == "test" and c["metric"] == "accuracy" and claim_kind(c) == "point"
             and not str(c.get("why_not_checkable", "")).startswith("other method")]
    for train in claims:
        if train.get("measures") != "training" or train["metric"] not in ACCURACY_METRICS or claim_kind(train) != "point":
            continue
        same = [t for t in tests if t["dataset"] == train["dataset"] and agree(t, train)]
        if same:
            out.append(Finding("a training figure equals a test figure", train["id"], train["source"], False,
                               f"{train['dataset']} training accuracy {as_printed(train)}",
                               "the test accuracy of " + ", ".join(dict.fromkeys(f"{t['source']} ({as_printed(t)})"
                                                                                 for t in same)),
                               "the same digits for training and held-out data: one of the labels is likely wrong",
                               IMPLAUSIBLE))
    return out


def summary_checks(s, pinned=frozenset()):
    """The CI against mean, std and n; the mean's granularity (unless a claim already checked
    the same number) and the std's bounds where the test-set size is known."""
    out = []
    if all(k in s for k in ("mean", "std", "n", "ci95")):
        lo, hi = ci_from_mean_std(s["mean"], s["std"], s["n"])
        tol = 0.006 * max(1, abs(s["mean"]))
        z_lo, z_hi = s["mean"] - 1.96 * s["std"] / np.sqrt(s["n"]), s["mean"] + 1.96 * s["std"] / np.sqrt(s["n"])
        out.append(Finding("CI from mean, std, n", s["id"], s["source"],
                           close(lo, s["ci95"][0], tol) and close(hi, s["ci95"][1], tol),
                           f"[{s['ci95'][0]}, {s['ci95'][1]}]",
                           f"[{lo:.4f}, {hi:.4f}] (t, n={s['n']}); with z=1.96: [{z_lo:.4f}, {z_hi:.4f}]"))
        if not s["ci95"][0] <= s["mean"] <= s["ci95"][1]:
            out.append(Finding("mean inside CI", s["id"], s["source"], False, f"mean {s['mean']}",
                               f"outside its own CI [{s['ci95'][0]}, {s['ci95'][1]}]"))
    runs = s.get("runs", s.get("n"))
    if s.get("test_items") and runs and "mean" in s:
        if (s["source"], s["mean"], runs, str(s["test_items"])) not in pinned:
            out += granularity(s["id"], s["source"], s["mean"], runs, s["test_items"])
        if "std" in s and runs > 1:
            out += _std_bounds(s, runs)
    return out


def _std_bounds(s, runs):
    """The std of N accuracies k_i/M with the printed mean: at least that of the k_i as equal as
    their total allows (r runs one item above the rest), at most sqrt(mean (1 - mean)) (values in
    [0, 1]). Population std (ddof 0) for the floor, sample std for the ceiling: the lenient ends."""
    sizes = range(s["test_items"][0], s["test_items"][1] + 1) if isinstance(s["test_items"], list) else [s["test_items"]]
    mean, std, h = s["mean"], s["std"], half_unit(s["mean"])
    floors = []
    for m in sizes:
        grid = runs * m
        totals = range(math.floor((mean - h) * grid), math.ceil((mean + h) * grid) + 1)
        floors.append(min(math.sqrt((k % runs) * (runs - k % runs)) / (runs * m) for k in totals))
    floor = min(floors)
    ceiling = math.sqrt(mean * (1 - mean) * runs / (runs - 1))
    ok = floor - half_unit(std) <= std <= ceiling + half_unit(std)
    return [Finding("std possible for N runs on M items", s["id"], s["source"], ok, f"std {pct(std, 2)} over {runs} runs",
                    f"between {pct(floor, 2)} and {pct(ceiling, 2)}",
                    "the floor: whole numbers of correct items per run, spread as evenly as the mean allows",
                    IMPOSSIBLE)]
