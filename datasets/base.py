"""The Dataset object every loader returns, and the checks loaders share.

A Dataset is plain numpy: uint8 images (N, H, W) or clips (N, T, H, W), integer
labels, class names, and per-item metadata where the dataset has it (official
split, subject, sequence, frame). Its provenance records what was read and what
was skipped, with the reason, so that no item disappears without a trace.
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

    def skip(self, where, reason):
        self.skipped.append({"where": str(where), "reason": reason})


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
            "notes": self.provenance.notes,
        }


def require_exists(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "does not exist")
    return path


def read_gray(file, size, provenance):
    """A grayscale image resized to size x size, or None (counted in provenance) when unreadable."""
    image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
    if image is None:
        provenance.skip(file, "unreadable image")
        return None
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


ITEM_COLUMNS = ("images", "labels", "subjects", "sequences", "frames")


def empty_columns():
    """Per-item lists that a frame-by-frame loader fills, then turns into a Dataset with `from_columns`."""
    return {k: [] for k in ITEM_COLUMNS}


def from_columns(name, columns, class_names, provenance, root):
    if not columns["images"]:
        raise DatasetError(root, f"no {name} frames could be read (see the skipped items: {provenance.skipped[:3]})")
    return Dataset(name, np.stack(columns["images"]), np.array(columns["labels"]), class_names, provenance,
                   subjects=np.array(columns["subjects"]), sequences=np.array(columns["sequences"]),
                   frames=np.array(columns["frames"]))
