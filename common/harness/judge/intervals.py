"""95% intervals that come from the sample: test items for one run, runs and test items for many.

One run on M test items: a rate (accuracy, a class's recall or precision) gets the
Wilson interval of k successes in its n trials (M for accuracy, the class's support
for recall, the items predicted as the class for precision); any other metric computed
from the test predictions (F1, MCC, ROC AUC, ...) gets a bootstrap over test items, and
an extra metric a fold gives per test item (a baseline's accuracy, a gain over it) the
standard error of those values.
R runs: the spread over runs (t-interval of their mean) and the test-item sampling
(the standard error of the metric over the distinct test items, each counted once)
add in quadrature:

    half width = sqrt((t_{R-1} * s / sqrt(R))^2 + (1.96 * se_test)^2)

A metric with no per-item data (a training loss from the epoch log) has an interval
only when it comes from several runs. Intervals are clipped to the metric's range.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

Z95 = 1.959964


def wilson(successes, trials):
    """The Wilson score interval and the standard error of a proportion."""
    if trials <= 0:
        return None
    p = successes / trials
    denom = 1 + Z95**2 / trials
    centre = (p + Z95**2 / (2 * trials)) / denom
    half = Z95 * np.sqrt(p * (1 - p) / trials + Z95**2 / (4 * trials**2)) / denom
    return {"ci95": [float(max(0.0, centre - half)), float(min(1.0, centre + half))],
            "se": float(np.sqrt(p * (1 - p) / trials))}


def combine(values, test_se=None, value_range=(-np.inf, np.inf), single_ci=None, test_se_from="bootstrap"):
    """{"mean", "std", "ci95", "n", "se_test", "method"} of per-run values and the test-sampling
    standard error of their mean (None when there is no per-item data). `single_ci` is a single
    run's own interval where one exists in closed form (Wilson's for a proportion); `test_se_from` names how
    test_se was found (a bootstrap, or the values per test item)."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(values)
    if n == 0:
        return {"mean": None, "std": None, "ci95": [None, None], "n": 0, "se_test": None, "method": "none"}
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if n > 1 else 0.0
    se = None if test_se is None else float(test_se)
    if n == 1 and single_ci is not None:
        lo, hi, method = *single_ci, "test items (Wilson)"
    elif n == 1 and se is None:
        return {"mean": mean, "std": 0.0, "ci95": [None, None], "n": 1, "se_test": None,
                "method": "single run without per-item data: no interval"}
    else:
        runs_half = stats.t.ppf(0.975, n - 1) * std / np.sqrt(n) if n > 1 else 0.0
        half = float(np.hypot(runs_half, Z95 * se if se is not None else 0.0))
        lo, hi = mean - half, mean + half
        method = f"test items ({test_se_from})" if n == 1 else "runs" if se is None else "runs + test items"
    lo, hi = np.clip([lo, hi], *value_range)
    return {"mean": mean, "std": std, "ci95": [float(lo), float(hi)], "n": n, "se_test": se, "method": method}
