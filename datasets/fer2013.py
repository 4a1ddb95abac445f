"""FER2013: 48x48 grayscale faces, 7 emotions, official Training / PublicTest / PrivateTest.

Two on-disk forms are read:
- the Kaggle CSV (`emotion,pixels,Usage`; also `.csv.xz`, `.csv.gz`, `.csv.bz2`,
  streamed). Without a Usage column (the challenge's train.csv) there is no split.
- the image-folder copy (`<root>/train/<class>/*.png`, `<root>/test/<class>/*.png`).
  Its `test` folder holds PublicTest and PrivateTest together (7,178 images in the
  common copy), so it is named 'Test', not 'PrivateTest': a comparison with papers
  that test on PrivateTest must say so. Folders named `publictest`/`val` and
  `privatetest` map to those official splits. An image that is not 48x48 is
  resized, and recorded with its size in provenance.altered.

A malformed CSV row is skipped and recorded (line number and reason); a file that
is not FER2013 at all raises DatasetError.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, read_gray, require_exists

CLASS_NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SPLITS = ["Training", "PublicTest", "PrivateTest"]
OFFICIAL_COUNTS = {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
OFFICIAL_TOTAL = 35887
SIZE = 48
PIXELS = SIZE * SIZE

_OPENERS = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
_FOLDER_SPLITS = {"train": "Training", "training": "Training", "val": "PublicTest", "validation": "PublicTest",
                  "publictest": "PublicTest", "privatetest": "PrivateTest", "test": "Test"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}
_DIGITS_AND_SPACES = b"0123456789 \t"


def load(path, usage=None) -> Dataset:
    """Read FER2013 from the Kaggle CSV (plain or compressed) or the image-folder copy.

    `usage`: a split name or a list of them to keep (e.g. "PrivateTest"); None keeps all.
    """
    path = require_exists(path)
    keep = None if usage is None else {usage} if isinstance(usage, str) else set(usage)
    unknown = set() if keep is None else keep - set(SPLITS) - {"Test"}
    if unknown:
        raise ValueError(f"unknown FER2013 usage {', '.join(sorted(unknown))}; known: {', '.join(SPLITS)}, Test")
    dataset = _load_folders(path, keep) if path.is_dir() else _load_csv(path, keep)
    if keep is not None:
        dataset.provenance.notes.append(f"usage filter: kept only {', '.join(sorted(keep))}")
    return dataset


def _open(path):
    return _OPENERS.get(path.suffix.lower(), open)(path, "rb")


def _read_header(path, stream):
    try:
        line = stream.readline(4096)
    except (OSError, EOFError, lzma.LZMAError) as error:  # corrupt or not really compressed
        raise DatasetError(path, f"cannot be decompressed/read: {error}") from None
    if not line.strip():
        raise DatasetError(path, "empty file: expected a FER2013 CSV with header 'emotion,pixels,Usage'")
    try:
        columns = [c.strip().strip('"') for c in line.removeprefix(b"\xef\xbb\xbf").decode("ascii").split(",")]
    except UnicodeDecodeError:
        raise DatasetError(path, "not a text CSV (binary data where the header 'emotion,pixels,Usage' "
                                 "should be)") from None
    missing = {"emotion", "pixels"} - set(columns)
    if missing:
        raise DatasetError(path, f"not a FER2013 CSV: header {line[:80]!r} lacks column(s) "
                                 f"{', '.join(sorted(missing))} (expected emotion,pixels,Usage)")
    return columns


def _load_csv(path, keep) -> Dataset:
    provenance = Provenance(str(path))
    images, labels, splits = [], [], []
    with _open(path) as stream:
        columns = _read_header(path, stream)
        emotion_at, pixels_at = columns.index("emotion"), columns.index("pixels")
        usage_at = columns.index("Usage") if "Usage" in columns else None
        try:
            for number, line in enumerate(stream, start=2):
                fields = line.strip().split(b",")
                if fields == [b""]:
                    provenance.skip(f"line {number}", "blank line")
                    continue
                row = _parse_row(fields, len(columns), emotion_at, pixels_at, usage_at)
                if isinstance(row, str):
                    provenance.skip(f"line {number}", row)
                    continue
                label, pixels, split = row
                if keep is not None and split not in keep:
                    continue
                images.append(pixels)
                labels.append(label)
                splits.append(split)
        except (OSError, EOFError, lzma.LZMAError) as error:
            raise DatasetError(path, f"cannot be decompressed/read after {len(labels)} good rows: {error}") from None
    provenance.read = len(labels)
    if not labels:
        reasons = sorted({s["reason"] for s in provenance.skipped})[:3]
        wanted = "" if keep is None else f" with usage {', '.join(sorted(keep))}"
        raise DatasetError(path, f"no valid FER2013 rows{wanted} ({len(provenance.skipped)} malformed: "
                                 f"{'; '.join(reasons) or 'none'})")
    provenance.notes.append(_count_note(len(labels), keep))
    if usage_at is None:
        provenance.notes.append("no Usage column: no official split")
    return Dataset("fer2013", np.stack(images), np.array(labels), list(CLASS_NAMES), provenance,
                   splits=None if usage_at is None else np.array(splits))


def _parse_row(fields, n_columns, emotion_at, pixels_at, usage_at):
    """(label, uint8 image, split) for a good row, else the reason it is malformed."""
    if len(fields) != n_columns:
        return f"wrong column count: {len(fields)} instead of {n_columns}"
    emotion = fields[emotion_at].strip().strip(b'"')
    if not emotion.isdigit() or int(emotion) >= len(CLASS_NAMES):
        return f"unknown emotion label {emotion[:20].decode('ascii', 'replace')!r}"
    split = None
    if usage_at is not None:
        split = fields[usage_at].strip().strip(b'"').decode("ascii", "replace")
        if split not in SPLITS:
            return f"unknown usage {split[:20]!r}"
    text = fields[pixels_at].strip().strip(b'"')
    if text.translate(None, _DIGITS_AND_SPACES):
        return "non-numeric pixel value"
    values = np.fromstring(text, dtype=np.int32, sep=" ") if text else np.empty(0, np.int32)
    if values.size != PIXELS:
        return f"wrong pixel count: {values.size} instead of {PIXELS}"
    if values.max() > 255:
        return "pixel value above 255"
    return int(emotion), values.astype(np.uint8).reshape(SIZE, SIZE), split


def _count_note(n_read, keep):
    if keep is None:
        return f"read {n_read:,} rows of the official {OFFICIAL_TOTAL:,} ({OFFICIAL_TOTAL - n_read:,} fewer)"
    official = sum(OFFICIAL_COUNTS.get(s, 0) for s in keep)
    return f"read {n_read:,} rows of the official {official:,} in {', '.join(sorted(keep))}"


def _load_folders(root, keep) -> Dataset:
    provenance = Provenance(str(root))
    split_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in _FOLDER_SPLITS]
    if not split_dirs:
        raise DatasetError(root, "neither a FER2013 CSV nor an image folder with train/ and test/ sub-folders")
    images, labels, splits = [], [], []
    for split_dir in split_dirs:
        split = _FOLDER_SPLITS[split_dir.name.lower()]
        if keep is not None and split not in keep:
            continue
        for class_dir in sorted(d for d in split_dir.iterdir() if d.is_dir()):
            files = sorted(f for f in class_dir.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)
            if class_dir.name.lower() not in CLASS_NAMES:
                for file in files:
                    provenance.skip(file, f"unknown class folder {class_dir.name!r}")
                continue
            for file in files:
                image = read_gray(file, SIZE, provenance, native=SIZE)
                if image is None:
                    continue
                images.append(image)
                labels.append(CLASS_NAMES.index(class_dir.name.lower()))
                splits.append(split)
    provenance.read = len(labels)
    if not labels:
        raise DatasetError(root, f"no readable images under {', '.join(d.name for d in split_dirs)}/<class>/")
    provenance.notes.append(f"image-folder copy: read {len(labels):,} images of the official {OFFICIAL_TOTAL:,}")
    if "Test" in splits:
        provenance.notes.append("split 'Test' is the folder test/, which merges PublicTest and PrivateTest")
    return Dataset("fer2013", np.stack(images), np.array(labels), list(CLASS_NAMES), provenance,
                   splits=np.array(splits))


def write_synthetic(root, seed=0, n_train=490, n_public=140, n_private=140) -> Path:
    """Write `root/fer2013.csv` with synthetic faces of FER2013's 7 classes; returns the CSV path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "fer2013.csv"
    with open(path, "w") as out:
        out.write("emotion,pixels,Usage\n")
        for k, (split, n) in enumerate(zip(SPLITS, (n_train, n_public, n_private))):
            # each split balanced on its own; distinct seeds give distinct faces
            images, labels, _ = synthetic.face_images(n, CLASS_NAMES, size=SIZE, seed=3 * seed + k)
            for image, label in zip(images, labels):
                out.write(f"{label},{' '.join(map(str, image.ravel().tolist()))},{split}\n")
    return path
