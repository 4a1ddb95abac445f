"""Video in one place: reading frames from files, choosing the expressive window, building clips.

The video papers and loaders share three steps, kept here so that each is written once:

- reading: `read_video` (every frame, gray) and `count_frames` (a clear DatasetError for a file
  OpenCV cannot open or that holds no frame), `read_frames` (only the wanted frame indices, lenient: a frame
  past the end is simply absent, for loaders that count missing frames one by one),
  `find_video` and `write_video`;
- the expressive window: `window_indices` keeps the frames from 50% to 80% of a video's
  duration (nested_lstm, Section 4: the videos start neutral, the expression comes later);
- clips: `spread_clip` takes `length` frames evenly over a window (one clip shows the
  whole articulation), `consecutive_clips` cuts a window into back-to-back clips, and
  `sequence_clips` turns a frame-per-item Dataset into one clip per sequence (its last frames).
"""
from __future__ import annotations

import collections
import math
from pathlib import Path

import cv2
import numpy as np

from datasets.base import Dataset, DatasetError, Provenance

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
EXPRESSION_WINDOW = (0.5, 0.8)  # fractions of the duration kept by nested_lstm's pre-processing


def find_video(root, name, folders=("videos", ".")):
    """The video `name` (with or without its suffix) in `root`/videos or `root`, or None."""
    root, stem, suffix = Path(root), Path(name).stem, Path(name).suffix
    for folder in folders:
        for candidate_suffix in ((suffix,) if suffix else VIDEO_SUFFIXES):
            candidate = root / folder / f"{stem}{candidate_suffix}"
            if candidate.exists():
                return candidate
    return None


def read_frames(video, wanted):
    """{frame index: gray frame} for the wanted indices, decoding the video once from the start.

    Frames past the end are absent from the result (the caller decides how to count them);
    a video of which not even the first frame decodes is a DatasetError naming it.
    """
    wanted = set(wanted)
    if not wanted:
        return {}
    found, index, last = {}, -1, max(wanted)  # index: the last frame decoded, -1 for none
    for index, frame in enumerate(gray_frames(cv2.VideoCapture(str(video)))):
        if index in wanted:
            found[index] = frame
        if index == last:
            break
    if index < 0:
        raise DatasetError(video, "unreadable video (OpenCV decodes no frame of it)")
    return found


def open_video(video):
    """An opened cv2.VideoCapture, or a DatasetError naming the file (missing, corrupt, unknown codec)."""
    video = Path(video)
    if not video.is_file():
        raise DatasetError(video, "video file does not exist")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        capture.release()
        raise DatasetError(video, "OpenCV cannot open it as a video (corrupt, empty or an unknown codec)")
    return capture


def read_video(video):
    """Every frame of a video file as gray uint8 (T, H, W), and its frame rate (0.0 when unknown).

    Raises DatasetError naming the file when OpenCV cannot open it (missing codec, corrupt
    or not a video) or when it decodes no frame at all (empty or truncated file).
    """
    capture = open_video(video)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    frames = list(gray_frames(capture))
    if not frames:
        raise DatasetError(video, "the video holds no decodable frame (empty or truncated)")
    if len({f.shape for f in frames}) > 1:
        raise DatasetError(video, f"frames of different sizes: {sorted({f.shape for f in frames})}")
    return np.stack(frames), fps


def count_frames(video):
    """The number of frames a video file decodes to (counted by decoding: container headers may be wrong).

    Raises DatasetError naming the file when OpenCV cannot open it or it holds no frame.
    """
    capture = open_video(video)
    n = 0
    while capture.grab():
        n += 1
    capture.release()
    if n == 0:
        raise DatasetError(video, "the video holds no decodable frame (empty or truncated)")
    return n


def gray_frames(capture):
    """A cv2.VideoCapture's frames in order, gray (none where it did not open); releases it when they run out or
    the reader stops."""
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield to_gray(frame)
    finally:
        capture.release()


def to_gray(frame):
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def write_video(frames, path, fps=10):
    """Gray frames (T, H, W) -> a colour .avi (MJPG) or .mp4 (mp4v) that cv2.VideoCapture reads back."""
    path = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() == ".mp4" else "MJPG"))
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write video {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def window_indices(n_frames, start=EXPRESSION_WINDOW[0], end=EXPRESSION_WINDOW[1]):
    """Indices of the frames shown from `start` to `end` (fractions) of the duration, end excluded.

    Frame i is shown at time i / fps of a video lasting n_frames / fps, so the kept frames
    are those with start * n_frames <= i < end * n_frames: frames 50..79 of a 100-frame video.
    """
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f"the window must satisfy 0 <= start < end <= 1, got {start}, {end}")
    first = math.ceil(start * n_frames - 1e-9)
    stop = math.ceil(end * n_frames - 1e-9)
    return np.arange(first, max(first, stop))


def spread_clip(indices, length):
    """`length` of `indices` spread evenly from the first to the last (the whole window in one clip)."""
    indices = np.asarray(indices)
    if len(indices) < length:
        raise ValueError(f"{len(indices)} frames in the window, a clip needs {length}")
    return indices[np.round(np.linspace(0, len(indices) - 1, length)).astype(int)]


def consecutive_clips(indices, length):
    """The window cut into back-to-back clips of `length` consecutive frames (a short remainder is dropped)."""
    indices = np.asarray(indices)
    return [indices[i:i + length] for i in range(0, len(indices) - length + 1, length)]


def sequence_clips(ds: Dataset, classes, length) -> Dataset:
    """One (length, H, W) clip per labelled sequence of `classes` in a frame-per-item Dataset: its last
    `length` frames in order. Sequences of other classes are left out and counted in a note; a sequence
    with too few frames, or with frames of different labels, is skipped with the reason."""
    if ds.sequences is None or ds.frames is None:
        raise ValueError(f"{ds.name}: clips need the loader's sequence and frame ids")
    provenance = Provenance(ds.provenance.path, skipped=list(ds.provenance.skipped), notes=list(ds.provenance.notes))
    members = collections.defaultdict(list)
    for i, sequence in enumerate(ds.sequences):
        members[sequence].append(i)
    clips, labels, subjects, sequences = [], [], [], []
    left_out = collections.Counter()
    for sequence, index in members.items():
        class_name = ds.class_names[ds.labels[index[0]]]
        if class_name not in classes:
            left_out[class_name] += 1
            continue
        if len({int(ds.labels[i]) for i in index}) > 1:
            provenance.skip(sequence, "frames of one sequence carry different labels")
            continue
        if len(index) < length:
            provenance.skip(sequence, f"{len(index)} frames, a clip needs {length}")
            continue
        last = sorted(index, key=lambda i: ds.frames[i])[-length:]
        clips.append(ds.images[last])
        labels.append(classes.index(class_name))
        subjects.append(ds.subjects[index[0]])
        sequences.append(sequence)
    provenance.read = len(clips)
    provenance.notes.append(f"{len(clips)} clips of the last {length} frames of each sequence of {', '.join(classes)}; "
                            f"sequences of other classes left out: {dict(left_out) or 'none'}")
    shape = (0, length, *ds.images.shape[1:])
    return Dataset(f"{ds.name}-clips", np.stack(clips) if clips else np.zeros(shape, np.uint8), np.array(labels),
                   list(classes), provenance, subjects=np.array(subjects), sequences=np.array(sequences))
