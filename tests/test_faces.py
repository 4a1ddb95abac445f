"""Face tools on a real CK+48 face (upscaled) and on an empty image: 'no face' is an empty list."""
import cv2
import numpy as np
import pytest

from common.toolkit import faces
from common.toolkit.faces import (
    Box,
    DlibFaceDetector,
    DlibLandmarks,
    HaarFaceDetector,
    MtcnnFaceDetector,
    align_to_template,
    crop_face,
    detect_landmarks,
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


def test_landmarks_fall_back_to_the_whole_frame_and_are_cached(tmp_path):
    blank = np.full((2, 48, 48), 128, np.uint8)
    first = detect_landmarks(blank, upscale=2, cache_dir=tmp_path)
    assert not first.face_found.any()  # no face in a flat frame: the whole frame was the box, and it is counted
    assert first.points.shape == (2, 68, 2)
    again = detect_landmarks(blank[:1], upscale=2, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.points[0], first.points[0])


def test_the_cache_computes_each_distinct_image_once_per_setting(tmp_path):
    calls = []

    def brightness(images):
        calls.append(len(images))
        return {"mean": images.reshape(len(images), -1).mean(axis=1)}
    images = np.stack([np.full((4, 4), v, np.uint8) for v in (1, 2, 2, 3)])
    first = faces.cached_per_item("test", images, {"k": 1}, brightness, tmp_path)
    again = faces.cached_per_item("test", images[[3, 0]], {"k": 1}, brightness, tmp_path)
    faces.cached_per_item("test", images[:1], {"k": 2}, brightness, tmp_path)  # another setting: computed anew
    assert first["mean"].tolist() == [1, 2, 2, 3] and again["mean"].tolist() == [3, 1]
    assert calls == [3, 1]  # the duplicate image once; the second call read everything from the cache
