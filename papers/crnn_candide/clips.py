"""CK+ sequences -> the paper's 3-frame clips of 5 expressions (Section III).

"The data collection contains the last three frames of each such video clip ...
combined into a single short three-frame video clip", and each clip is classified
as one of "happiness, anger, sadness, fear, and surprise". CK+48 holds exactly
the last three frames of each labelled sequence, so a clip is one sequence's
frames in order. Sequences of the other two CK+ classes (contempt, disgust) are
left out and counted; a sequence with fewer than 3 frames is skipped and recorded.
"""
from __future__ import annotations

from datasets.base import Dataset
from datasets.video import sequence_clips

PAPER_CLASSES = ["happy", "anger", "sadness", "fear", "surprise"]  # the paper's order
CLIP_FRAMES = 3


def three_frame_clips(ds: Dataset, classes=PAPER_CLASSES, length=CLIP_FRAMES) -> Dataset:
    """One (length, H, W) clip per labelled sequence of `classes`: its last `length` frames in order."""
    return sequence_clips(ds, classes, length)


def prepare(ds: Dataset, config: dict) -> Dataset:
    """The runner's hook: the experiment's class list and clip length."""
    return three_frame_clips(ds, config.get("classes", PAPER_CLASSES), config.get("clip_frames", CLIP_FRAMES))
