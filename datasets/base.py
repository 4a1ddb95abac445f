"""The Dataset object every loader returns, and the checks loaders share.

A Dataset is plain numpy: uint8 images (N, H, W) or clips (N, T, H, W), integer
labels, class names, and per-item metadata where the dataset has it (official
split, subject, sequence, frame). Its provenance records what was read, what
was skipped and what was altered on the way in (e.g. resized), each with the
reason, so that no item disappears or changes without a trace.
"""
from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import cv2
import numpy as np


class DatasetError(ValueError):
    """A dataset file or folder that cannot be read as the dataset it claims to be."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclasses.dataclass
class Provenance:
    path: str
    read: int = 0  # items (rows, files) successfully read
    skipped: list[dict] = dataclasses.field(default_factory=list)  # {"where", "reason"}
    notes: list[str] = dataclasses.field(default_factory=list)
    altered: list[dict] = dataclasses.field(default_factory=list)  # kept, but not as on disk: {"where", "reason"}

    def skip(self, where, reason):
        self.skipped.append({"where": str(where), "reason": reason})

    def alter(self, where, reason):
        self.altered.append({"where": str(where), "reason": reason})


@dataclasses.dataclass
class Dataset:
    name: str
    images: np.ndarray  # uint8, (N, H, W) images or (N, T, H, W) clips
    labels: np.ndarray  # int64, (N,)
    class_names: list[str]
    provenance: Provenance
    splits: np.ndarray | None = None  # official split name per item
    subjects: np.ndarray | None = None  # subject id per item
    sequences: np.ndarray | None = None  # sequence id per item
    frames: np.ndarray | None = None  # frame index within its sequence

    def __post_init__(self):
        if self.images.dtype != np.uint8:
            raise TypeError(f"{self.name}: images must be uint8, got {self.images.dtype}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        for field in ("splits", "subjects", "sequences", "frames"):
            value = getattr(self, field)
            if value is not None and len(value) != len(self.labels):
                raise ValueError(f"{self.name}: {field} has {len(value)} entries for {len(self.labels)} items")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self):
        return len(self.labels)

    def subset(self, index, name=None):
        """The items at `index` (integer indices or a boolean mask), metadata kept aligned."""
        index = np.asarray(index)
        pick = lambda a: None if a is None else a[index]
        return dataclasses.replace(
            self, name=name or self.name, images=self.images[index], labels=self.labels[index],
            splits=pick(self.splits), subjects=pick(self.subjects),
            sequences=pick(self.sequences), frames=pick(self.frames))

    def split(self, name):
        if self.splits is None:
            raise ValueError(f"{self.name} has no official split")
        return self.subset(self.splits == name)

    def class_counts(self, labels=None):
        labels = self.labels if labels is None else labels
        counts = np.bincount(labels, minlength=len(self.class_names))
        return {c: int(n) for c, n in zip(self.class_names, counts)}

    def summary(self):
        """The machine-readable summary printed by `python -m datasets --json` (fields fixed in SPEC.md)."""
        splits = per_split = None
        if self.splits is not None:
            names = list(dict.fromkeys(self.splits.tolist()))
            splits = {s: int((self.splits == s).sum()) for s in names}
            per_split = {s: self.class_counts(self.labels[self.splits == s]) for s in names}
        return {
            "dataset": self.name,
            "path": self.provenance.path,
            "total": len(self),
            "item_shape": list(self.images.shape[1:]),
            "rows_read": self.provenance.read,
            "splits": splits,
            "classes": self.class_counts(),
            "per_split_classes": per_split,
            "subjects": None if self.subjects is None else len(set(self.subjects.tolist())),
            "sequences": None if self.sequences is None else len(set(self.sequences.tolist())),
            "skipped": self.provenance.skipped,
            "skipped_by_reason": dict(collections.Counter(s["reason"] for s in self.provenance.skipped)),
            "altered": self.provenance.altered,
            "altered_by_reason": dict(collections.Counter(s["reason"] for s in self.provenance.altered)),
            "notes": self.provenance.notes,
        }


def require_exists(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "does not exist")
    return path


def decode_gray(file):
    """(grayscale image, None), or (None, why not) for a file that is empty, truncated or no image.

    OpenCV decodes a truncated JPEG without complaint (grey where the data stops), so a
    JPEG without its end-of-image marker is refused here.
    """
    try:
        data = Path(file).read_bytes()
    except OSError as error:
        return None, f"unreadable file ({error.strerror})"
    if not data:
        return None, "unreadable image (empty file)"
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        return None, "unreadable image (truncated JPEG: no end-of-image marker)"
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error:
        image = None
    return (None, "unreadable image") if image is None else (image, None)


def _channels(file):
    """How many channels the image file holds (1 for grayscale, 3 for colour, 4 with alpha)."""
    image = cv2.imdecode(np.fromfile(file, np.uint8), cv2.IMREAD_UNCHANGED)
    return 1 if image.ndim == 2 else image.shape[2]


WRONG_SIZE_CHOICES = ("skip", "resize")


def read_gray(file, size, provenance, native=None, wrong_size="resize"):
    """A grayscale image at size x size, or None once the reason is counted in provenance.

    `native`: the side every image of the layout has on disk (48 for CK+48); such a layout is
    a grayscale release, so a colour image in it is converted and recorded in provenance.altered.
    An image of another size is recorded with its size, then skipped or resized as `wrong_size`
    says. Without `native` every image is resized to `size` as a matter of course.
    """
    image, problem = decode_gray(file)
    if image is None:
        provenance.skip(file, problem)
        return None
    if native is not None and (channels := _channels(file)) > 1:
        provenance.alter(file, f"colour image ({channels} channels) in a grayscale set: converted to grayscale")
    if native is not None and image.shape != (native, native):
        found = f"{image.shape[1]}x{image.shape[0]} image, not {native}x{native}"
        if wrong_size == "skip":
            provenance.skip(file, f"{found} (wrong_size='skip')")
            return None
        provenance.alter(file, f"{found}: resized (wrong_size='resize')")
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def check_wrong_size(wrong_size):
    if wrong_size not in WRONG_SIZE_CHOICES:
        raise ValueError(f"wrong_size must be one of {WRONG_SIZE_CHOICES}, got {wrong_size!r}")


def nothing_read(path, what, provenance):
    """The DatasetError for a dataset of which no item could be read, with the commonest reasons."""
    if not provenance.skipped:
        return DatasetError(path, f"no {what} found")
    reasons = collections.Counter(s["reason"] for s in provenance.skipped).most_common(3)
    detail = "; ".join(f"{n} x {reason}" for reason, n in reasons)
    return DatasetError(path, f"no {what} could be read ({len(provenance.skipped)} skipped: {detail})")


ITEM_COLUMNS = ("images", "labels", "subjects", "sequences", "frames")


def empty_columns():
    """Per-item lists that a frame-by-frame loader fills, then turns into a Dataset with `from_columns`."""
    return {k: [] for k in ITEM_COLUMNS}


def from_columns(name, columns, class_names, provenance, root):
    if not columns["images"]:
        raise nothing_read(root, f"{name} frames", provenance)
    return Dataset(name, np.stack(columns["images"]), np.array(columns["labels"]), class_names, provenance,
                   subjects=np.array(columns["subjects"]), sequences=np.array(columns["sequences"]),
                   frames=np.array(columns["frames"]))
