"""SASE-FE (Ofodile et al. 2017, "Automatic recognition of deceptive facial expressions of emotion"):
50 participants, 643 videos at 100 fps, 3-4 s each, six emotions shown genuinely and faked.

The set is distributed on request as one folder of videos per participant; this loader reads
(and `write_synthetic` writes) that layout, with the file names of the release:

    SASE-FE/
      <participant>/            one folder per participant (its name is the subject id)
        N2H.mp4 N2S.mp4 ...     genuine: from neutral (N) to the emotion
        H2N2A.mp4 ...           fake: the emotion first induced, through neutral, to the faked one
                                (the last code is always the displayed emotion)

Emotion codes: H happiness, S sadness, A anger, D disgust, C contempt, Sur surprise (any
case; .mp4, .avi, .mov or .mkv). Each video gives one clip: `clip_frames` frames spread
evenly over 50% to 80% of its duration (nested_lstm, Section 4; datasets/video.py), as
grayscale centre squares of `size` pixels (face detection belongs to the paper's prepare
step). `labels="emotion"` gives the six emotions (Table 6-8's task), `"emotion_authenticity"`
the twelve emotion x genuine/fake classes (Tables 9-10). A video that cannot be read, or
whose window holds fewer than `clip_frames` frames, is skipped and counted.

Subject-wise split (the paper: "The training set has 40 participant videos, whereas the
validation set contains 8 participant videos", 80% / 10% / 10% of the videos): participants
in sorted order go 40 to train, 2 to val and the last 8 to test, the paper's 8-participant
set being the one it reports on; with fewer participants (synthetic data) the counts scale.
"""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from datasets import synthetic
from datasets.base import Dataset, DatasetError, Provenance, require_exists
from datasets.samm import face_square, synthetic_frames
from datasets.video import (
    EXPRESSION_WINDOW,
    VIDEO_SUFFIXES,
    count_frames,
    read_frames,
    spread_clip,
    window_indices,
    write_video,
)

EMOTIONS = ["anger", "contempt", "disgust", "happiness", "sadness", "surprise"]
CODES = {"a": "anger", "c": "contempt", "d": "disgust", "h": "happiness", "s": "sadness", "sur": "surprise"}
AUTHENTICITY = ("genuine", "fake")
LABEL_CHOICES = ("emotion", "emotion_authenticity")
SPLIT_SUBJECTS = {"train": 40, "val": 2, "test": 8}
CLIP_FRAMES = 5


def class_names(labels):
    if labels not in LABEL_CHOICES:
        raise ValueError(f"labels must be one of {LABEL_CHOICES}, got {labels!r}")
    return EMOTIONS if labels == "emotion" else [f"{e}_{a}" for e in EMOTIONS for a in AUTHENTICITY]


def parse_name(stem):
    """(emotion, 'genuine' | 'fake') from a release file name such as N2H or H2N2A, or None."""
    codes = stem.lower().split("2")
    emotion = CODES.get(codes[-1])
    if emotion is None or not all(c in CODES or c == "n" for c in codes[:-1]):
        return None
    if codes == ["n", codes[-1]]:
        return emotion, "genuine"
    if len(codes) == 3 and codes[1] == "n":
        return emotion, "fake"
    return None


def subject_splits(subjects, counts):
    """{subject: split} for sorted subjects dealt to the splits in order, counts scaled to the number present
    (each split keeps at least one subject)."""
    ordered = sorted(set(subjects))
    if len(ordered) < len(counts):
        raise ValueError(f"{len(ordered)} subjects cannot fill the {len(counts)} splits {list(counts)}")
    total = sum(counts.values())
    sizes = {name: max(1, round(n * len(ordered) / total)) for name, n in counts.items()}
    largest = max(sizes, key=sizes.get)
    sizes[largest] += len(ordered) - sum(sizes.values())
    split, start = {}, 0
    for name, size in sizes.items():
        split.update({s: name for s in ordered[start:start + size]})
        start += size
    return split


def video_clip(video, clip_frames, window, size, centre_fraction):
    """One clip (clip_frames, size, size) spread over the window of a video (DatasetError / ValueError if not)."""
    n = count_frames(video)
    wanted = spread_clip(window_indices(n, *window), clip_frames)
    decoded = read_frames(video, wanted)
    missing = [int(i) for i in wanted if int(i) not in decoded]
    if missing:
        raise DatasetError(video, f"frames {missing} of {n} could not be decoded")
    return np.stack([face_square(decoded[int(i)], "centre", size, centre_fraction) for i in wanted])


def load(path, size=48, labels="emotion", clip_frames=CLIP_FRAMES, window=EXPRESSION_WINDOW,
         centre_fraction=0.8) -> Dataset:
    """Read SASE-FE's participant folders of videos into one clip per video (see the module doc)."""
    root = require_exists(path)
    names = class_names(labels)
    provenance = Provenance(str(root))
    clips, targets, subjects, sequences = [], [], [], []
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DatasetError(root, "no participant folders (expected <participant>/N2H.mp4, H2N2A.mp4, ...)")
    for folder in folders:
        for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
            parsed = parse_name(video.stem)
            if parsed is None:
                provenance.skip(video, "file name is not a SASE-FE code (N2<emotion> or <induced>2N2<emotion>)")
                continue
            try:
                clip = video_clip(video, clip_frames, window, size, centre_fraction)
            except (DatasetError, ValueError) as error:
                provenance.skip(video, getattr(error, "problem", str(error)))
                continue
            emotion, authenticity = parsed
            clips.append(clip)
            targets.append(names.index(emotion if labels == "emotion" else f"{emotion}_{authenticity}"))
            subjects.append(folder.name)
            sequences.append(f"{folder.name}/{video.stem}")
            provenance.read += 1
    if not clips:
        raise DatasetError(root, f"no SASE-FE video could be read (skipped: {provenance.skipped[:3]})")
    split = subject_splits(subjects, SPLIT_SUBJECTS)
    provenance.notes.append(f"one {clip_frames}-frame clip per video from {window[0]:.0%} to {window[1]:.0%} of its "
                            f"duration; participants per split {dict(collections.Counter(split.values()))}")
    return Dataset("sasefe", np.stack(clips), np.array(targets), names, provenance,
                   splits=np.array([split[s] for s in subjects]), subjects=np.array(subjects),
                   sequences=np.array(sequences))


def write_synthetic(root, seed=0, n_subjects=10, frames=30, face_size=64, frame_shape=(96, 120), fps=100,
                    suffix=".mp4") -> Path:
    """Write the SASE-FE layout: per participant a genuine and a fake video of each emotion.

    Synthetic faces go neutral -> apex over the video; a fake is drawn at 55% of the genuine
    intensity (a weaker, posed display), which keeps the 12-class task learnable.
    """
    root = Path(root) / "SASE-FE"
    rng = np.random.default_rng([seed, 21])
    n = 2 * n_subjects * len(EMOTIONS)  # dealt at random: twice as many covers most participant x emotion pairs
    code_of = {emotion: code.capitalize() if code != "sur" else "Sur" for code, emotion in CODES.items()}
    for authenticity, intensity, offset in (("genuine", 1.0, 0), ("fake", 0.55, 1)):
        clips, labels, subjects = synthetic.face_sequences(n, EMOTIONS, frames=frames, size=face_size,
                                                           seed=seed * 2 + offset, n_subjects=n_subjects,
                                                           intensity=intensity)
        clips = synthetic_frames(clips, frame_shape, rng)
        taken = set()
        for clip, label, subject in zip(clips, labels, subjects):
            emotion = EMOTIONS[label]
            if (subject, emotion) in taken:
                continue  # one video per participant, emotion and authenticity, as the release
            taken.add((subject, emotion))
            induced = "H" if emotion != "happiness" else "S"
            stem = f"N2{code_of[emotion]}" if authenticity == "genuine" else f"{induced}2N2{code_of[emotion]}"
            (root / subject).mkdir(parents=True, exist_ok=True)
            write_video(clip, root / subject / f"{stem}{suffix}", fps=fps)
    return root
