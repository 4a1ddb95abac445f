"""Section 4's pre-processing: face, 68 landmarks, frontalisation with and without soft symmetry.

The paper frontalises with Hassner et al.'s method, which renders the face through a 3D
model; no 3D face model ships here, so the substitute is common.toolkit.faces' landmark-based
alignment to a frontal template (in-plane rotation, scale and position; out-of-plane pose
stays). Soft symmetry, which in Hassner's method fills self-occluded regions from the
other half of the face, becomes: the half of the aligned face that the landmarks show as
narrower (turned away from the camera) is blended with the mirror image of the other
half, the mirror's weight rising from 0 at the midline to `SOFT_STRENGTH` at the border.

Each frame gets three views, stacked on a last axis of the clip array (`VIEWS`): the
detected face crop ("Face" in Tables 9-11), the aligned face ("Frontalization", no
symmetry) and the aligned face with soft symmetry; and its geometry: the 68 points
centred on their mean, rotated so the eyes are level and divided by the eye distance
("68 fiducial points normalized in a new center"). dlib finds faces and landmarks on the
frame upscaled x`upscale` (CK+48's faces are 48 pixels); a frame where HOG finds no face
uses the whole frame as the face box (counted). The result is cached on disk by the
clips' pixels and the options.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from common.toolkit import places
from common.toolkit.faces import (
    LEFT_EYE,
    RIGHT_EYE,
    Box,
    DlibFaceDetector,
    DlibLandmarks,
    align_to_template,
    crop_face,
    template_transform,
)
from datasets.base import Dataset

VIEWS = ("face", "aligned", "aligned_soft")
SOFT_STRENGTH = 0.5
NOSE_TIP, JAW_LEFT, JAW_RIGHT = 30, 0, 16
CACHE = places.CACHE / "nested_lstm"


@dataclasses.dataclass
class ClipViews(Dataset):
    """Clips (N, T, H, W, len(VIEWS)) with each frame's normalised geometry (N, T, 136), kept aligned by subset."""
    geometry: np.ndarray | None = None
    face_found: np.ndarray | None = None  # (N, T) bool: HOG found a face (otherwise the whole frame was used)

    def subset(self, index, name=None):
        part = super().subset(index, name)
        index = np.asarray(index)
        part.geometry, part.face_found = self.geometry[index], self.face_found[index]
        return part


def soft_symmetry(aligned, points, strength=SOFT_STRENGTH):
    """The narrower half of an aligned face blended with the mirror of the wider half (see the module doc)."""
    size = aligned.shape[1]
    left_width = points[NOSE_TIP, 0] - points[JAW_LEFT, 0]
    right_width = points[JAW_RIGHT, 0] - points[NOSE_TIP, 0]
    columns = np.arange(size) + 0.5
    ramp = strength * np.clip(np.abs(columns - size / 2) / (size / 2), 0.0, 1.0)
    narrow_half = columns < size / 2 if left_width < right_width else columns >= size / 2
    weight = np.where(narrow_half, ramp, 0.0)[None, :]
    blended = (1.0 - weight) * aligned + weight * aligned[:, ::-1]
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def aligned_points(points):
    """68 points centred on their mean, eyes level, in units of the eye distance (136 numbers)."""
    left, right = points[list(LEFT_EYE)].mean(axis=0), points[list(RIGHT_EYE)].mean(axis=0)
    dx, dy = right - left
    angle = np.arctan2(dy, dx)
    rotation = np.array([[np.cos(-angle), -np.sin(-angle)], [np.sin(-angle), np.cos(-angle)]])
    centred = (points - points.mean(axis=0)) @ rotation.T
    return (centred / max(np.hypot(dx, dy), 1e-6)).astype(np.float32).ravel()


def frame_views(frame, size, upscale, detector, predictor):
    """(face, aligned, aligned_soft) uint8 views of one gray frame, its geometry, and whether HOG found a face."""
    big = cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    boxes = detector.detect(big)
    box = max(boxes, key=lambda b: b.area) if boxes else Box(0, 0, big.shape[1], big.shape[0])
    points = predictor(big, box)
    face = crop_face(big, box, size)
    aligned = align_to_template(big, points, size)
    matrix = template_transform(points, size)
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    return np.stack([face, aligned, soft_symmetry(aligned, moved)], axis=-1), aligned_points(points), bool(boxes)


def clip_views(ds: Dataset, size=48, upscale=4, cache_dir=CACHE) -> ClipViews:
    """Every frame of a clip Dataset (N, T, H, W) through face detection, landmarks and alignment."""
    clips = ds.images
    key = hashlib.sha1(np.ascontiguousarray(clips).tobytes() + f"{clips.shape}-{size}-{upscale}".encode()).hexdigest()
    cache_file = Path(cache_dir) / f"views-{key[:16]}.npz"
    stored = places.read_arrays(cache_file, ("views", "geometry", "face_found"))
    if stored is not None:
        views, geometry, found = stored["views"], stored["geometry"], stored["face_found"]
    else:
        detector, predictor = DlibFaceDetector(upsample=0), DlibLandmarks()
        n, t = clips.shape[:2]
        views = np.empty((n, t, size, size, len(VIEWS)), np.uint8)
        geometry = np.empty((n, t, 136), np.float32)
        found = np.empty((n, t), bool)
        for i in tqdm(range(n), desc="faces, landmarks, alignment", unit="clip"):
            for f in range(t):
                views[i, f], geometry[i, f], found[i, f] = frame_views(clips[i, f], size, upscale, detector, predictor)
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".tmp.npz")
        np.savez(partial, views=views, geometry=geometry, face_found=found)
        partial.replace(cache_file)
    ds.provenance.notes.append(f"{int((~found).sum())} of {found.size} frames without a HOG face: whole frame used")
    return ClipViews(ds.name, views, ds.labels, ds.class_names, ds.provenance, splits=ds.splits,
                     subjects=ds.subjects, sequences=ds.sequences, geometry=geometry, face_found=found)
