"""Face tools on a real CK+48 face (upscaled) and on an empty image: 'no face' is an empty list."""
import cv2
import numpy as np
import pytest

from common.faces import (
    Box,
    DlibFaceDetector,
    DlibLandmarks,
    HaarFaceDetector,
    MtcnnFaceDetector,
    align_to_template,
    crop_face,
    largest,
)
from conftest import real_data

DETECTORS = [HaarFaceDetector, DlibFaceDetector, MtcnnFaceDetector]


@pytest.fixture(scope="module")
def real_face():
    path = sorted((real_data("ckplus/CK+48") / "happy").glob("*.png"))[0]
    return cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (192, 192), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.__name__)
def test_detectors_find_the_real_face_and_say_no_face_on_an_empty_image(detector, real_face):
    found = detector().detect(real_face)
    assert len(found) == 1
    box = found[0]
    assert box.w > 96 and 0 <= box.x < 96 and 0 <= box.y < 96  # the face fills most of the frame
    assert detector().detect(np.full((192, 192), 128, np.uint8)) == []


def test_landmarks_alignment_and_crop(real_face):
    box = largest(DlibFaceDetector().detect(real_face))
    points = DlibLandmarks()(real_face, box)
    assert points.shape == (68, 2)
    eyes_y = points[36:48, 1].mean()
    mouth_y = points[48:68, 1].mean()
    assert eyes_y < mouth_y  # eyes above the mouth
    aligned = align_to_template(real_face, points, size=48)
    assert aligned.shape == (48, 48) and aligned.dtype == np.uint8
    assert crop_face(real_face, box, size=48).shape == (48, 48)
    with pytest.raises(ValueError, match="outside"):
        crop_face(real_face, Box(500, 500, 10, 10))
    assert largest([]) is None
