"""Bad input: a corpus of broken dataset files, written at test time, one case per item.

Each case starts from a valid layout written by the loader's own `write_synthetic`,
breaks one thing, and states what must come of it:
- "error": a DatasetError whose message names the file and the problem;
- "skip": the item counted in provenance.skipped (where, reason), the rest loaded;
- "altered": the item kept but recorded in provenance.altered (e.g. resized).
Nothing else may happen: no other exception, no other skip, no item silently missing.
A few cases also go through `python -m datasets`: an error is one line on stderr naming
the file with a non-zero exit, a skip shows in the summary, and never a traceback.

Then the suite's own input: a user's mistake on `python -m papers` (a missing data path or
dataset, a `--set` value of the wrong type or range) is one line naming it and the fix, with
no traceback and no folder left behind; and damaged state (a work folder's run.json, a
checkpoint, a stored fold result, a cache) is named by its file, set aside, and never blocks
a later run or `cleanup`, which tells a crashed run from a killed one.
"""
import csv
import dataclasses
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

import datasets
import papers
from common.harness import cli
from common.harness.run import runner
from common.harness.run.provenance import code_version
from common.harness.run.record import UNFINISHED
from common.toolkit.experiment import FOLD_RESULT, config_hash, stored_fold_result
from conftest import write_fer_image_folders
from datasets import ckplus, fer2013, mevie, samm
from datasets.base import DatasetError

REPO = Path(__file__).resolve().parents[1]


# ---- valid layouts, written once, copied for each case ----

def _write_valid(kind, folder):
    """The valid dataset path of each kind (small: 14 to 28 items)."""
    if kind == "fer2013":
        return fer2013.write_synthetic(folder, n_train=7, n_public=7, n_private=7)
    if kind == "fer2013_folder":
        return _write_fer_folders(folder / "fer2013")
    if kind == "ckplus":
        return ckplus.write_synthetic(folder / "CK+48", n_subjects=3, sequences_per_class=1)
    if kind == "ckplus_original":
        return ckplus.write_synthetic(folder / "CK+", n_subjects=3, layout="original", sequences_per_class=1)
    if kind == "samm":
        return samm.write_synthetic(folder, n_clips=4)
    return mevie.write_synthetic(folder, n_clips=4)


def _write_fer_folders(root):
    write_fer_image_folders(root, seed=1)
    return root


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """valid(kind) -> (path of the valid layout, the Dataset it loads as)."""
    written = {}

    def get(kind):
        if kind not in written:
            path = _write_valid(kind, tmp_path_factory.mktemp(kind))
            written[kind] = path, datasets.load(_loader(kind), path)
        return written[kind]
    return get


def _loader(kind):
    return kind.removesuffix("_original").removesuffix("_folder")


def _fresh_copy(valid_path, tmp_path):
    target = tmp_path / valid_path.parent.name / valid_path.name
    copy = shutil.copytree if valid_path.is_dir() else shutil.copy
    target.parent.mkdir(parents=True)
    copy(valid_path, target)
    return target


# ---- ways to break files ----

def _random_bytes(n=4000):
    return np.random.default_rng(0).bytes(n)


def _png(shape):
    return cv2.imencode(".png", np.full(shape, 128, np.uint8))[1].tobytes()


def _truncated_jpeg():
    image = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    data = cv2.imencode(".jpg", image)[1].tobytes()
    return data[:len(data) // 2]


def _load_this(path):
    """The case loads `path` itself (not the dataset folder), and the error must name it."""
    return path, path


def _overwrite(file, data):
    file.write_bytes(data)
    return file


def _replace_with(file, suffix, data):
    """Put `data` in place of `file`, under the same name with another suffix."""
    file.unlink()
    return _overwrite(file.with_suffix(suffix), data)


def _overwrite_all(files, data):
    for file in files:
        file.write_bytes(data)


def _delete_all(paths):
    for path in paths:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _write_rows(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def _set_cell(path, line, column, value):
    """Put `value` in a CSV file's cell (1-based line, 0-based column); returns the file's name and line."""
    rows = _rows(path)
    rows[line - 1][column] = value
    _write_rows(path, rows)
    return f"{path.name} line {line}"


def _set_row(path, line, fields):
    rows = _rows(path)
    rows[line - 1] = fields
    _write_rows(path, rows)
    return f"{path.name} line {line}"


def _latin1_cell(path, line, column, text):
    """Put `text` in a cell and save the file as Latin-1, as a spreadsheet exported 'CSV (Windows)' might."""
    _set_cell(path, line, column, text)
    path.write_bytes(path.read_text().encode("latin-1"))
    return path


def _unclosed_quote(path, line, column):
    """Open a quote in a cell that never closes, so that the CSV reader runs on to the end of the file."""
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[line - 1].split(",")
    fields[column] = '"oops'
    lines[line - 1] = ",".join(fields)
    path.write_text("".join(lines))
    return f"{path.name} line {line}-{len(lines)}"


def _append_line(path, text):
    """Append one raw line to a text file; returns 'line N' as the FER2013 loader names it."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [text]) + "\n")
    return f"line {len(lines) + 1}"


def _insert_blank_line(path, at=5):
    """Put an empty line at line `at` of a text file; returns 'line N' as the FER2013 loader names it."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:at - 1] + [""] + lines[at - 1:]) + "\n")
    return f"line {at}"


def _fer_row(label="3", pixels=None, usage="Training"):
    pixels = ["128"] * fer2013.PIXELS if pixels is None else pixels
    return f"{label},{' '.join(pixels)},{usage}"


def _packed_and_cut(path, opener, suffix):
    packed = path.with_name(path.name + suffix)
    with opener(packed, "wb") as out:
        out.write(path.read_bytes())
    data = packed.read_bytes()
    packed.write_bytes(data[:len(data) // 2])
    return _load_this(packed)


def _fer_image(root):
    return sorted(root.glob("train/*/*.png"))[0]


def _ck_image(root, index=0):
    return sorted(root.glob("*/*.png"))[index]


def _move_to(file, folder):
    folder.mkdir(exist_ok=True)
    return file.rename(folder / file.name)


def _emotion_file(root, index=0):
    return sorted((root / "Emotion").glob("*/*/*_emotion.txt"))[index]


def _sequence_folder(root, index=0):
    emotion = _emotion_file(root, index)
    return root / "cohn-kanade-images" / emotion.parent.relative_to(root / "Emotion")


SAMM_CODING = samm.CODING_NAME
SAMM_FIRST_ROW = 4  # title, blank line, header


def _samm_clip(root, line=SAMM_FIRST_ROW + 1):
    subject, clip = _rows(root / SAMM_CODING)[line - 1][:2]
    return root / subject / clip


def _samm_onset_frame(root):
    return sorted(_samm_clip(root).glob("*.jpg"))[1]


def _mevie_video(root, line=3):
    return root / "videos" / _rows(root / "annotations.csv")[line - 1][0]


def _unknown_layout(root):
    _delete_all(list(root.iterdir()))
    (root / "images").mkdir()
    return root


def _all_samm_emotions(root, value):
    rows = _rows(root / SAMM_CODING)
    for row in rows[SAMM_FIRST_ROW - 1:]:
        row[-1] = value
    _write_rows(root / SAMM_CODING, rows)
    return root


def _all_mevie_videos(root, data):
    for video in (root / "videos").iterdir():
        video.write_bytes(data)
    return root


# ---- the corpus ----

@dataclasses.dataclass
class Case:
    id: str
    kind: str  # which valid layout to start from (fer2013, ckplus, ckplus_original, samm, mevie)
    corrupt: Callable  # dataset path -> what must be named, or (path to load, what) as _load_this gives
    outcome: str  # "error", "skip" or "altered"
    problem: str  # text the error message or the skip/alter reason holds
    lost: int = 0  # items of the valid layout that must be missing
    entries: int = 1  # skip/alter entries expected, all naming the same thing
    options: dict = dataclasses.field(default_factory=dict)


C = Case
GOOD_PIXELS = ["128"] * fer2013.PIXELS
CASES = [
    # FER2013 CSV rows: counted skips, the other rows load
    C("fer-truncated-row", "fer2013", lambda p: _append_line(p, _fer_row()[:3000]), "skip", "wrong column count"),
    C("fer-non-numeric-pixel", "fer2013", lambda p: _append_line(p, _fer_row(pixels=GOOD_PIXELS[:-1] + ["x1"])),
      "skip", "non-numeric pixel value"),
    C("fer-too-few-pixels", "fer2013", lambda p: _append_line(p, _fer_row(pixels=GOOD_PIXELS[:-1])),
      "skip", "wrong pixel count: 2303"),
    C("fer-too-many-pixels", "fer2013", lambda p: _append_line(p, _fer_row(pixels=GOOD_PIXELS + ["1"])),
      "skip", "wrong pixel count: 2305"),
    C("fer-no-pixels", "fer2013", lambda p: _append_line(p, _fer_row(pixels=[])), "skip", "wrong pixel count: 0"),
    C("fer-pixel-above-255", "fer2013", lambda p: _append_line(p, _fer_row(pixels=GOOD_PIXELS[:-1] + ["256"])),
      "skip", "pixel value above 255"),
    C("fer-unknown-label", "fer2013", lambda p: _append_line(p, _fer_row(label="7")), "skip", "unknown emotion label"),
    C("fer-negative-label", "fer2013", lambda p: _append_line(p, _fer_row(label="-1")), "skip",
      "unknown emotion label"),
    C("fer-unknown-usage", "fer2013", lambda p: _append_line(p, _fer_row(usage="Validation")), "skip",
      "unknown usage 'Validation'"),
    C("fer-extra-column", "fer2013", lambda p: _append_line(p, _fer_row() + ",x"), "skip", "wrong column count"),
    C("fer-blank-line", "fer2013", _insert_blank_line, "skip", "blank line"),
    # FER2013 files: a clear error
    C("fer-empty-file", "fer2013", lambda p: _overwrite(p, b""), "error", "empty file"),
    C("fer-headerless", "fer2013", lambda p: _overwrite(p, b"".join(p.read_bytes().splitlines(True)[1:])),
      "error", "lacks column"),
    C("fer-binary", "fer2013", lambda p: _overwrite(p, _random_bytes()), "error", "not a text CSV"),
    C("fer-only-bad-rows", "fer2013", lambda p: _overwrite(p, b"emotion,pixels,Usage\n9,1 2,Training\n"),
      "error", "no valid FER2013 rows"),
    C("fer-truncated-xz", "fer2013", lambda p: _packed_and_cut(p, lzma.open, ".xz"), "error",
      "cannot be decompressed/read after"),
    C("fer-truncated-gz", "fer2013", lambda p: _packed_and_cut(p, gzip.open, ".gz"), "error",
      "cannot be decompressed/read after"),
    C("fer-not-xz", "fer2013", lambda p: _load_this(_overwrite(p.with_name("fer2013.csv.xz"), b"plain text\n")),
      "error", "cannot be decompressed"),
    C("fer-missing", "fer2013", lambda p: _load_this(p.with_name("absent.csv")), "error", "does not exist"),
    # FER2013 image folders
    C("fer-folder-corrupt-image", "fer2013_folder", lambda p: _overwrite(_fer_image(p), _random_bytes()), "skip",
      "unreadable image", lost=1),
    C("fer-folder-zero-byte-image", "fer2013_folder", lambda p: _overwrite(_fer_image(p), b""), "skip",
      "unreadable image (empty file)", lost=1),
    C("fer-folder-200x150-image", "fer2013_folder", lambda p: _overwrite(_fer_image(p), _png((150, 200))),
      "altered", "200x150 image, not 48x48: resized"),
    C("fer-folder-colour-image", "fer2013_folder", lambda p: _overwrite(_fer_image(p), _png((48, 48, 3))),
      "altered", "colour image (3 channels) in a grayscale set: converted to grayscale"),
    C("fer-folder-unknown-class", "fer2013_folder", lambda p: _move_to(_fer_image(p), p / "train" / "bored"),
      "skip", "unknown class folder 'bored'", lost=1),
    C("fer-folder-no-split-folders", "fer2013_folder", _unknown_layout, "error",
      "neither a FER2013 CSV nor an image folder"),

    # CK+48 images: counted skips
    C("ck-corrupt-image", "ckplus", lambda p: _overwrite(_ck_image(p), _random_bytes()), "skip", "unreadable image",
      lost=1),
    C("ck-zero-byte-image", "ckplus", lambda p: _overwrite(_ck_image(p), b""), "skip", "unreadable image (empty file)",
      lost=1),
    C("ck-truncated-png", "ckplus", lambda p: _overwrite(_ck_image(p), _ck_image(p).read_bytes()[:300]), "skip",
      "unreadable image", lost=1),
    C("ck-truncated-jpeg", "ckplus", lambda p: _replace_with(_ck_image(p), ".jpg", _truncated_jpeg()), "skip",
      "truncated JPEG", lost=1),
    C("ck-1x1-image", "ckplus", lambda p: _overwrite(_ck_image(p), _png((1, 1))), "skip",
      "1x1 image, not 48x48 (wrong_size='skip')", lost=1),
    C("ck-200x150-image", "ckplus", lambda p: _overwrite(_ck_image(p), _png((150, 200))), "skip",
      "200x150 image, not 48x48 (wrong_size='skip')", lost=1),
    C("ck-200x150-image-resized", "ckplus", lambda p: _overwrite(_ck_image(p), _png((150, 200))), "altered",
      "200x150 image, not 48x48: resized", options={"wrong_size": "resize"}),
    C("ck-colour-image", "ckplus", lambda p: _overwrite(_ck_image(p), _png((48, 48, 3))), "altered",
      "colour image (3 channels) in a grayscale set: converted to grayscale"),
    C("ck-unknown-class-folder", "ckplus", lambda p: _move_to(_ck_image(p), p / "happiness"), "skip",
      "unknown class folder 'happiness'", lost=1),
    C("ck-bad-file-name", "ckplus", lambda p: _ck_image(p).rename(_ck_image(p).with_name("face.png")), "skip",
      "file name is not S<subject>_<sequence>_<frame>", lost=1),
    C("ck-sequence-in-two-classes", "ckplus", lambda p: _move_to(_ck_image(p), p / "happy").stem[:8], "skip",
      "is filed under anger and happy", lost=3, entries=3),  # named: the sequence, e.g. S002_001
    # CK+ folders: a clear error
    C("ck-all-wrong-size", "ckplus", lambda p: _overwrite_all(p.glob("*/*.png"), _png((64, 64))) or p, "error",
      "21 x 64x64 image, not 48x48"),
    C("ck-no-images", "ckplus", lambda p: _delete_all(p.glob("*/*.png")) or p, "error",
      "no labelled CK+ images found"),
    C("ck-a-file", "ckplus", lambda p: _load_this(_ck_image(p)), "error", "not a folder"),
    C("ck-unknown-layout", "ckplus", _unknown_layout, "error", "neither the CK+48 layout"),
    C("ck-missing", "ckplus", lambda p: _load_this(p / "absent"), "error", "does not exist"),

    # CK+ original layout: labels and sequences
    C("cko-emotion-neutral", "ckplus_original", lambda p: _overwrite(_emotion_file(p), b"   0.0000000e+00\n"),
      "skip", "emotion code 0 (neutral)", lost=3),
    C("cko-emotion-out-of-range", "ckplus_original", lambda p: _overwrite(_emotion_file(p), b"   9.0000000e+00\n"),
      "skip", "emotion code 9 outside 1..7", lost=3),
    C("cko-emotion-fraction", "ckplus_original", lambda p: _overwrite(_emotion_file(p), b"2.5\n"),
      "skip", "emotion code 2.5 outside 1..7", lost=3),
    C("cko-emotion-nan", "ckplus_original", lambda p: _overwrite(_emotion_file(p), b"nan\n"),
      "skip", "emotion code nan outside 1..7", lost=3),
    C("cko-emotion-text", "ckplus_original", lambda p: _overwrite(_emotion_file(p), b"happy\n"),
      "skip", "unreadable emotion code 'happy' (not a number)", lost=3),
    C("cko-emotion-empty", "ckplus_original", lambda p: _overwrite(_emotion_file(p), b""),
      "skip", "unreadable emotion code '' (not a number)", lost=3),
    C("cko-emotion-binary", "ckplus_original", lambda p: _overwrite(_emotion_file(p), _random_bytes()),
      "skip", "not a text file", lost=3),
    C("cko-label-without-images", "ckplus_original", lambda p: shutil.rmtree(_sequence_folder(p)) or _emotion_file(p),
      "skip", "no image folder", lost=3),
    C("cko-empty-sequence", "ckplus_original", lambda p: _delete_all(_sequence_folder(p).iterdir()) or
      _sequence_folder(p), "skip", "labelled sequence without image files", lost=3),
    C("cko-corrupt-frame", "ckplus_original",
      lambda p: _overwrite(sorted(_sequence_folder(p).glob("*.png"))[-1], _random_bytes()),
      "skip", "unreadable image", lost=1),
    C("cko-no-emotion-folder", "ckplus_original", lambda p: shutil.rmtree(p / "Emotion") or p, "error",
      "without its Emotion/ folder"),

    # SAMM coding rows: counted skips with their line, the other clips load
    C("samm-short-row", "samm", lambda p: _set_row(p / SAMM_CODING, 5, _rows(p / SAMM_CODING)[4][:3]), "skip",
      "malformed row: 3 fields where the header has 11", lost=7),
    C("samm-extra-fields", "samm", lambda p: _set_row(p / SAMM_CODING, 5, _rows(p / SAMM_CODING)[4] + ["x", "y"]),
      "skip", "malformed row: 13 fields where the header has 11", lost=7),
    C("samm-unclosed-quote", "samm", lambda p: _unclosed_quote(p / SAMM_CODING, 6, 9), "skip",
      "malformed row: 10 fields where the header has 11", lost=14),  # the rows of lines 6 and 7 are one
    C("samm-unknown-emotion", "samm", lambda p: _set_cell(p / SAMM_CODING, 5, 10, "Bewildered"), "skip",
      "unknown emotion 'bewildered'", lost=7),
    C("samm-non-numeric-frame", "samm", lambda p: _set_cell(p / SAMM_CODING, 5, 3, "abc"), "skip",
      "onset/apex/offset frame is not a number", lost=7),
    C("samm-offset-before-onset", "samm", lambda p: _set_cell(p / SAMM_CODING, 5, 5, "-1"), "skip",
      "offset frame -1 is before onset frame", lost=7),
    C("samm-missing-clip-folder", "samm", lambda p: shutil.rmtree(_samm_clip(p)) or _samm_clip(p), "skip",
      "clip folder listed in the coding file is missing", lost=7),
    C("samm-missing-frame", "samm", lambda p: _samm_onset_frame(p).unlink() or _samm_clip(p), "skip",
      "frame file missing", lost=1),
    C("samm-corrupt-frame", "samm", lambda p: _overwrite(_samm_onset_frame(p), _random_bytes()), "skip",
      "unreadable image", lost=1),
    C("samm-zero-byte-frame", "samm", lambda p: _overwrite(_samm_onset_frame(p), b""), "skip",
      "unreadable image (empty file)", lost=1),
    C("samm-truncated-jpeg", "samm", lambda p: _overwrite(_samm_onset_frame(p), _truncated_jpeg()), "skip",
      "truncated JPEG", lost=1),
    C("samm-1x1-frame", "samm", lambda p: _overwrite(_samm_onset_frame(p), _png((1, 1))), "skip",
      "1x1 frame: no pixel inside the crop", lost=1),
    # SAMM files: a clear error
    C("samm-coding-not-utf8", "samm", lambda p: _latin1_cell(p / SAMM_CODING, 5, 9, "caf\xe9"), "error",
      "not UTF-8 text"),
    C("samm-coding-binary", "samm", lambda p: _overwrite(p / SAMM_CODING, _random_bytes()), "error", "not UTF-8 text"),
    C("samm-coding-empty", "samm", lambda p: _overwrite(p / SAMM_CODING, b""), "error", "no header row"),
    C("samm-coding-without-header", "samm", lambda p: _set_row(p / SAMM_CODING, 3, []) and p / SAMM_CODING,
      "error", "no header row with the columns Subject, Filename"),
    C("samm-no-coding-file", "samm", lambda p: (p / SAMM_CODING).unlink() or p, "error", "no coding file"),
    C("samm-every-row-bad", "samm", lambda p: _all_samm_emotions(p, "Bored"), "error",
      "no samm frames could be read (4 skipped: 4 x unknown emotion 'bored')"),
    C("samm-missing", "samm", lambda p: _load_this(p / "absent"), "error", "does not exist"),

    # MEVIEW annotation rows and videos: counted skips, the other clips load
    C("mevie-short-row", "mevie", lambda p: _set_row(p / "annotations.csv", 3, ["02.avi", "S002", "1", "4"]), "skip",
      "malformed row: 4 fields where the header has 7", lost=7),
    C("mevie-unknown-emotion", "mevie", lambda p: _set_cell(p / "annotations.csv", 3, 5, "glee"), "skip",
      "unknown emotion 'glee'", lost=7),
    C("mevie-non-integer-onset", "mevie", lambda p: _set_cell(p / "annotations.csv", 3, 2, "1.5"), "skip",
      "onset/apex/offset is not an integer", lost=7),
    C("mevie-offset-before-onset", "mevie", lambda p: _set_cell(p / "annotations.csv", 3, 4, "0"), "skip",
      "offset 0 is before onset 1", lost=7),
    C("mevie-negative-onset", "mevie", lambda p: _set_cell(p / "annotations.csv", 3, 2, "-2"), "skip",
      "negative frame index -2", lost=7),
    C("mevie-missing-video", "mevie", lambda p: _mevie_video(p).unlink() or "annotations.csv line 3", "skip",
      "video 02.avi not found", lost=7),
    C("mevie-unreadable-video", "mevie", lambda p: _overwrite(_mevie_video(p), _random_bytes()), "skip",
      "unreadable video", lost=7),
    C("mevie-zero-byte-video", "mevie", lambda p: _overwrite(_mevie_video(p), b""), "skip", "unreadable video",
      lost=7),
    # MEVIEW files: a clear error
    C("mevie-annotations-not-utf8", "mevie", lambda p: _latin1_cell(p / "annotations.csv", 3, 1, "S\xe9"), "error",
      "not UTF-8 text"),
    C("mevie-annotations-without-header", "mevie", lambda p: _set_row(p / "annotations.csv", 1, []) and
      p / "annotations.csv", "error", "no header row with the columns video, subject"),
    C("mevie-no-annotations", "mevie", lambda p: (p / "annotations.csv").unlink() or p, "error", "no annotations.csv"),
    C("mevie-every-video-unreadable", "mevie", lambda p: _all_mevie_videos(p, b"not a video"), "error",
      "no mevie frames could be read (4 skipped: 4 x unreadable video"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_named_or_counted(case, valid, tmp_path):
    valid_path, valid_data = valid(case.kind)
    path = _fresh_copy(valid_path, tmp_path)
    named = case.corrupt(path)
    path, named = named if isinstance(named, tuple) else (path, named)
    if case.outcome == "error":
        with pytest.raises(DatasetError) as error:
            datasets.load(_loader(case.kind), path, **case.options)
        assert str(named) in str(error.value) and case.problem in str(error.value)
        return
    data = datasets.load(_loader(case.kind), path, **case.options)
    entries = data.provenance.skipped if case.outcome == "skip" else data.provenance.altered
    others = data.provenance.altered if case.outcome == "skip" else data.provenance.skipped
    assert len(entries) == case.entries and others == [], (entries, others)
    for entry in entries:
        assert str(named) in entry["where"] and case.problem in entry["reason"], entry
    assert len(data) == len(valid_data) - case.lost


CLI_CASES = [case for case in CASES if case.id in (
    "fer-binary", "fer-truncated-xz", "ck-all-wrong-size", "samm-coding-not-utf8", "mevie-annotations-without-header",
    "ck-200x150-image", "ck-200x150-image-resized", "samm-short-row", "mevie-unreadable-video")]


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.id for case in CLI_CASES])
def test_cli_names_the_bad_file_in_one_line_or_shows_the_skip(case, valid, tmp_path):
    path = _fresh_copy(valid(case.kind)[0], tmp_path)
    named = case.corrupt(path)
    path, named = named if isinstance(named, tuple) else (path, named)
    options = [arg for key, value in case.options.items() for arg in ("-o", f"{key}={value}")]
    result = subprocess.run([sys.executable, "-m", "datasets", _loader(case.kind), str(path), *options], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr
    if case.outcome == "error":
        assert result.returncode != 0 and result.stdout == ""
        assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0
        assert str(named) in result.stderr and case.problem in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        shown = next(line for line in result.stdout.splitlines() if case.problem in line)
        assert str(named) in shown


# ---- a user's mistakes on the suite's command line: one line, no traceback, no folder left behind ----

# Lines TensorFlow's C++ runtime prints that no setting reaches (the README calls them harmless).
TF_NOTICES = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ", "E0000 ")


def _garbage_csv(tmp_path):
    path = tmp_path / "fer2013.csv"
    path.write_bytes(_random_bytes())
    return str(path)


USER_MISTAKES = {  # id: (arguments after `python -m papers`, text the one line holds)
    "missing-data-path": (lambda tmp: ["sdl_stn", "reproduce", "--data-path", "/nonexistent"],
                          "no fer2013 data at /nonexistent (from --data-path); pass --data-dir DIR"),
    "dataset-not-in-data-dir": (lambda tmp: ["sdl_stn", "reproduce", "--dataset", "ferg", "--data-dir", str(tmp)],
                                "no ferg data at {tmp}/ferg/FERG_DB_256 (from --data-dir); pass --data-dir DIR "
                                "(make: DATA_DIR=DIR) with DIR holding ferg/FERG_DB_256"),
    "data-path-not-the-dataset": (lambda tmp: ["sdl_stn", "reproduce", "--data-path", _garbage_csv(tmp)],
                                  "not a text CSV"),
    "batch-size-text": (lambda tmp: ["cnn_webcam", "smoke", "-e", "adam", "--set", "batch_size=abc"],
                        "--set batch_size=abc: batch_size must be an integer, like the config's"),
    "learning-rate-text": (lambda tmp: ["cnn_webcam", "smoke", "-e", "adam", "--set", "learning_rate=abc"],
                           "--set learning_rate=abc: learning_rate must be a number, like the config's"),
    "negative-epochs": (lambda tmp: ["cnn_webcam", "smoke", "-e", "adam", "--set", "epochs=-1"],
                        "--set epochs=-1: epochs must be an integer of at least 1, got -1"),
    "zero-learning-rate": (lambda tmp: ["cnn_webcam", "smoke", "-e", "adam", "--set", "learning_rate=0"],
                           "learning_rate must be above 0, got 0"),
    "unknown-protocol": (lambda tmp: ["cnn_webcam", "smoke", "-e", "adam", "--set", "protocol.kind=abc"],
                         "cnn_webcam/adam: unknown protocol kind 'abc'; the kinds are official, random_split"),
    "subjects-the-dataset-lacks": (lambda tmp: ["cnn_webcam", "smoke", "-e", "adam", "--set",
                                                "protocol.kind=subject_kfold"],
                                   "fer2013 names no subjects, so subject_kfold cannot keep each person in one fold"),
}


@pytest.mark.parametrize("mistake", USER_MISTAKES)
def test_a_users_mistake_is_one_line_before_any_folder_is_made(mistake, tmp_path, capsys):
    """The command line's own checks, run in this process (a fresh `python -m papers` is checked below)."""
    arguments, expected = USER_MISTAKES[mistake]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        cli.main([*arguments(tmp_path), "--out", str(out)], papers)
    message = str(stopped.value.code)
    assert "\n" not in message and expected.format(tmp=tmp_path) in message, message
    assert not capsys.readouterr().err.strip()  # the message is all that reaches the user
    assert not out.exists()  # no run folder; and no work folder of a run into `out`:
    assert not [p for p in runner.WORK.glob("*/*/*/run.json") if str(out) in p.read_text()]


def test_a_results_folder_that_cannot_be_written_is_one_line_before_any_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["cnn_webcam", "smoke", "-e", "adam", "--out", str(blocker / "results")], papers)
    assert stopped.value.code == f"cnn_webcam smoke: cannot write to the results folder {blocker}/results (Not a " \
                                 "directory)"
    assert not capsys.readouterr().err.strip()


def test_python_m_papers_prints_a_mistake_as_one_line_past_tensorflow_s_start_up(tmp_path):
    """As a user runs it: a fresh process imports Keras for a paper's command; TensorFlow's start-up notices are
    held back, so the mistake is the one line on stderr, with no traceback."""
    arguments, expected = USER_MISTAKES["missing-data-path"]
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "papers", *arguments(tmp_path), "--out", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(TF_NOTICES)]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(lines) == 1 and expected.format(tmp=tmp_path) in lines[0], result.stderr
    assert not out.exists()


# ---- damaged state: named (the file), set aside, never blocking a later run or `cleanup` ----

def _identity(config):
    return {"paper": "toy", "experiment": "tiny", "config": config, "smoke": False, "data": "d", "code": "c",
            "results": "r"}


@pytest.mark.parametrize("whose", ["this run's", "another run's"])
def test_a_damaged_run_json_is_named_set_aside_and_never_blocks_a_run_or_cleanup(whose, tmp_path, monkeypatch,
                                                                                capsys):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    identity = _identity({"epochs": 1})
    damaged_identity = identity if whose == "this run's" else _identity({"epochs": 2})
    work = tmp_path / "work" / "toy" / "tiny" / config_hash(damaged_identity)
    work.mkdir(parents=True)
    (work / "run.json").write_text('{"run_dir": "/tmp/x", "identity": {"pap')  # truncated
    assert any("damaged run.json" in line and str(work) in line for line in runner.cleanup([tmp_path / "results"]))
    work_root, run_dir = runner._work_and_run_folders(identity, tmp_path / "results" / "toy" / "tiny", "key")
    warning = capsys.readouterr().err
    assert f"damaged {work / 'run.json'}" in warning and "set aside" in warning
    assert work_root.is_dir() and (run_dir / UNFINISHED).exists()
    [aside] = (tmp_path / "work" / "toy" / "tiny").glob("*-damaged-*")
    assert aside.name.startswith(f"{work.name}-damaged-") and (work == work_root) == (whose == "this run's")
    runner.cleanup([tmp_path / "results"], remove=True)
    assert not aside.exists()


def test_cleanup_tells_a_crashed_run_from_a_killed_one(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    results = tmp_path / "results" / "toy" / "tiny"
    for name in ("crashed", "killed"):
        (results / name).mkdir(parents=True)
        (results / name / UNFINISHED).write_text("")
        work = tmp_path / "work" / "toy" / "tiny" / name
        work.mkdir(parents=True)
        identity = {**_identity({}), "code": code_version()}
        (work / "run.json").write_text(json.dumps({"run_dir": str(results / name), "identity": identity,
                                                   "pid": os.getpid()}))
        if name == "crashed":
            runner.record_crash(ValueError("batch_size 'abc' is not an integer"))
    listed = "\n".join(runner.cleanup([tmp_path / "results"]))
    assert f"run folder {results / 'crashed'}: unfinished (crashed: ValueError: batch_size 'abc'" in listed
    assert f"run folder {results / 'killed'}: unfinished (killed)" in listed
    assert "crashed: ValueError" in next(line for line in listed.splitlines() if "work folder" in line and "crashed" in line)


def test_cleanup_removes_a_synthetic_copy_half_written_by_a_killed_run_and_keeps_one_being_written(tmp_path,
                                                                                                   monkeypatch):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    monkeypatch.setattr(runner, "SYNTHETIC", tmp_path / "synthetic")
    never_a_pid = 2**22 + 1  # above Linux's largest pid_max
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as writing:
        killed = tmp_path / "synthetic" / f".ckplus-0123-pid{never_a_pid}-x1"
        live = tmp_path / "synthetic" / f".ckplus-0123-pid{writing.pid}-x2"
        for partial in (killed, live):
            (partial / "data").mkdir(parents=True)
        listed = runner.cleanup([tmp_path / "results"], remove=True)
        writing.kill()
    assert f"synthetic copy {killed}: half-written by a smoke run that was killed -> removed" in listed
    assert f"synthetic copy {live}: being written (pid {writing.pid})" in listed
    assert not killed.exists() and live.exists()


def test_cleanup_reads_the_ablation_runs_as_runs_and_their_root_as_a_root(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    killed = tmp_path / "results" / "ablations" / "toy" / "tiny" / "20260101-000000-abc"
    killed.mkdir(parents=True)
    (killed / UNFINISHED).write_text("")
    listed = runner.cleanup([tmp_path / "results"])
    assert listed[0] == f"run folder {killed}: unfinished (killed)" and not any("kept by hand" in line for line in listed)


def _checkpoint_state(**changes):
    return {"epochs_done": 1, "stopped": False, "starts": [0], "history": {}, "seconds": 1.0, "best_epoch": None,
            "best_value": None, "callbacks": [], "best": None,
            "variables": {"file": "epoch-0001.npz", "sha256": "0" * 64, "model": 1, "optimizer": 0}, **changes}


@pytest.mark.parametrize("damage, named", [
    ("truncated state.json", "state.json"), ("state.json of another format", "state.json"),
    ("arrays not matching their checksum", "epoch-0001.npz"), ("arrays missing", "epoch-0001.npz")])
def test_a_damaged_checkpoint_names_the_file_and_is_set_aside(damage, named, tmp_path, capsys):
    from common.toolkit.train.fit import Checkpoint
    folder = tmp_path / "fold0" / "checkpoint"
    folder.mkdir(parents=True)
    state = json.dumps(_checkpoint_state())
    (folder / "state.json").write_text({"truncated state.json": state[:40],
                                        "state.json of another format": '{"epochs": 3}'}.get(damage, state))
    if damage != "arrays missing":
        (folder / "epoch-0001.npz").write_bytes(_random_bytes(100))
    checkpoint = Checkpoint(folder, None, "val_accuracy", [])
    warning = capsys.readouterr().err
    assert checkpoint.state is None and f"damaged checkpoint file {folder / named}" in warning, warning
    assert not folder.exists() and len(list(folder.parent.glob("checkpoint-damaged-*"))) == 1


def test_a_damaged_fold_result_is_named_set_aside_and_evaluated_again(tmp_path, capsys):
    (tmp_path / FOLD_RESULT).write_bytes(b"\x80\x04\x95garbage")
    assert stored_fold_result(tmp_path) is None
    assert f"damaged fold result {tmp_path / FOLD_RESULT}" in capsys.readouterr().err
    assert not (tmp_path / FOLD_RESULT).exists() and len(list(tmp_path.glob(f"{FOLD_RESULT}-damaged-*"))) == 1


def test_a_damaged_cache_is_named_set_aside_and_computed_again(tmp_path, capsys):
    from common.toolkit.faces import cached_per_item
    items = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    calls = []

    def compute(batch):
        calls.append(len(batch))
        return {"sum": batch.reshape(len(batch), -1).sum(1)}
    first = cached_per_item("toy", items, {}, compute, cache_dir=tmp_path)
    [cache] = tmp_path.glob("toy-*.npz")
    cache.write_bytes(cache.read_bytes()[:50])
    again = cached_per_item("toy", items, {}, compute, cache_dir=tmp_path)
    assert calls == [3, 3] and np.array_equal(first["sum"], again["sum"])
    assert f"damaged file {cache}" in capsys.readouterr().err and len(list(tmp_path.glob("*-damaged-*"))) == 1


def test_the_datasets_command_shows_its_synth_usage(capsys):
    from datasets.__main__ import main as datasets_main
    with pytest.raises(SystemExit):
        datasets_main(["--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    assert "python -m datasets synth" in usage and "python -m datasets [-h]" in usage
