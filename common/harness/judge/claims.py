"""A paper's claims file: every number it reports, as numbers, parsed and checked in one place.

Each claim holds one number in one unit (fractions for rates; counts, losses and
parameters in their own unit), a kind (point, lower or upper bound, range), what it
measures (test, validation or training data, or the model itself) and the quote it
was read from, kept as provenance only. `load_claims` rejects a file that breaks the
schema (docs/CONTRACT.md), naming the file and the claim, so that a typo or a
percentage transcribed as 85 instead of 0.85 fails loudly instead of scoring.
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml

PAPERS_DIR = Path(__file__).resolve().parents[3] / "papers"
SECTIONS = ("claims", "summaries", "confusion_matrices", "per_class_tables", "model_summaries", "skipped", "facts",
            "statements")
REQUIRED = ("id", "source", "dataset", "metric", "reported", "printed", "unit")
OPTIONAL = ("protocol", "measures", "kind", "experiment", "why_not_checkable", "by_construction", "other_protocol",
            "quantity", "note", "runs", "test_items", "headline", "of")
KINDS = ("point", "lower_bound", "upper_bound", "range")
MEASURES = ("test", "validation", "training", "model")
# The values a unit allows: a fraction outside [0, 1] is a percentage transcribed as a number, and so on.
UNIT_RANGES = {"fraction": (0.0, 1.0), "signed_fraction": (-1.0, 1.0), "count": (0, math.inf),
               "parameters": (0, math.inf), "loss": (0.0, math.inf), "seconds": (0.0, math.inf),
               "fps": (0.0, math.inf), "images_per_s": (0.0, math.inf)}
INTEGER_UNITS = ("count", "parameters")
RATE_UNITS = ("fraction", "signed_fraction")  # shown as percentages, decided within +-5 points
# The text's descriptions of its data and networks, and its sentences about the tables (common/harness/audit/facts.py,
# text.py): audited, never judged against a run.
FACT_FIELDS = ("unit", "approx", "share_of", "part_of", "partition", "model", "note")
STATEMENT_FIELDS = ("difference", "difference_kind", "scale", "note")


# libyaml's parser where PyYAML was built with it: the same safe loading, ten times faster (every run re-reads
# every paper's claims for the scoreboard).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ClaimsError(ValueError):
    pass


def load_claims(path):
    """The claims file as a dict of its sections, every claim validated and its defaults filled in."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        raise ClaimsError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ClaimsError(f"{path}: needs a top-level mapping with a 'claims' list")
    for section in SECTIONS:
        data[section] = data.get(section) or []
    ids = set()
    for claim in data["claims"]:
        _check_claim(path, claim)
        if claim["id"] in ids:
            raise ClaimsError(f"{path}: claim {claim['id']} appears twice")
        ids.add(claim["id"])
    for fact in data["facts"]:
        _check_entry(path, "fact", fact, ("id", "source", "printed", "about", "value"), FACT_FIELDS)
    for statement in data["statements"]:
        _check_entry(path, "statement", statement, ("id", "source", "printed", "higher"), STATEMENT_FIELDS)
        unknown = [i for pair in statement["higher"] for i in pair if i not in ids]
        if unknown:
            raise ClaimsError(f"{path}: statement {statement['id']} compares unknown claim(s) {unknown}")
    return data


def _check_entry(path, what, entry, required, known):
    """A claim, fact or statement has its required fields and no unknown ones."""
    where = f"{path}: {what} {entry.get('id', '?')}"
    missing = [f for f in required if f not in entry]
    if missing:
        raise ClaimsError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(set(entry) - set(required) - set(known))
    if unknown:
        raise ClaimsError(f"{where} has unknown field(s) {unknown}; known: {', '.join(required + known)}")


def _check_claim(path, claim):
    where = f"{path}: claim {claim.get('id', '?')}"
    _check_entry(path, "claim", claim, REQUIRED, OPTIONAL)
    claim.setdefault("kind", "point")
    claim.setdefault("measures", default_measures(claim["metric"]))
    claim.setdefault("experiment", None)
    if claim["kind"] not in KINDS:
        raise ClaimsError(f"{where}: kind {claim['kind']!r} is not one of {', '.join(KINDS)}")
    if claim["measures"] not in MEASURES:
        raise ClaimsError(f"{where}: measures {claim['measures']!r} is not one of {', '.join(MEASURES)}")
    if claim["unit"] not in UNIT_RANGES:
        raise ClaimsError(f"{where}: unit {claim['unit']!r} is not one of {', '.join(UNIT_RANGES)}")
    values = claim["reported"] if claim["kind"] == "range" else [claim["reported"]]
    if claim["kind"] == "range" and not (isinstance(values, list) and len(values) == 2 and values[0] <= values[1]):
        raise ClaimsError(f"{where}: a range needs reported: [low, high], got {claim['reported']!r}")
    low, high = UNIT_RANGES[claim["unit"]]
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ClaimsError(f"{where}: reported must be a number in unit {claim['unit']}, got {value!r} "
                              f"(the quote belongs in `printed`)")
        if not low <= value <= high:
            raise ClaimsError(f"{where}: reported {value} is outside [{low}, {high}], the range of unit "
                              f"{claim['unit']}" + (" (percentages are written as fractions)"
                                                    if claim["unit"] == "fraction" else ""))
        if claim["unit"] in INTEGER_UNITS and not float(value).is_integer():
            raise ClaimsError(f"{where}: a {claim['unit']} must be a whole number, got {value}")
    if claim["experiment"] is None and not claim.get("why_not_checkable"):
        raise ClaimsError(f"{where} has no experiment and no why_not_checkable")


def default_measures(metric):
    """What a metric is measured on, from its name (train_accuracy -> training, ...)."""
    if metric.startswith("train_"):
        return "training"
    if metric.startswith("val_"):
        return "validation"
    if metric.endswith("params"):
        return "model"
    return "test"


def claims_path(paper):
    return PAPERS_DIR / paper / "claims.yaml"


def claims_of(paper):
    """The parsed claims file of a paper, or None when it has none."""
    path = claims_path(paper)
    return load_claims(path) if path.exists() else None
