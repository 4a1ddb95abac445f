"""Oulu-CASIA NIR&VIS facial expression database (Zhao et al. 2011): 80 subjects, six emotions,
one sequence per subject and emotion from neutral to apex, 25 fps, under three lights and
two cameras (visible light VL, near infrared NI).

The set is distributed as frame folders; this loader reads (and `write_synthetic` writes)
that layout, and also accepts a video file in place of a sequence's folder:

    Oulu-CASIA/OriginalImg/<imaging>/<lighting>/P001/Anger/000.jpeg 001.jpeg ...
                                                    /Anger.avi  (a video instead of the folder)

imaging VL or NI, lighting Strong, Weak or Dark (the paper's 480 videos are 80 x 6: one
camera and one light, VL / Strong by default). The path may be the root, OriginalImg, or
the <imaging>/<lighting> folder itself. Emotions: Anger, Disgust, Fear, Happiness, Sadness,
Surprise (any case). Each sequence gives one clip: `clip_frames` frames spread evenly over
50% to 80% of its length (nested_lstm, Section 4; datasets/video.py), as grayscale centre
squares of `size` pixels. A sequence that cannot be read or is too short is skipped and counted.

Subject-wise split (the paper: 65 training and 15 validation participants, 80% / 20%):
subjects in sorted order go 60 to train, 5 to val (carved from the paper's 65 for model
selection) and the last 15 to test; with fewer subjects (synthetic data) the counts scale.
"""
from __future__ import annotations

import collections
from pathlib import Path

import cv2
import numpy as np

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, require_exists
from datasets.samm import face_square, synthetic_frames
from datasets.sasefe import CLIP_FRAMES, subject_splits, video_clip
from datasets.video import EXPRESSION_WINDOW, VIDEO_SUFFIXES, spread_clip, window_indices

CLASS_NAMES = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp")
SPLIT_SUBJECTS = {"train": 60, "val": 5, "test": 15}


def sequences_root(root, imaging, lighting):
    """The <imaging>/<lighting> folder under root, OriginalImg, or root itself."""
    for candidate in (root / "OriginalImg" / imaging / lighting, root / imaging / lighting, root):
        if candidate.is_dir() and any(p.is_dir() and p.name.upper().startswith("P") for p in candidate.iterdir()):
            return candidate
    raise DatasetError(root, f"no subject folders (P001, ...) under OriginalImg/{imaging}/{lighting}, "
                             f"{imaging}/{lighting} or the folder itself")


def folder_clip(folder, clip_frames, window, size, centre_fraction):
    """One clip spread over the window of a folder of frames (DatasetError / ValueError if not)."""
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=frame_number)
    if not files:
        raise DatasetError(folder, "no frame images (.jpeg, .jpg, .png, .bmp)")
    frames = []
    for i in spread_clip(window_indices(len(files), *window), clip_frames):
        image = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DatasetError(files[i], "unreadable image")
        frames.append(face_square(image, "centre", size, centre_fraction))
    return np.stack(frames)


def frame_number(path):
    digits = "".join(c for c in path.stem if c.isdigit())
    return (int(digits) if digits else -1, path.name)


def load(path, size=48, imaging="VL", lighting="Strong", clip_frames=CLIP_FRAMES, window=EXPRESSION_WINDOW,
         centre_fraction=0.8) -> Dataset:
    """Read Oulu-CASIA's subject / emotion sequences into one clip per sequence (see the module doc)."""
    root = sequences_root(require_exists(path), imaging, lighting)
    provenance = Provenance(str(root))
    clips, labels, subjects, sequences = [], [], [], []
    for subject in sorted(p for p in root.iterdir() if p.is_dir()):
        for entry in sorted(subject.iterdir()):
            emotion = entry.stem.lower() if entry.is_file() else entry.name.lower()
            if entry.is_file() and entry.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            if emotion not in CLASS_NAMES:
                provenance.skip(entry, f"not one of the emotions {', '.join(CLASS_NAMES)}")
                continue
            try:
                reader = folder_clip if entry.is_dir() else video_clip
                clip = reader(entry, clip_frames, window, size, centre_fraction)
            except (DatasetError, ValueError) as error:
                provenance.skip(entry, getattr(error, "problem", str(error)))
                continue
            clips.append(clip)
            labels.append(CLASS_NAMES.index(emotion))
            subjects.append(subject.name)
            sequences.append(f"{subject.name}/{emotion}")
            provenance.read += 1
    if not clips:
        raise DatasetError(root, f"no Oulu-CASIA sequence could be read (skipped: {provenance.skipped[:3]})")
    split = subject_splits(subjects, SPLIT_SUBJECTS)
    per_split = dict(collections.Counter(split.values()))
    provenance.notes.append(f"{imaging}/{lighting}: one {clip_frames}-frame clip per sequence from {window[0]:.0%} to "
                            f"{window[1]:.0%} of its length; subjects per split {per_split}")
    return Dataset("oulu", np.stack(clips), np.array(labels), CLASS_NAMES, provenance,
                   splits=np.array([split[s] for s in subjects]), subjects=np.array(subjects),
                   sequences=np.array(sequences))


def write_synthetic(root, seed=0, n_subjects=10, frames=20, face_size=64, frame_shape=(96, 120),
                    imaging="VL", lighting="Strong") -> Path:
    """Write the Oulu-CASIA layout: per subject one folder of .jpeg frames per emotion, neutral -> apex."""
    root = Path(root) / "Oulu-CASIA"
    base = root / "OriginalImg" / imaging / lighting
    rng = np.random.default_rng([seed, 22])
    clips, labels, subjects = synthetic.face_sequences(2 * n_subjects * len(CLASS_NAMES), CLASS_NAMES,
                                                       frames=frames, size=face_size, seed=seed,
                                                       n_subjects=n_subjects)
    clips = synthetic_frames(clips, frame_shape, rng)
    taken = set()
    for clip, label, subject in zip(clips, labels, subjects):
        name = f"P{int(subject[1:]):03d}"
        if (name, label) in taken:
            continue  # one sequence per subject and emotion, as the release
        taken.add((name, label))
        folder = base / name / CLASS_NAMES[label].capitalize()
        folder.mkdir(parents=True, exist_ok=True)
        for number, frame in enumerate(clip):
            cv2.imwrite(str(folder / f"{number:03d}.jpeg"), frame)
    return root
