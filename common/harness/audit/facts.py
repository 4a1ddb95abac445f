"""The text's descriptions of its data and its networks, against each other and against the printed tables.

Each entry of claims.yaml's `facts` is one statement of the text, kept with its quote and place: `about`
names what it describes (`<dataset or model>.<quantity>`), `value` is a count, a share ("41%"), a
[low, high] range (`unit: range`), a list (class names, layer widths) or a word (a loss); `approx` marks
"roughly", "around"; `share_of` / `part_of` name the whole a share or a count belongs to; `partition`
names the facts that split one whole together; `model` names the printed model table it describes.

- one fact, one value: facts about the same thing agree (numbers within rounding, "roughly N" within one
  unit of N's last digit, lists as sets); a class list's length counts as a class count;
- dataset arithmetic: a share of N people or items is a multiple of 1/N within rounding; a share and a
  count stated for the same part agree; the shares of a partition add up to 1 and its counts to the
  whole; a part is no larger than its whole;
- the architecture text against the printed model table: output units, the width into the first
  recurrent layer, the recurrent units, the sequence length, the number of layers, of each type.
"""
from __future__ import annotations

from common.harness.audit.base import IMPOSSIBLE, Finding, half_unit, pct

RECURRENT = ("LSTM", "GRU", "SimpleRNN", "Bidirectional")


def value_of(fact):
    """A fact's value and its tolerance: a share '41%' -> (0.41, 0.005); 'roughly 100' -> (100, 100)."""
    v = fact["value"]
    if isinstance(v, str) and v.endswith("%"):
        number = v[:-1].strip()
        return float(number) / 100, 0.5 * 10.0 ** -len(number.partition(".")[2]) / 100
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v, _last_digit(v) if fact.get("approx") else half_unit(v) if isinstance(v, float) else 0
    return v, 0


def _last_digit(v):
    """One unit of a round number's last significant digit: 100 -> 100, 34000 -> 1000, 0.05 -> 0.01."""
    if float(v).is_integer() and v:
        v, unit = int(v), 1
        while v % 10 == 0:
            v, unit = v // 10, unit * 10
        return unit
    return 2 * half_unit(v)


def _same(a, b):
    (va, ta), (vb, tb) = value_of(a), value_of(b)
    if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
        return abs(va - vb) <= ta + tb + 1e-12
    if isinstance(va, list) and isinstance(vb, list) and a.get("unit") != "range" and b.get("unit") != "range":
        return sorted(map(_norm, va)) == sorted(map(_norm, vb))
    return _norm(va) == _norm(vb)


def _norm(x):
    return str(x).strip().lower()


def _shown(fact):
    return f"\"{fact['printed']}\" ({fact['source']})"


# ---- one fact, one value ------------------------------------------------------------------------

def one_value_checks(claims):
    groups = {}
    for fact in claims.get("facts", []):  # a share and a count of one part are compared by arithmetic_checks
        groups.setdefault(fact["about"] + (" (share)" if fact.get("share_of") else ""), []).append(fact)
        if fact["about"].endswith(".classes") and isinstance(fact["value"], list):
            count = {**fact, "value": len(fact["value"]), "about": fact["about"][:-len("classes")] + "class_count"}
            groups.setdefault(count["about"], []).append(count)
    out = []
    for about, facts in groups.items():
        if len(facts) < 2:
            continue
        values = []
        for f in facts:
            if not any(_same(f, g[0]) for g in values):
                values.append([f])
            else:
                next(g for g in values if _same(f, g[0])).append(f)
        said = "; ".join(f"{_value_text(g[0])} in " + ", ".join(_shown(f) for f in g) for g in values)
        out.append(Finding("one fact, one value", about, " / ".join(dict.fromkeys(f["source"] for f in facts)),
                           len(values) == 1, said,
                           "one value" if len(values) == 1 else f"{len(values)} different values for {about}",
                           family="one fact, one value"))
    return out


def _value_text(fact):
    v = fact["value"]
    if fact.get("unit") == "range":
        return f"{v[0]}-{v[1]}"
    return ("roughly " if fact.get("approx") else "") + (", ".join(map(str, v)) if isinstance(v, list) else str(v))


# ---- dataset arithmetic --------------------------------------------------------------------------

def arithmetic_checks(claims):
    facts = claims.get("facts", [])
    wholes = {}
    for f in facts:
        if isinstance(f["value"], (int, float)) and not f.get("approx"):
            wholes.setdefault(f["about"], f)
    out = []
    for key, group in _grouped(facts, "share_of").items():
        whole = wholes.get(key[0])
        if whole:
            out += _shares_of_n(key, group, whole)
        if key[1] and len(group) > 1:
            out += _shares_add_up(key, group)
    for key, group in _grouped(facts, "part_of").items():
        whole = wholes.get(key[0])
        if not whole:
            continue
        if key[1] and len(group) > 1:
            out += _parts_add_up(key, group, whole)
        out += _shares_vs_counts(key, group, whole, facts, wholes)
        bigger = [f for f in group if value_of(f)[0] - value_of(f)[1] > whole["value"]]
        if bigger:
            out.append(Finding("a part within its whole", key[0], whole["source"], False,
                               "; ".join(_shown(f) for f in bigger), f"more than the whole, {_shown(whole)}",
                               family="dataset arithmetic"))
    return out


def _grouped(facts, link):
    groups = {}
    for f in facts:
        if f.get(link):
            groups.setdefault((f[link], f.get("partition")), []).append(f)
    return groups


def _shares_of_n(key, group, whole):
    """Each share of N people or items is k/N: within its rounding of a whole number of them."""
    n = whole["value"]
    off = []
    for f in group:
        s, h = value_of(f)
        if abs(s * n - round(s * n)) > h * n + 1e-9:
            off.append(f"{f['value']} of {n} is {s * n:g}")
    fits = _smallest_n(group)
    return [Finding("a share of N is k/N", key[0] + (f" ({key[1]})" if key[1] else ""), whole["source"], not off,
                    "; ".join(_shown(f) for f in group) + f" of {n} ({_shown(whole)})",
                    "; ".join(off) + f": with {n} a share moves in steps of {pct(1 / n, 2)}" if off
                    else f"whole numbers of {n}",
                    f"the smallest group these shares fit is {fits}" if off and fits else "", IMPOSSIBLE,
                    family="dataset arithmetic")]


def _smallest_n(group, limit=2000):
    for n in range(1, limit):
        if all(abs(value_of(f)[0] * n - round(value_of(f)[0] * n)) <= value_of(f)[1] * n + 1e-9 for f in group):
            return n
    return None


def _shares_add_up(key, group):
    total = sum(value_of(f)[0] for f in group)
    tol = sum(value_of(f)[1] for f in group)
    return [Finding("shares add up to 1", f"{key[0]} ({key[1]})", group[0]["source"], abs(total - 1) <= tol + 1e-9,
                    "; ".join(_shown(f) for f in group), f"they add up to {pct(total, 2)}", family="dataset arithmetic")]


def _parts_add_up(key, group, whole):
    total = sum(value_of(f)[0] for f in group)
    tol = sum(value_of(f)[1] for f in group)
    return [Finding("parts add up to the whole", f"{key[0]} ({key[1]})", whole["source"],
                    abs(total - whole["value"]) <= tol + 1e-9, "; ".join(_shown(f) for f in group),
                    f"they add up to {total:g}; the whole is {whole['value']} ({_shown(whole)})",
                    family="dataset arithmetic")]


def _shares_vs_counts(key, group, whole, facts, wholes):
    """A share and a count stated for the same part (the same `about`): count / N is the share."""
    off, pairs = [], 0
    for part in group:
        for share in (f for f in facts if f.get("share_of") and f["about"] == part["about"]):
            pairs += 1
            s, h = value_of(share)
            got = part["value"] / whole["value"]
            if abs(got - s) > h + 1e-9:
                off.append(f"{part['value']} of {whole['value']} is {pct(got, 2)}, the text's {share['value']} "
                           f"({_shown(share)})")
    if not pairs:
        return []
    return [Finding("split shares vs split counts", key[0] + (f" ({key[1]})" if key[1] else ""), group[0]["source"],
                    not off, "; ".join(_shown(f) for f in group), "; ".join(off) or f"{pairs} share(s) agree",
                    family="dataset arithmetic")]


# ---- the architecture text against the printed model table ---------------------------------------

def architecture_checks(claims):
    tables = {m["id"]: m for m in claims.get("model_summaries", [])}
    out = []
    for fact in claims.get("facts", []):
        if not fact.get("model"):
            continue
        attribute = fact["about"].split(".", 1)[1]
        printed = derive(tables[fact["model"]], attribute)
        if printed is None:
            continue
        value, how = printed
        out.append(Finding("architecture text vs the model table", fact["about"], fact["source"],
                           _same(fact, {"value": value}), _shown(fact),
                           f"{fact['model']} ({tables[fact['model']]['source']}) shows {value}: {how}",
                           family="architecture vs model table"))
    return out


def shape(layer):
    """A layer's printed output shape; a layer table that prints only filter counts gives [filters]."""
    return layer.get("output_shape") or [layer.get("filters")]


def derive(table, attribute):
    """What a printed layer table says of one attribute, and how it was read; None if it does not say."""
    layers = table["layers"]
    recurrent = [i for i, layer in enumerate(layers) if layer.get("type") in RECURRENT]
    if attribute == "output_units":
        return shape(layers[-1])[-1], f"the last layer {layers[-1]['name']} has {shape(layers[-1])[-1]} outputs"
    if attribute == "layers":
        return len(layers), f"{len(layers)} layers printed"
    if attribute == "timesteps" and len(shape(layers[0])) == 3:
        return shape(layers[0])[1], f"{layers[0]['name']} outputs {shape(layers[0])}"
    if attribute == "recurrent_input_units" and recurrent and recurrent[0] > 0:
        before = layers[recurrent[0] - 1]
        return shape(before)[-1], f"{before['name']} feeds {layers[recurrent[0]]['name']} {shape(before)[-1]} values"
    if attribute == "recurrent_units" and recurrent:
        units = [shape(layers[i])[-1] // (2 if layers[i]["type"] == "Bidirectional" else 1) for i in recurrent]
        return units, "units per direction of " + ", ".join(layers[i]["name"] for i in recurrent)
    if attribute.endswith("_layers"):
        kind = attribute[:-len("_layers")]
        n = sum(layer.get("type") == kind for layer in layers)
        return n, f"{n} rows of type {kind} among {len(layers)}"
    return None
