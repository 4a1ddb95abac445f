"""CK+ (Extended Cohn-Kanade): posed sequences from neutral to apex, 7 emotion labels.

Two layouts are detected automatically:
- CK+48: `<root>/<class>/S010_004_00000017.png`, the last three frames of each of
  the 327 labelled sequences, already 48x48 face crops. An image of another size is
  counted in provenance with its size and, by default, skipped (`wrong_size="skip"`):
  every image of the release is a 48x48 crop made the same way, so one of another
  size (a whole frame, a thumbnail, a broken export) is not such a crop, and resizing
  it would slip a differently framed face, under a label nobody checked, among the
  crops. `wrong_size="resize"` keeps such images, resized, each recorded in
  provenance.altered. A sequence whose frames sit in two class folders is skipped.
- the original distribution: `<root>/cohn-kanade-images/S005/001/S005_001_00000011.png`
  and `<root>/Emotion/S005/001/S005_001_00000011_emotion.txt` holding a float code
  (1 anger .. 7 surprise). Only sequences with an Emotion file are labelled; the
  last `frames_per_sequence` frames of each are read, in grayscale, resized whole
  to `size` (no face detection here: that belongs to the paper's preprocessing).

Items are single frames, sorted by subject, sequence, frame, so the frames of a
sequence are consecutive and in order (`sequences` and `frames` rebuild clips).
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, check_wrong_size, nothing_read, read_gray, require_exists

CLASS_NAMES = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
# Emotion file codes: 0 neutral, then CLASS_NAMES in order (1 anger .. 7 surprise).
_FRAME_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
CK48_SIZE = 48


def load(path, size=48, frames_per_sequence=3, wrong_size="skip") -> Dataset:
    """Read CK+ in the CK+48 or the original layout.

    `frames_per_sequence`: keep the last k frames of each labelled sequence (None: all).
    `wrong_size`: "skip" or "resize" a CK+48 image that is not 48x48 (see the module docstring).
    """
    check_wrong_size(wrong_size)
    root = require_exists(path)
    if not root.is_dir():
        raise DatasetError(root, "not a folder: CK+ is a folder of class folders (CK+48) or of "
                                 "cohn-kanade-images/ and Emotion/ (original layout)")
    provenance = Provenance(str(root))
    native = None  # the original frames are resized whole to `size`
    if (root / "cohn-kanade-images").is_dir():
        frames = _original_frames(root, provenance)
    elif any(d.is_dir() and d.name.lower() in CLASS_NAMES for d in root.iterdir()):
        frames = _ck48_frames(root, provenance)
        native = CK48_SIZE
    else:
        raise DatasetError(root, "neither the CK+48 layout (<class>/S*_*_*.png with class folders "
                                 f"{', '.join(CLASS_NAMES)}) nor the original one (cohn-kanade-images/ + Emotion/)")
    if frames_per_sequence is not None:
        frames = _last_frames(frames, frames_per_sequence)
        provenance.notes.append(f"kept the last {frames_per_sequence} frames of each sequence")

    kept, images = [], []
    for frame in sorted(frames):
        subject, sequence, number, label, file = frame
        image = read_gray(file, size, provenance, native=native, wrong_size=wrong_size)
        if image is None:
            continue
        images.append(image)
        kept.append(frame)
    provenance.read = len(kept)
    if not kept:
        raise nothing_read(root, "labelled CK+ images", provenance)
    subjects, sequences, numbers, labels, _ = zip(*kept)
    return Dataset("ckplus", np.stack(images), np.array(labels), list(CLASS_NAMES), provenance,
                   subjects=np.array(subjects), sequences=np.array(sequences), frames=np.array(numbers))


def _parse_name(file):
    """(subject 'S010', sequence 'S010_004', frame 17) from 'S010_004_00000017.png', or None."""
    match = _FRAME_NAME.match(file.stem)
    if match is None:
        return None
    subject, sequence, frame = match.groups()
    return subject, f"{subject}_{sequence}", int(frame)


def _images_in(folder):
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES)


def _ck48_frames(root, provenance):
    """(subject, sequence, frame, label, file) for every image in the class folders,
    but those of a sequence filed under two classes (its label is unknown)."""
    provenance.notes.append("CK+48 layout")
    frames = []
    for class_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        name = class_dir.name.lower()
        for file in _images_in(class_dir):
            parsed = _parse_name(file)
            if name not in CLASS_NAMES:
                provenance.skip(file, f"unknown class folder {class_dir.name!r}")
            elif parsed is None:
                provenance.skip(file, "file name is not S<subject>_<sequence>_<frame>")
            else:
                frames.append((*parsed, CLASS_NAMES.index(name), file))
    classes_of = {}
    for _, sequence, _, label, _ in frames:
        classes_of.setdefault(sequence, set()).add(CLASS_NAMES[label])
    kept = []
    for frame in frames:
        sequence, file = frame[1], frame[4]
        if len(classes_of[sequence]) > 1:
            provenance.skip(file, f"sequence {sequence} is filed under {' and '.join(sorted(classes_of[sequence]))}")
        else:
            kept.append(frame)
    return kept


def _original_frames(root, provenance):
    """(subject, sequence, frame, label, file) for every frame of every sequence that has an Emotion file."""
    images_root, emotion_root = root / "cohn-kanade-images", root / "Emotion"
    if not emotion_root.is_dir():
        raise DatasetError(root, "original CK+ layout without its Emotion/ folder: no labels")
    all_sequences = {(d.parent.name, d.name) for d in images_root.glob("*/*") if d.is_dir()}
    frames, labelled = [], set()
    for emotion_file in sorted(emotion_root.glob("*/*/*_emotion.txt")):
        subject_dir, sequence_dir = emotion_file.parent.parent.name, emotion_file.parent.name
        label = _read_emotion(emotion_file, provenance)
        if label is None:
            continue
        sequence_folder = images_root / subject_dir / sequence_dir
        if not sequence_folder.is_dir():
            provenance.skip(emotion_file, f"no image folder {sequence_folder} for this label")
            continue
        labelled.add((subject_dir, sequence_dir))
        if not _images_in(sequence_folder):
            provenance.skip(sequence_folder, "labelled sequence without image files")
        for file in _images_in(sequence_folder):
            parsed = _parse_name(file)
            if parsed is None:
                provenance.skip(file, "file name is not S<subject>_<sequence>_<frame>")
            else:
                frames.append((*parsed, label, file))
    provenance.notes.append(f"original layout: {len(labelled)} labelled sequences; "
                            f"{len(all_sequences - labelled)} sequences without an Emotion file are unlabelled "
                            "and not loaded")
    return frames


def _read_emotion(file, provenance):
    """The class index from an Emotion file ('   3.0000000e+00' -> disgust), or None after recording why."""
    try:
        text = file.read_text().strip()
    except (OSError, UnicodeDecodeError):
        provenance.skip(file, "unreadable emotion code (not a text file)")
        return None
    try:
        code = float(text)
    except ValueError:
        provenance.skip(file, f"unreadable emotion code {text[:20]!r} (not a number)")
        return None
    if code == 0:
        provenance.skip(file, "emotion code 0 (neutral) is not one of CK+'s 7 emotion classes")
        return None
    if not code.is_integer() or not 1 <= code <= len(CLASS_NAMES):
        provenance.skip(file, f"emotion code {code:g} outside 1..{len(CLASS_NAMES)}")
        return None
    return int(code) - 1


def _last_frames(frames, k):
    """The last k frames (by frame number) of each sequence."""
    by_sequence = {}
    for frame in frames:
        by_sequence.setdefault(frame[1], []).append(frame)
    return [f for sequence in by_sequence.values() for f in sorted(sequence, key=lambda f: f[2])[-k:]]


def write_synthetic(root, seed=0, n_subjects=12, layout="ck+48", sequences_per_class=4) -> Path:
    """Write synthetic CK+ sequences in the CK+48 or the original layout; returns `root`.

    CK+48 gets the last 3 frames of 10-frame sequences at 48x48. The original layout
    gets whole 8-frame sequences at 64x64 with Emotion files, plus a few unlabelled
    sequences (no Emotion file), as the real distribution has.
    """
    if layout not in ("ck+48", "original"):
        raise ValueError(f"unknown CK+ layout {layout!r}; use 'ck+48' or 'original'")
    root = Path(root)
    n_labelled = sequences_per_class * len(CLASS_NAMES)
    frames, size = (10, 48) if layout == "ck+48" else (8, 64)
    clips, labels, subjects = synthetic.face_sequences(n_labelled, CLASS_NAMES, frames=frames, size=size,
                                                       seed=seed, n_subjects=n_subjects)
    next_sequence = {}

    def sequence_id(subject):
        next_sequence[subject] = next_sequence.get(subject, 0) + 1
        return f"{next_sequence[subject]:03d}"

    for clip, label, subject in zip(clips, labels, subjects):
        sequence = sequence_id(subject)
        if layout == "ck+48":
            folder = root / CLASS_NAMES[label]
            first = frames - 3
        else:
            folder = root / "cohn-kanade-images" / subject / sequence
            first = 0
            emotion_folder = root / "Emotion" / subject / sequence
            emotion_folder.mkdir(parents=True, exist_ok=True)
            (emotion_folder / f"{subject}_{sequence}_{frames:08d}_emotion.txt").write_text(f"   {label + 1:.7e}\n")
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(first, frames):
            cv2.imwrite(str(folder / f"{subject}_{sequence}_{number + 1:08d}.png"), clip[number])

    if layout == "original":
        n_unlabelled = max(1, n_subjects // 4)
        clips, _, subjects = synthetic.face_sequences(n_unlabelled, CLASS_NAMES, frames=frames, size=size,
                                                      seed=seed, n_subjects=n_subjects)
        for clip, subject in zip(clips, subjects):
            sequence = sequence_id(subject)
            folder = root / "cohn-kanade-images" / subject / sequence
            folder.mkdir(parents=True)
            (root / "Emotion" / subject / sequence).mkdir(parents=True)  # as in CK+: a folder, no label
            for number, image in enumerate(clip, start=1):
                cv2.imwrite(str(folder / f"{subject}_{sequence}_{number:08d}.png"), image)
    return root
