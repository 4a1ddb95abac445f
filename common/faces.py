"""Face detection, landmarks and alignment shared by the papers.

Every detector returns a list of `Box`es, empty when there is no face: "no face"
is an explicit answer, never an exception or a silent crop of the whole frame.
The models ship inside their packages (OpenCV's Haar cascades, mtcnn's weights,
face_recognition_models' dlib 68-point predictor), so nothing is downloaded.
"""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    keypoints: dict | None = None  # MTCNN's 5 points, where the detector gives them

    @property
    def area(self):
        return self.w * self.h


def to_gray(image):
    image = np.asarray(image)
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def largest(boxes):
    """The largest box, or None when there is no face."""
    return max(boxes, key=lambda b: b.area) if boxes else None


class HaarFaceDetector:
    """OpenCV's Viola-Jones frontal-face cascade (what the webcam paper uses)."""

    def __init__(self, scale_factor=1.1, min_neighbors=5, min_size=(24, 24),
                 cascade="haarcascade_frontalface_default.xml"):
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + cascade)
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV could not load the Haar cascade {cascade}")
        self.options = dict(scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=min_size)

    def detect(self, image):
        gray = cv2.equalizeHist(to_gray(image))
        found = self.cascade.detectMultiScale(gray, **self.options)
        return [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


class MtcnnFaceDetector:
    """MTCNN (three cascaded CNNs) with its 5 keypoints; slower than Haar, better on hard faces."""

    def __init__(self, min_confidence=0.9):
        from mtcnn import MTCNN  # heavy: imported only when chosen
        self.mtcnn = MTCNN()
        self.min_confidence = min_confidence

    def detect(self, image):
        image = np.asarray(image)
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes = []
        for face in self.mtcnn.detect_faces(rgb):
            if face["confidence"] >= self.min_confidence:
                x, y, w, h = face["box"]
                boxes.append(Box(max(0, int(x)), max(0, int(y)), int(w), int(h), float(face["confidence"]),
                                 {k: tuple(map(int, v)) for k, v in face["keypoints"].items()}))
        return boxes


@functools.cache
def _dlib_models():
    import dlib
    import face_recognition_models
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


class DlibFaceDetector:
    """dlib's HOG + linear SVM detector; `upsample` finds smaller faces at a cost in time."""

    def __init__(self, upsample=1):
        self.upsample = upsample

    def detect(self, image):
        detector, _ = _dlib_models()
        rects, scores, _ = detector.run(to_gray(image), self.upsample, 0.0)
        return [Box(r.left(), r.top(), r.width(), r.height(), float(s)) for r, s in zip(rects, scores)]


class DlibLandmarks:
    """dlib's 68-point shape predictor: (68, 2) float32 (x, y) in image coordinates."""

    def __call__(self, image, box):
        import dlib
        _, predictor = _dlib_models()
        rect = dlib.rectangle(int(box.x), int(box.y), int(box.x + box.w), int(box.y + box.h))
        shape = predictor(to_gray(image), rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return points if len(points) == 68 else None


def crop_face(image, box, size=48, margin=0.0):
    """The box (grown by `margin` of its size on each side, clipped to the image), grayscale, resized."""
    gray = to_gray(image)
    dx, dy = int(box.w * margin), int(box.h * margin)
    x0, y0 = max(0, box.x - dx), max(0, box.y - dy)
    x1, y1 = min(gray.shape[1], box.x + box.w + dx), min(gray.shape[0], box.y + box.h + dy)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {box} lies outside the {gray.shape[1]}x{gray.shape[0]} image")
    return cv2.resize(gray[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)


# The 68-point scheme's landmark groups, and where the template puts the eyes
# (fractions of the output size): eye centres level at 38% height, 40% apart.
LEFT_EYE, RIGHT_EYE, NOSE_TIP, MOUTH = range(36, 42), range(42, 48), 30, range(48, 68)
TEMPLATE_EYES_Y, TEMPLATE_EYE_DISTANCE = 0.38, 0.40


def template_transform(landmarks, size=48):
    """The 2x3 similarity transform that puts the eyes level at the template's positions in a size x size image."""
    left = landmarks[list(LEFT_EYE)].mean(axis=0)
    right = landmarks[list(RIGHT_EYE)].mean(axis=0)
    angle = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
    scale = TEMPLATE_EYE_DISTANCE * size / max(np.linalg.norm(right - left), 1e-6)
    centre = (left + right) / 2
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    matrix[:, 2] += np.array([size / 2, TEMPLATE_EYES_Y * size]) - centre
    return matrix


def align_to_template(image, landmarks, size=48):
    """Rotate, scale and shift so the eyes are level at fixed positions (a similarity transform).

    This is the landmark-based alignment that stands in for 3D frontalisation: it
    removes in-plane rotation, scale and position, not out-of-plane pose.
    """
    matrix = template_transform(landmarks, size)
    return cv2.warpAffine(to_gray(image), matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
