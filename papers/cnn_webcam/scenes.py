"""Videos with faces in them, for testing and timing the application.

No webcam recording ships with the suite, so we compose one: 48x48 faces
(FER2013 PrivateTest for the benchmark, synthetic faces for CI) enlarged and
pasted at varied positions and sizes onto larger frames of smooth background
clutter, one to three faces per frame (independent frames: the benchmark's), or
one face gliding across one background (a video: for following faces between
detections), and written with OpenCV's VideoWriter. `match_faces` tells which
detected boxes are faces that were placed, so false detections are not counted
as faces found.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def background(rng, height, width):
    """Smooth gray clutter: blurred noise, so that the detector has something that is not a face."""
    noise = rng.integers(40, 200, (height // 8, width // 8)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 2)


def compose_frames(faces, n_frames, height=480, width=640, faces_per_frame=(1, 3), sizes=(110, 200), seed=0):
    """Frames (n, height, width) uint8 with faces pasted in, and per frame the list of
    (face index, x, y, size) placed. Faces never overlap; each keeps a 15% reflected border,
    as a camera would show forehead, cheeks and chin around the face."""
    rng = np.random.default_rng(seed)
    frames = np.empty((n_frames, height, width), np.uint8)
    placements = []
    for f in range(n_frames):
        frame, placed = background(rng, height, width), []
        for _ in range(int(rng.integers(faces_per_frame[0], faces_per_frame[1] + 1))):
            for _attempt in range(20):
                size = int(rng.integers(*sizes))
                x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
                if all(x + size <= px or px + ps <= x or y + size <= py or py + ps <= y for _, px, py, ps in placed):
                    index = int(rng.integers(len(faces)))
                    frame[y:y + size, x:x + size] = _with_border(faces[index], size)
                    placed.append((index, x, y, size))
                    break
        frames[f] = frame
        placements.append(placed)
    return frames, placements


def moving_frames(face, n_frames, height=240, width=320, size=100, step=(6, 3), seed=0):
    """A video: one face glides by `step` pixels a frame across a still background, bouncing
    off the edges. Frames and placements as compose_frames (face index 0)."""
    still = background(np.random.default_rng(seed), height, width)
    frames = np.empty((n_frames, height, width), np.uint8)
    position, velocity, placements = [10, 10], list(step), []
    patch = _with_border(face, size)
    for f in range(n_frames):
        for axis, limit in ((0, width), (1, height)):
            if not 0 <= position[axis] + velocity[axis] <= limit - size:
                velocity[axis] = -velocity[axis]
            position[axis] += velocity[axis]
        x, y = position
        frames[f] = still
        frames[f, y:y + size, x:x + size] = patch
        placements.append([(0, x, y, size)])
    return frames, placements


def match_faces(boxes, placed):
    """Pairs (box index, placement index): a box matches a placed face when its centre lies
    inside the face's square and its width is 0.4 to 1.3 times the square's (detectors box
    the face, not the reflected border around it); each placed face matches one box at most."""
    pairs, taken = [], set()
    for b, (x, y, w, h) in enumerate(boxes):
        cx, cy = x + w / 2, y + h / 2
        for p, (_face, px, py, size) in enumerate(placed):
            if p not in taken and px <= cx <= px + size and py <= cy <= py + size and 0.4 * size <= w <= 1.3 * size:
                pairs.append((b, p))
                taken.add(p)
                break
    return pairs


def _with_border(face, size):
    pad = int(round(0.15 * face.shape[0]))
    return cv2.resize(cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REFLECT), (size, size),
                      interpolation=cv2.INTER_LINEAR)


def write_video(frames, path, fps=10):
    """Gray frames -> a colour .avi (MJPG) or .mp4 (mp4v) that cv2.VideoCapture reads back."""
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
