"""What every audit check shares: a finding, and how a transcribed number's rounding is read."""
from __future__ import annotations

import dataclasses
import math
import re
from decimal import Decimal

IMPOSSIBLE = "impossible"
INCONSISTENT = "inconsistent"
IMPLAUSIBLE = "implausible"
SEVERITIES = (IMPOSSIBLE, INCONSISTENT, IMPLAUSIBLE)


@dataclasses.dataclass
class Finding:
    """One check of one item. Plain Python values only (a numpy bool would not survive json.dumps)."""
    check: str
    item: str  # claim / table id
    source: str
    consistent: bool
    paper: str  # what the paper printed
    implied: str  # what follows from its other numbers
    detail: str = ""
    severity: str = INCONSISTENT  # what a failure means: impossible, inconsistent or implausible ("" for a pass)
    family: str = ""  # the family of checks that found it (set by common.harness.audit.audit)

    def __post_init__(self):
        self.consistent = bool(self.consistent)
        self.check, self.item, self.source = str(self.check), str(self.item), str(self.source)
        self.paper, self.implied, self.detail = str(self.paper), str(self.implied), str(self.detail)
        if self.consistent:
            self.severity = ""

    def sentence(self):
        """The finding as a reviewer reads it: where, what the paper prints, what its own numbers imply."""
        return f"{self.source}: {self.paper}; {self.implied}" + (f" ({self.detail})" if self.detail else "") + "."


def half_unit(value) -> float:
    """Half a unit in the last decimal of a transcribed number: its rounding error."""
    exponent = Decimal(repr(value) if isinstance(value, float) else str(value)).normalize().as_tuple().exponent
    return 0.5 * 10.0 ** min(exponent, 0)


def close(a, b, tol):
    return abs(float(a) - float(b)) <= tol + 1e-12


def claim_kind(claim):
    return claim.get("kind", "point")


def pct(value, digits=3):
    return f"{100 * value:.{digits}f}%"


NUMBER = r"\d[\d,]*(?:\.\d+)?"


NUMBER_WORDS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                             "nine", "ten", "eleven", "twelve"])}


def printed_values(printed: str, unit: str):
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


def claim_half_unit(claim):
    """A claim's rounding: that of the printed number it was transcribed from ("98.0%" -> 0.0005),
    else half a unit in the last decimal of the transcribed value."""
    reported = claim["reported"]
    for value, half in printed_values(claim["printed"], claim.get("unit", "fraction")):
        if close(value, reported, half_unit(reported)):
            return half or half_unit(reported)  # a ratio k/n is exact: the transcription's own rounding
    return half_unit(reported)


def agree(a, b) -> bool:
    return abs(a["reported"] - b["reported"]) <= claim_half_unit(a) + claim_half_unit(b) + 1e-12


def as_printed(claim):
    """A claim's number as the paper's unit reads: fractions as percentages."""
    v = claim["reported"]
    return f"{100 * v:.10g}%" if claim.get("unit", "fraction") == "fraction" else f"{v:,}" if isinstance(v, int) else f"{v}"


def sources_of(members):
    return " / ".join(dict.fromkeys(c["source"] for c in members))


def digits(h):
    return max(0, round(-math.log10(2 * h)))
