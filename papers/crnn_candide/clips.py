"""CK+ sequences -> the paper's 3-frame clips of 5 expressions (Section III).

"The data collection contains the last three frames of each such video clip ...
combined into a single short three-frame video clip", and each clip is classified
as one of "happiness, anger, sadness, fear, and surprise". CK+48 holds exactly
the last three frames of each labelled sequence, so a clip is one sequence's
frames in order. Sequences of the other two CK+ classes (contempt, disgust) are
left out and counted; a sequence with fewer than 3 frames is skipped and recorded.
"""
from __future__ import annotations

import collections

import numpy as np

from datasets.base import Dataset, Provenance

PAPER_CLASSES = ["happy", "anger", "sadness", "fear", "surprise"]  # the paper's order
CLIP_FRAMES = 3


def three_frame_clips(ds: Dataset, classes=PAPER_CLASSES, length=CLIP_FRAMES) -> Dataset:
    """One (length, H, W) clip per labelled sequence of `classes`: its last `length` frames in order."""
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


def prepare(ds: Dataset, config: dict) -> Dataset:
    """The runner's hook: the experiment's class list and clip length."""
    return three_frame_clips(ds, config.get("classes", PAPER_CLASSES), config.get("clip_frames", CLIP_FRAMES))
