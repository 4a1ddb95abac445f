"""How data is split, and how results over folds or repeats are summarised.

Every protocol yields `Fold`s of train / val / test datasets. Validation data is
always carved from the training part: model selection never sees the test part.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from common.toolkit.experiment import Fold

DEFAULT_K = {"stratified_kfold": 10, "subject_kfold": 10, "holdout_then_kfold": 5}  # k where a protocol omits it
KINDS = ("official", "random_split", *DEFAULT_K)  # every protocol make_folds knows


class ProtocolError(ValueError):
    """A protocol that cannot be made: an unknown kind, a missing key, or one the dataset cannot serve (official
    splits it lacks, subjects it does not name). A user's choice of protocol, so the CLI says it in one line."""


def make_folds(ds, protocol: dict, seed=0):
    """The folds `protocol` describes, e.g.
    {"kind": "official", "train": "Training", "val": "PublicTest", "test": "PrivateTest", "repeats": 15}
    {"kind": "random_split", "fractions": [0.8, 0.1, 0.1], "repeats": 5}   (image-level, as some papers do)
    {"kind": "stratified_kfold", "k": 10, "val_fraction": 0.1}
    {"kind": "subject_kfold", "k": 10, "val_fraction": 0.1}   (no subject in two folds)
    {"kind": "holdout_then_kfold", "test_fraction": 0.2, "k": 5} (a held-out test set, k-fold on the rest)
    A k-fold protocol's "folds_to_run": n keeps only the first n of its k folds (per repeat): a
    quicker check at the paper's k, which the run record counts as cut-down (n/k folds).
    """
    check_protocol(protocol)
    kind = protocol["kind"]
    if kind == "official" and ds.splits is None:
        raise ProtocolError(f"{ds.provenance.path}: {ds.name} has no official split; choose a protocol that makes "
                            "one (random_split, stratified_kfold)")
    if kind == "subject_kfold" and ds.subjects is None:
        raise ProtocolError(f"{ds.provenance.path}: {ds.name} names no subjects, so subject_kfold cannot keep each "
                            "person in one fold; choose stratified_kfold")
    repeats = protocol.get("repeats", 1)
    val_fraction = protocol.get("val_fraction", 0.1)
    k, folds_to_run = protocol.get("k", DEFAULT_K.get(kind)), checked_folds_to_run(protocol)
    folds = []
    for r in range(repeats):
        rseed = seed + r
        suffix = f"-repeat{r}" if repeats > 1 else ""
        if kind == "official":
            parts = [np.flatnonzero(ds.splits == protocol[p]) for p in ("train", "val", "test")]
            empty = [protocol[p] for p, part in zip(("train", "val", "test"), parts) if len(part) == 0]
            if empty:
                raise ProtocolError(f"{ds.provenance.path}: no items in split(s) {empty}; this copy of {ds.name} "
                                    f"has {sorted(set(ds.splits.tolist()))}. The official protocol needs all three.")
            folds.append(_fold(ds, "official" if repeats == 1 else f"repeat{r}", r, rseed, *parts))
        elif kind == "random_split":
            train, val, test = random_split(ds.labels, protocol.get("fractions", (0.8, 0.1, 0.1)), rseed)
            folds.append(_fold(ds, f"repeat{r}", r, rseed, train, val, test))
        elif kind in ("stratified_kfold", "subject_kfold"):
            groups = ds.subjects if kind == "subject_kfold" else None
            for i, (train, test) in enumerate(kfold(ds.labels, k, rseed, groups)[:folds_to_run]):
                train, val = _carve_validation(ds, train, val_fraction, rseed, groups)
                folds.append(_fold(ds, f"fold{i}{suffix}", len(folds), rseed, train, val, test))
        elif kind == "holdout_then_kfold":
            rest, test = train_test_split(np.arange(len(ds)), test_size=protocol.get("test_fraction", 0.2),
                                          stratify=ds.labels, random_state=rseed)
            for i, (tr, va) in enumerate(kfold(ds.labels[rest], k, rseed)[:folds_to_run]):
                folds.append(_fold(ds, f"fold{i}{suffix}", len(folds), rseed, rest[tr], rest[va], test))
    return folds


def check_protocol(protocol):
    """ProtocolError naming what a protocol gets wrong (its kind, the split names an official protocol needs,
    its folds_to_run), before any data is read."""
    if protocol["kind"] not in KINDS:
        raise ProtocolError(f"unknown protocol kind {protocol['kind']!r}; the kinds are {', '.join(KINDS)}")
    missing = [p for p in ("train", "val", "test") if protocol["kind"] == "official" and p not in protocol]
    if missing:
        raise ProtocolError(f"the official protocol needs the names of its {', '.join(missing)} split(s)")
    fractions = protocol.get("fractions")
    if fractions is not None and (len(fractions) != 3 or min(fractions) <= 0 or not math.isclose(sum(fractions), 1)):
        raise ProtocolError(f"fractions must be three shares above 0 (training, validation, test) adding up to 1, "
                            f"got {fractions}")
    checked_folds_to_run(protocol)


def checked_folds_to_run(protocol):
    """The protocol's folds_to_run (None: every fold); ProtocolError unless 1 <= n <= k of a k-fold protocol."""
    n = protocol.get("folds_to_run")
    if n is None:
        return None
    if protocol["kind"] not in DEFAULT_K:
        raise ProtocolError(f"folds_to_run={n}: only a k-fold protocol has folds to choose from, not {protocol['kind']!r}")
    k = protocol.get("k", DEFAULT_K[protocol["kind"]])
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= k:
        raise ProtocolError(f"folds_to_run must be an integer from 1 to k={k}, got {n!r}")
    return n


def _fold(ds, name, index, seed, train, val, test):
    return Fold(name, index, seed, ds.subset(train, f"{ds.name}:train"), ds.subset(val, f"{ds.name}:val"),
                ds.subset(test, f"{ds.name}:test"), test_index=np.asarray(test))


def random_split(labels, fractions, seed):
    """Stratified train/val/test indices by item (images of one subject may land on both sides)."""
    index = np.arange(len(labels))
    train, rest = train_test_split(index, train_size=fractions[0], stratify=labels, random_state=seed)
    val_share = fractions[1] / (fractions[1] + fractions[2])
    val, test = train_test_split(rest, train_size=val_share, stratify=labels[rest], random_state=seed)
    return train, val, test


def kfold(labels, k, seed, groups=None):
    """(train, test) index pairs: stratified by label, and grouped (no group on both sides) if groups given."""
    if groups is None:
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(labels)), labels))
    splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def _carve_validation(ds, train, fraction, seed, groups):
    """Split a validation part off a training index set, by subject when groups are given."""
    if groups is None:
        tr, va = train_test_split(train, test_size=fraction, stratify=ds.labels[train], random_state=seed)
        return tr, va
    subjects = np.unique(groups[train])
    rng = np.random.default_rng(seed)
    n_val = max(1, round(fraction * len(subjects)))
    val_subjects = rng.choice(subjects, n_val, replace=False)
    is_val = np.isin(groups[train], val_subjects)
    return train[~is_val], train[is_val]


def ci_from_mean_std(mean, std, n, confidence=0.95):
    """The confidence interval of a mean from its sample std and n (t-distribution)."""
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / np.sqrt(n)
    return float(mean - half), float(mean + half)


def stratified_subsample(ds, limit, seed=0):
    """At most `limit` items, drawn per (official split, class) so that both proportions are kept: a
    CPU-affordable copy of a large dataset on which every protocol still has its parts."""
    if not limit or len(ds) <= limit:
        return ds
    rng = np.random.default_rng(seed)
    strata = ds.labels.astype(str) if ds.splits is None else np.char.add(ds.splits.astype(str), ds.labels.astype(str))
    share = limit / len(ds)
    keep = np.concatenate([rng.choice(np.flatnonzero(strata == s), max(1, int(round(share * (strata == s).sum()))),
                                      replace=False) for s in np.unique(strata)])
    return ds.subset(np.sort(keep))
