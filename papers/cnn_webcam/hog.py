"""Histogram of Oriented Gradients: the hand-crafted half of the paper's hybrid input.

The abstract trains a second CNN on "the blend of raw pixel data and HOG features".
HOG here is the Dalal-Triggs descriptor computed by OpenCV over the whole 48x48
face: 8x8-pixel cells, 9 unsigned orientation bins, 16x16 blocks (2x2 cells) moved
by one cell and L2-Hys normalised, giving 5 x 5 blocks x 4 cells x 9 bins = 900 numbers.
"""
from __future__ import annotations

import cv2
import numpy as np

CELL, BLOCK, BINS = 8, 16, 9


def descriptor(size=48):
    return cv2.HOGDescriptor((size, size), (BLOCK, BLOCK), (CELL, CELL), (CELL, CELL), BINS)


def feature_length(size=48):
    return int(descriptor(size).getDescriptorSize())


def hog_features(images):
    """uint8 faces (N, size, size) -> float32 HOG vectors (N, feature_length(size))."""
    images = np.asarray(images, dtype=np.uint8)
    hog = descriptor(images.shape[1])
    return np.stack([hog.compute(np.ascontiguousarray(face)).ravel() for face in images]).astype(np.float32)
