"""MEVIEW (Husak, Cech & Matas 2017): micro-expressions in the wild, video clips from
poker games and TV interviews, registered under the loader name "mevie".

The authors publish the clips and a per-clip annotation; no machine-readable layout
is fixed by a paper, so this loader assumes (and `write_synthetic` writes):

    MEVIEW/
      annotations.csv        columns: video, subject, onset, apex, offset, emotion
                             (frame indices, 0-based; further columns such as action_units ignored)
      videos/01.mp4 ...      the clips (.mp4 or .avi; also found beside annotations.csv)

Emotions are those of the release: happiness, contempt, disgust, surprise, fear,
anger and unclear. Each annotated clip gives its frames from onset to offset (or the
apex, or onset/apex/offset) as grayscale squares of `size` pixels, cropped at the
frame's centre or a given box (see datasets/samm.py): face detection belongs to the
paper's prepare step. An annotation row that cannot be used (see datasets/samm.py) is
skipped and recorded with its line number; a video OpenCV cannot decode is one
"unreadable video" skip naming the file.
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, empty_columns, from_columns, require_exists
from datasets.samm import FRAME_CHOICES, face_square, read_csv, synthetic_frames, table_rows, wanted_frames

CLASS_NAMES = ["anger", "contempt", "disgust", "fear", "happiness", "surprise", "unclear"]
ANNOTATION_COLUMNS = ("video", "subject", "onset", "apex", "offset", "emotion")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


def load(path, size=48, frames="expression", crop="centre", centre_fraction=0.8) -> Dataset:
    """Read MEVIEW from its folder (or its annotations.csv); options as datasets.samm.load."""
    path = require_exists(path)
    annotations = path if path.is_file() else path / "annotations.csv"
    if not annotations.exists():
        raise DatasetError(path, "no annotations.csv (columns: " + ", ".join(ANNOTATION_COLUMNS) + ")")
    if frames not in FRAME_CHOICES:
        raise ValueError(f"frames must be one of {FRAME_CHOICES}, got {frames!r}")
    root = annotations.parent
    rows = table_rows(annotations, read_csv(annotations), ANNOTATION_COLUMNS)
    provenance = Provenance(str(root))
    items = empty_columns()
    for line, row in rows:
        if isinstance(row, str):
            provenance.skip(f"{annotations.name} line {line}", row)
            continue
        name, emotion = row["video"].strip(), row["emotion"].strip().lower()
        where = f"{annotations.name} line {line} ({name})"
        if emotion not in CLASS_NAMES:
            provenance.skip(where, f"unknown emotion {emotion!r}")
            continue
        try:
            onset, apex, offset = (int(row[c]) for c in ("onset", "apex", "offset"))
        except ValueError:
            provenance.skip(where, "onset/apex/offset is not an integer")
            continue
        wanted = set(wanted_frames(onset, apex, offset, frames))
        if not wanted:
            provenance.skip(where, f"offset {offset} is before onset {onset}")
            continue
        if min(wanted) < 0:
            provenance.skip(where, f"negative frame index {min(wanted)}")
            continue
        video = find_video(root, name)
        if video is None:
            provenance.skip(where, f"video {name} not found under {root}")
            continue
        try:
            decoded = read_frames(video, wanted)
        except DatasetError as error:
            provenance.skip(video, error.problem)
            continue
        for number in sorted(wanted):
            if number not in decoded:
                provenance.skip(f"{video}/frame {number}", "frame not decodable (beyond the end of the video?)")
                continue
            square = face_square(decoded[number], crop, size, centre_fraction)
            if square is None:
                height, width = decoded[number].shape
                provenance.skip(f"{video}/frame {number}", f"{width}x{height} frame: no pixel inside the crop")
                continue
            items["images"].append(square)
            items["labels"].append(CLASS_NAMES.index(emotion))
            items["subjects"].append(row["subject"].strip())
            items["sequences"].append(f"{name}:{onset}")
            items["frames"].append(number)
            provenance.read += 1
    return from_columns("mevie", items, CLASS_NAMES, provenance, root)


def find_video(root, name):
    stem = Path(name).stem
    for folder in (root / "videos", root):
        for suffix in ((Path(name).suffix,) if Path(name).suffix else VIDEO_SUFFIXES):
            candidate = folder / f"{stem}{suffix}"
            if candidate.exists():
                return candidate
    return None


def read_frames(video, wanted):
    """{frame index: gray frame} for the wanted indices, decoding the video once from the start;
    DatasetError when not even its first frame decodes."""
    capture = cv2.VideoCapture(str(video))
    found, index, last = {}, 0, max(wanted)
    while capture.isOpened() and index <= last:
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            found[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        index += 1
    capture.release()
    if index == 0:
        raise DatasetError(video, "unreadable video (OpenCV decodes no frame of it)")
    return found


def write_synthetic(root, seed=0, n_clips=28, frames=9, face_size=96, frame_shape=(160, 200)) -> Path:
    """Write a MEVIEW-layout folder: one synthetic .avi per expression clip, and annotations.csv."""
    root = Path(root) / "MEVIEW"
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 12])
    drawable = [synthetic.OTHER if c == "unclear" else c for c in CLASS_NAMES]  # unclear: a weak blend
    clips, labels, subjects = synthetic.face_sequences(n_clips, drawable, frames=frames, size=face_size,
                                                       seed=seed, n_subjects=8, offset=True)
    clips = synthetic_frames(clips, frame_shape, rng)
    height, width = frame_shape
    with open(root / "annotations.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["video", "subject", "onset", "apex", "offset", "emotion", "action_units"])
        for i, (clip, label, subject) in enumerate(zip(clips, labels, subjects)):
            name = f"{i + 1:02d}.avi"
            writer = cv2.VideoWriter(str(root / "videos" / name), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                                     (width, height))
            for frame in clip:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
            writer.release()
            out.writerow([name, subject, 1, frames // 2, frames - 2, CLASS_NAMES[label], "12"])
    return root
