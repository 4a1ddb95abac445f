"""SAMM and MEVIEW loaders, read from synthetic data written in their distributed layouts."""
import csv
import shutil

import numpy as np
import pytest

import datasets
from datasets import mevie, samm
from datasets.base import DatasetError


@pytest.fixture(scope="module")
def samm_root(tmp_path_factory):
    return samm.write_synthetic(tmp_path_factory.mktemp("samm"), seed=0, n_clips=16)


@pytest.fixture(scope="module")
def mevie_root(tmp_path_factory):
    return mevie.write_synthetic(tmp_path_factory.mktemp("mevie"), seed=0, n_clips=14)


def test_samm_reads_onset_to_offset_frames_of_every_clip(samm_root):
    ds = datasets.load("samm", samm_root)
    assert ds.images.shape[1:] == (48, 48) and ds.images.dtype == np.uint8
    assert ds.class_names == samm.CLASS_NAMES
    assert len(set(ds.sequences)) == 16 and len(ds) == 16 * 7  # 9 frames, onset = 2nd, offset = 8th
    assert set(ds.subjects) <= {f"{i:03d}" for i in range(1, 9)}
    assert ds.provenance.skipped == []


def test_samm_apex_only_and_larger_crops(samm_root):
    ds = samm.load(samm_root, size=144, frames="apex")
    assert len(ds) == 16 and ds.images.shape[1:] == (144, 144)


def test_samm_counts_missing_frames_and_unknown_emotions(samm_root, tmp_path):
    root = tmp_path / "SAMM"
    shutil.copytree(samm_root, root)
    coding = root / samm.CODING_NAME
    rows = list(csv.reader(open(coding)))
    rows[3][-1] = "Bewildered"  # first data row after the title block and header
    csv.writer(open(coding, "w", newline="")).writerows(rows)
    clip = root / rows[4][0] / rows[4][1]
    next(iter(sorted(clip.glob("*.jpg"))[1:2])).unlink()  # the onset frame of the second clip
    ds = samm.load(root)
    reasons = [s["reason"] for s in ds.provenance.skipped]
    assert any("unknown emotion" in r for r in reasons) and "frame file missing" in reasons
    assert len(ds) == 16 * 7 - 7 - 1


def test_samm_without_coding_file_names_the_folder(tmp_path):
    (tmp_path / "006").mkdir()
    with pytest.raises(DatasetError, match="coding file"):
        samm.load(tmp_path)


def test_mevie_reads_annotated_frames_from_videos(mevie_root):
    ds = datasets.load("mevie", mevie_root)
    assert ds.class_names == mevie.CLASS_NAMES and ds.images.shape[1:] == (48, 48)
    assert len(set(ds.sequences)) == 14 and len(ds) == 14 * 7  # frames 1 (onset) .. 7 (offset) of 9
    assert ds.frames.min() == 1 and ds.frames.max() == 7


def test_mevie_counts_missing_videos_and_refuses_a_folder_without_annotations(mevie_root, tmp_path):
    root = tmp_path / "MEVIEW"
    shutil.copytree(mevie_root, root)
    (root / "videos" / "01.avi").unlink()
    ds = mevie.load(root)
    assert any("not found" in s["reason"] for s in ds.provenance.skipped)
    with pytest.raises(DatasetError, match="annotations.csv"):
        mevie.load(tmp_path / "MEVIEW" / "videos")
