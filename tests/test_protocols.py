import numpy as np
import pytest

from common.toolkit.data.protocols import ProtocolError, make_folds
from datasets.base import Dataset, Provenance


def toy_dataset(n=240, subjects=24, classes=4):
    rng = np.random.default_rng(1)
    return Dataset("toy", rng.integers(0, 255, (n, 8, 8), dtype=np.uint8), np.arange(n) % classes,
                   [f"c{i}" for i in range(classes)], Provenance("memory", n),
                   splits=np.array(["Training"] * (n - 60) + ["PublicTest"] * 30 + ["PrivateTest"] * 30),
                   subjects=np.array([f"S{i % subjects:03d}" for i in range(n)]))


def test_subject_kfold_never_puts_a_subject_in_two_parts():
    folds = make_folds(toy_dataset(), {"kind": "subject_kfold", "k": 6}, seed=3)
    assert len(folds) == 6
    tested = []
    for f in folds:
        train, val, test = (set(part.subjects.tolist()) for part in (f.train, f.val, f.test))
        assert not (train & test) and not (val & test) and not (train & val)
        tested += f.test.subjects.tolist()
    assert len(tested) == 240  # every item is tested exactly once


def test_stratified_kfold_covers_everything_once_with_balanced_classes():
    folds = make_folds(toy_dataset(), {"kind": "stratified_kfold", "k": 5}, seed=0)
    test_sizes = [len(f.test) for f in folds]
    assert sum(test_sizes) == 240
    for f in folds:
        assert set(np.bincount(f.test.labels).tolist()) == {12}


def test_official_and_repeated_protocols():
    ds = toy_dataset()
    (fold,) = make_folds(ds, {"kind": "official", "train": "Training", "val": "PublicTest", "test": "PrivateTest"})
    assert (len(fold.train), len(fold.val), len(fold.test)) == (180, 30, 30)
    repeats = make_folds(ds, {"kind": "random_split", "fractions": [0.8, 0.1, 0.1], "repeats": 3}, seed=5)
    assert [f.seed for f in repeats] == [5, 6, 7]
    assert not np.array_equal(repeats[0].test.images, repeats[1].test.images)


def test_official_protocol_names_the_missing_split():
    ds = toy_dataset()
    ds.splits[ds.splits == "PublicTest"] = "Training"
    with pytest.raises(ValueError, match="PublicTest"):
        make_folds(ds, {"kind": "official", "train": "Training", "val": "PublicTest", "test": "PrivateTest"})


@pytest.mark.parametrize("protocol,lacking,message", [
    ({"kind": "subject_kfold"}, "subjects", "names no subjects, so subject_kfold cannot keep each person"),
    ({"kind": "official", "train": "Training", "val": "PublicTest", "test": "PrivateTest"}, "splits",
     "has no official split"),
    ({"kind": "official"}, None, "needs the names of its train, val, test split"),
    ({"kind": "leave_one_out"}, None, "unknown protocol kind 'leave_one_out'; the kinds are official"),
    ({"kind": "random_split", "fractions": [0.5, 0.6, 0.1]}, None, "three shares above 0 .* adding up to 1")])
def test_a_protocol_that_cannot_be_made_is_refused_not_quietly_changed(protocol, lacking, message):
    """subject_kfold on a dataset without subject ids once ran as a plain stratified k-fold."""
    ds = toy_dataset()
    if lacking:
        setattr(ds, lacking, None)
    with pytest.raises(ProtocolError, match=message):
        make_folds(ds, protocol)


def test_folds_to_run_keeps_the_first_folds_of_the_k_and_refuses_what_it_cannot_keep():
    every = make_folds(toy_dataset(), {"kind": "subject_kfold", "k": 6}, seed=3)
    first = make_folds(toy_dataset(), {"kind": "subject_kfold", "k": 6, "folds_to_run": 2}, seed=3)
    assert [f.name for f in first] == ["fold0", "fold1"]
    for kept, same in zip(first, every):  # the same folds as the full protocol's first two, not a new split
        assert np.array_equal(kept.test.images, same.test.images) and np.array_equal(kept.train.images, same.train.images)
    assert len(make_folds(toy_dataset(), {"kind": "holdout_then_kfold", "folds_to_run": 1})) == 1  # k defaults to 5
    for protocol, message in (({"kind": "stratified_kfold", "k": 3, "folds_to_run": 4}, "from 1 to k=3"),
                              ({"kind": "stratified_kfold", "folds_to_run": 0}, "from 1 to k=10"),
                              ({"kind": "random_split", "folds_to_run": 1}, "only a k-fold protocol")):
        with pytest.raises(ValueError, match=message):
            make_folds(toy_dataset(), protocol)
