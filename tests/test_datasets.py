"""Loaders read back what the synthetic writers put in each dataset's own layout, count
what they skip, and refuse files that are not the dataset; real copies are checked when present."""
import bz2
import gzip
import json
import lzma
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import datasets
from conftest import real_data, write_fer_image_folders
from datasets import ckplus, fer2013
from datasets.base import DatasetError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory):
    """A small synthetic FER2013 CSV: 7 / 7 / 14 rows in Training / PublicTest / PrivateTest."""
    return fer2013.write_synthetic(tmp_path_factory.mktemp("fer"), seed=0, n_train=7, n_public=7, n_private=14)


# ---- FER2013 ----

def test_fer_reads_back_synthetic_csv(fer_csv):
    data = fer2013.load(fer_csv)
    assert data.images.shape == (28, 48, 48) and data.images.dtype == np.uint8
    assert data.class_names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    summary = data.summary()
    assert summary["splits"] == {"Training": 7, "PublicTest": 7, "PrivateTest": 14}
    assert summary["per_split_classes"]["PrivateTest"] == dict.fromkeys(data.class_names, 2)
    assert data.provenance.read == 28 and data.provenance.skipped == []
    assert "35,887" in data.provenance.notes[0]


def test_fer_usage_filter(fer_csv):
    data = fer2013.load(fer_csv, usage="PrivateTest")
    assert len(data) == 14 and set(data.splits) == {"PrivateTest"}
    with pytest.raises(ValueError, match="Validation"):
        fer2013.load(fer_csv, usage="Validation")


@pytest.mark.parametrize("suffix, opener", [(".xz", lzma.open), (".gz", gzip.open), (".bz2", bz2.open)])
def test_fer_reads_compressed_csv(fer_csv, tmp_path, suffix, opener):
    packed = tmp_path / f"fer2013.csv{suffix}"
    with opener(packed, "wb") as out:
        out.write(fer_csv.read_bytes())
    np.testing.assert_array_equal(fer2013.load(packed).images, fer2013.load(fer_csv).images)


def test_fer_counts_malformed_rows_and_keeps_good_ones(fer_csv, tmp_path):
    good = fer_csv.read_text().splitlines()
    pixels = good[1].split(",")[1].split()
    bad = [
        f"3,{' '.join(pixels[:-1])},Training",  # line 30: one pixel short
        f"3,{' '.join(pixels[:-1] + ['x1'])},Training",  # line 31: non-numeric
        f"9,{' '.join(pixels)},Training",  # line 32: no such emotion
        f"3,{' '.join(pixels)},Validation",  # line 33: no such usage
        f"3,{' '.join(pixels)}",  # line 34: a column missing
    ]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(good + bad) + "\n")
    data = fer2013.load(path)
    assert len(data) == 28 and data.provenance.read == 28
    skipped = {s["where"]: s["reason"] for s in data.provenance.skipped}
    assert list(skipped) == ["line 30", "line 31", "line 32", "line 33", "line 34"]
    assert "pixel count" in skipped["line 30"]
    assert "non-numeric" in skipped["line 31"]
    assert "emotion" in skipped["line 32"]
    assert "usage" in skipped["line 33"]
    assert "column" in skipped["line 34"]


@pytest.mark.parametrize("name, content", [
    ("garbage.csv", bytes(range(256)) * 40),
    ("empty.csv", b""),
    ("other.csv", b"id,label,image\n1,2,3\n"),
    ("broken.csv.xz", b"not xz at all\n" * 10),
])
def test_fer_refuses_files_that_are_not_fer2013(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DatasetError) as error:
        fer2013.load(path)
    assert str(path) in str(error.value)


def test_fer_image_folder_layout(tmp_path):
    labels = write_fer_image_folders(tmp_path, seed=2)
    (tmp_path / "test" / "happy").mkdir(exist_ok=True)
    (tmp_path / "test" / "happy" / "broken.png").write_text("not a png")
    data = fer2013.load(tmp_path)
    assert data.summary()["splits"] == {"Test": 7, "Training": 7}
    assert data.provenance.skipped == [{"where": str(tmp_path / "test" / "happy" / "broken.png"),
                                        "reason": "unreadable image"}]
    train = data.split("Training")
    np.testing.assert_array_equal(np.sort(train.labels), np.sort(labels[:7]))


# ---- CK+ ----

def _is_grouped_and_ordered(data):
    """Each sequence's frames are consecutive and increasing."""
    changes = np.flatnonzero(data.sequences[1:] != data.sequences[:-1]) + 1
    runs = np.split(np.arange(len(data)), changes)
    return (len(runs) == len(set(data.sequences))
            and all(np.all(np.diff(data.frames[run]) > 0) for run in runs))


def test_ckplus_reads_back_ck48_layout(tmp_path):
    root = ckplus.write_synthetic(tmp_path, seed=0, n_subjects=5, layout="ck+48", sequences_per_class=2)
    data = ckplus.load(root)
    assert data.images.shape == (42, 48, 48)
    assert data.class_counts() == dict.fromkeys(ckplus.CLASS_NAMES, 6)
    summary = data.summary()
    assert summary["subjects"] == 5 and summary["sequences"] == 14 and summary["skipped"] == []
    assert _is_grouped_and_ordered(data)
    assert data.subjects[0] == "S001" and data.sequences[0].startswith("S001_")


def test_ckplus_original_layout_labels_only_sequences_with_an_emotion_file(tmp_path):
    root = ckplus.write_synthetic(tmp_path, seed=0, n_subjects=4, layout="original", sequences_per_class=2)
    unlabelled = {f"{d.parent.name}_{d.name}" for d in (root / "Emotion").glob("*/*") if not any(d.iterdir())}
    assert len(unlabelled) == 1
    data = ckplus.load(root)
    assert data.images.shape == (42, 48, 48)  # 14 labelled sequences x last 3 frames, resized from 64
    assert data.class_counts() == dict.fromkeys(ckplus.CLASS_NAMES, 6)
    assert not unlabelled & set(data.sequences)
    assert _is_grouped_and_ordered(data)
    assert "1 sequences without an Emotion file" in " ".join(data.provenance.notes)
    every_frame = ckplus.load(root, frames_per_sequence=None, size=32)
    assert every_frame.images.shape == (14 * 8, 32, 32)
    assert set(every_frame.frames) == set(range(1, 9))


def test_ckplus_counts_bad_labels_and_unreadable_images(tmp_path):
    root = ckplus.write_synthetic(tmp_path, seed=0, n_subjects=4, layout="original", sequences_per_class=1)
    emotion_files = sorted((root / "Emotion").glob("*/*/*_emotion.txt"))
    emotion_files[0].write_text("   0.0000000e+00\n")
    emotion_files[1].write_text("happy\n")
    sequence_folder = root / "cohn-kanade-images" / emotion_files[2].parent.relative_to(root / "Emotion")
    last_frame = sorted(sequence_folder.glob("*.png"))[-1]
    last_frame.write_bytes(b"truncated")
    data = ckplus.load(root)
    assert len(data) == 5 * 3 - 1  # 7 sequences, 2 without a usable label, 1 frame unreadable
    reasons = {s["where"]: s["reason"] for s in data.provenance.skipped}
    assert "neutral" in reasons[str(emotion_files[0])]
    assert reasons[str(emotion_files[1])] == "unreadable emotion code 'happy' (not a number)"
    assert reasons[str(last_frame)] == "unreadable image"


def test_ckplus_refuses_an_unknown_layout(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match="neither the CK\\+48 layout"):
        ckplus.load(tmp_path)


# ---- command line ----

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "datasets", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def test_cli_json_summary_and_synth(tmp_path):
    written = _cli("synth", "ckplus", str(tmp_path / "ck"), "--seed", "1", "-o", "sequences_per_class=1")
    assert written.returncode == 0, written.stderr
    shown = _cli("ckplus", str(tmp_path / "ck"), "--json")
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    assert {"dataset", "path", "total", "splits", "classes", "per_split_classes", "subjects", "skipped"} <= set(summary)
    assert summary["dataset"] == "ckplus" and summary["total"] == 21 and summary["splits"] is None
    table = _cli("ckplus", str(tmp_path / "ck"))
    assert table.returncode == 0 and "surprise" in table.stdout


def test_cli_reports_a_bad_dataset_in_one_line(tmp_path):
    missing = tmp_path / "nothing.csv"
    result = _cli("fer2013", str(missing), "--json")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and str(missing) in result.stderr


def test_registry_loads_through_datasets_load(fer_csv):
    assert len(datasets.load("fer2013", fer_csv)) == 28


# ---- real copies in ../shared/datasets ----

def test_real_ckplus48_counts():
    data = ckplus.load(real_data("ckplus/CK+48"))
    summary = data.summary()
    assert summary["total"] == 981 and summary["subjects"] == 118 and summary["sequences"] == 327
    assert summary["classes"] == {"anger": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207,
                                  "sadness": 84, "surprise": 249}
    assert summary["skipped"] == [] and _is_grouped_and_ordered(data)


@pytest.fixture(scope="module")
def real_fer():
    return fer2013.load(real_data("fer2013/fer2013.csv.xz"))


def test_real_fer2013_counts(real_fer):
    summary = real_fer.summary()
    assert summary["total"] == 35710 and summary["skipped"] == []
    assert summary["splits"] == {"Training": 28558, "PublicTest": 3579, "PrivateTest": 3573}
    assert summary["per_split_classes"]["PrivateTest"] == {
        "angry": 489, "disgust": 55, "fear": 527, "happy": 876, "sad": 588, "surprise": 414, "neutral": 624}
    assert "35,710 rows of the official 35,887" in summary["notes"][0]
