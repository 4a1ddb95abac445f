"""A paper's claims file: every number it reports, in machine-readable form.

`load_claims` validates the schema (docs/CONTRACT.md) so that a typo fails
loudly; `verdict` compares one reported number with what a run achieved.
"""
from __future__ import annotations

from pathlib import Path

import yaml

REQUIRED_CLAIM_FIELDS = ("id", "source", "dataset", "metric", "reported", "printed")
SECTIONS = ("claims", "summaries", "confusion_matrices", "per_class_tables", "model_summaries")
DEFAULT_TOLERANCE = 0.02  # for a single run, where no CI exists: 2 points of accuracy
INCONCLUSIVE_HALF_WIDTH = 0.10  # a CI of +-10 points or more contains almost any claim: it decides nothing

REPRODUCED = "reproduced"
BELOW = "not reproduced (below)"
ABOVE = "not reproduced (above)"
NOT_CHECKABLE = "not checkable"
INCONCLUSIVE = "inconclusive (95% CI wider than +-10 points)"


class ClaimsError(ValueError):
    pass


def load_claims(path):
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ClaimsError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict) or "claims" not in data:
        raise ClaimsError(f"{path}: needs a top-level mapping with a 'claims' list")
    for section in SECTIONS:
        data.setdefault(section, [])
    ids = set()
    for claim in data["claims"]:
        missing = [f for f in REQUIRED_CLAIM_FIELDS if f not in claim]
        if missing:
            raise ClaimsError(f"{path}: claim {claim.get('id', '?')} lacks {', '.join(missing)}")
        if claim["id"] in ids:
            raise ClaimsError(f"{path}: claim id {claim['id']} appears twice")
        ids.add(claim["id"])
        if claim.get("experiment") is None and not claim.get("why_not_checkable"):
            raise ClaimsError(f"{path}: claim {claim['id']} has no experiment and no why_not_checkable")
    return data


def verdict(reported, achieved, tolerance=None, unit="fraction"):
    """Reproduced when the reported value lies in the achieved 95% CI (several runs), or within
    `tolerance` of a single run; otherwise below / above (the achieved value relative to the paper).
    Inconclusive when a fraction's CI is so wide that it would contain almost any claim."""
    if achieved is None or achieved.get("mean") is None or not isinstance(reported, (int, float)):
        return NOT_CHECKABLE
    mean, (lo, hi), n = achieved["mean"], achieved["ci95"], achieved.get("n", 1)
    if n <= 1 or lo == hi:
        tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
        lo, hi = mean - tol, mean + tol
    if lo <= reported <= hi:
        return INCONCLUSIVE if unit == "fraction" and (hi - lo) / 2 >= INCONCLUSIVE_HALF_WIDTH else REPRODUCED
    return BELOW if mean < reported else ABOVE


def lookup(metrics: dict, name: str):
    """A metric summary by name, e.g. 'accuracy' or 'per_class.happy.f1'."""
    return metrics.get(name)
