"""The paper's application (Section 3.3, Fig. 1): expressions read live from a camera.

Each frame is converted to grayscale, faces are found (the paper's OpenCV Haar
cascade, 3.3.1, as --detector haar; by default dlib's HOG detector on the frame
reduced 1.25x, which finds more faces in a fraction of the time; MTCNN as an
option), all faces of the frame are cropped to 48x48 and classified by the trained
CNN (3.3.2) in one batch, and the label with its percentage is drawn above the
face's box. Between detections (--detect-every N) faces are followed by template
matching. Images that are already face crops (FER2013, CK+48) are classified whole.
Every prediction is also logged (Fig. 9 shows that running log) to a CSV: one row
per face, one "no face" row for a frame without any, one "unreadable image" row
for an image that cannot be read.

Run it on a webcam, a video file, or a folder of images:

    python -m papers.cnn_webcam.app --source 0 --model results/cnn_webcam/adam/<run>/model.keras
    python -m papers.cnn_webcam.app --source clip.mp4 --model model.keras --headless \\
        --out annotated.mp4 --log predictions.csv

With a display and without --headless a window shows the annotated frames (press q
to quit); --headless (or no display) writes the annotated video to --out instead.
Any model of the suite that takes one 48x48 grayscale face (and the HOG hybrid)
works; --classes names its outputs (default: FER2013's seven, in FER2013's order).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from common.toolkit.faces import Box, DlibFaceDetector, HaarFaceDetector, MtcnnFaceDetector, crop_face, to_gray

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff"}
LOG_COLUMNS = ["frame", "time_s", "source", "x", "y", "w", "h", "label", "score", "latency_s"]
NO_FACE = "no face"
WARMUP_FRAMES = 3  # the first frames trace the model's graph: left out of the printed speed


class AppError(RuntimeError):
    """A problem the user can fix (no camera, unreadable file, wrong model): printed, never a traceback."""


@dataclasses.dataclass
class Prediction:
    box: Box
    label: str
    score: float


def looks_like_face_crop(gray, size):
    """A small, roughly square image (both sides at most twice the model's input: 96 px for
    48x48) is a face somebody already cropped (FER2013, CK+48): too small for the detectors
    (dlib's smallest face is 80 px, with context around it) and framed like the training faces."""
    height, width = gray.shape[:2]
    return max(height, width) <= 2 * size and 0.8 <= width / height <= 1.25


class FaceTracker:
    """Faces from the detector every `detect_every` frames; in between, each face is followed.

    Following is template matching (normalised cross-correlation) of the face as last detected
    in a window of twice its size around its last place, both scaled so the face is 32 px
    wide: well under a millisecond a face, where a detection costs 10-100 ms. A face whose
    best match falls below `min_similarity` is dropped and the next frame is detected again;
    a face that appears between detections waits for the next one. Box sizes stay fixed
    between detections. With detect_every=1 (the default) every frame is detected.
    """

    TEMPLATE_WIDTH = 32

    def __init__(self, detector, detect_every=1, min_similarity=0.5):
        self.detector, self.detect_every, self.min_similarity = detector, detect_every, min_similarity
        self.faces, self.since_detection = [], None  # [(box, template)]

    def boxes(self, gray, new_scene=False):
        """new_scene: the frame does not follow the previous one (images of a folder): detect."""
        if new_scene or self.since_detection is None or self.since_detection + 1 >= self.detect_every:
            boxes = self.detector.detect(gray)
            if self.detect_every > 1:
                clipped = [_clip(gray, box) for box in boxes]
                self.faces = [(box, self._template(gray, box)) for box in clipped if box.w > 0 and box.h > 0]
            self.since_detection = 0
            return boxes
        followed = [self._follow(gray, box, template) for box, template in self.faces]
        self.faces = [(box, template) for box, (_, template) in zip(followed, self.faces) if box is not None]
        self.since_detection = None if len(self.faces) < len(followed) else self.since_detection + 1
        return [box for box, _ in self.faces]

    def _template(self, gray, box):
        k = self.TEMPLATE_WIDTH / box.w
        return cv2.resize(gray[box.y:box.y + box.h, box.x:box.x + box.w], None, fx=k, fy=k,
                          interpolation=cv2.INTER_AREA)

    def _follow(self, gray, box, template):
        k = self.TEMPLATE_WIDTH / box.w
        x0, y0 = max(0, box.x - box.w // 2), max(0, box.y - box.h // 2)
        x1, y1 = min(gray.shape[1], box.x + box.w + box.w // 2), min(gray.shape[0], box.y + box.h + box.h // 2)
        window = cv2.resize(gray[y0:y1, x0:x1], None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        if window.shape[0] < template.shape[0] or window.shape[1] < template.shape[1]:
            return None
        _, similarity, _, (bx, by) = cv2.minMaxLoc(cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED))
        if similarity < self.min_similarity:
            return None
        return _clip(gray, Box(x0 + round(bx / k), y0 + round(by / k), box.w, box.h))


def _clip(gray, box):
    """The part of the box inside the image."""
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(gray.shape[1], box.x + box.w), min(gray.shape[0], box.y + box.h)
    return Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


class ExpressionReader:
    """Faces in a frame -> a Prediction per face (the per-frame work of Fig. 1): the faces
    of a frame are cropped from the full-size frame and classified in one batch.

    face_crops: "auto" classifies an image that looks_like_face_crop whole instead of looking
    for faces in it, "yes" every image, "no" never.
    """

    def __init__(self, model, class_names, detector, detect_every=1, face_crops="auto"):
        self.model, self.class_names, self.face_crops = model, list(class_names), face_crops
        self.tracker = FaceTracker(detector, detect_every)
        names = [t.name for t in model.inputs]
        self.wants_hog = "hog" in names
        shape = tuple(model.inputs[names.index("image") if self.wants_hog else 0].shape[1:])
        if len(shape) != 3 or shape[0] is None or shape[0] != shape[1] or shape[2] != 1:
            raise AppError(f"the model takes inputs of shape {shape}; the app feeds square grayscale faces "
                           "(size, size, 1)")
        self.size = int(shape[0])
        outputs = int(model.outputs[0].shape[-1])
        if outputs != len(self.class_names):
            raise AppError(f"the model has {outputs} outputs but {len(self.class_names)} class names were given "
                           f"({', '.join(self.class_names)}); pass --classes")

    def read(self, frame, new_scene=False):
        gray = to_gray(frame)
        if self.face_crops == "yes" or (self.face_crops == "auto" and looks_like_face_crop(gray, self.size)):
            boxes = [Box(0, 0, gray.shape[1], gray.shape[0])]
        else:
            boxes = self.tracker.boxes(gray, new_scene)
        if not boxes:
            return []
        faces = np.stack([crop_face(gray, box, self.size) for box in boxes])
        scores = np.asarray(self.model.predict_on_batch(self.inputs(faces)))  # compiled: ~10x faster than eager
        return [Prediction(box, self.class_names[int(s.argmax())], float(s.max())) for box, s in zip(boxes, scores)]

    def inputs(self, faces):
        pixels = faces.astype(np.float32)[..., None] / 255.0
        if not self.wants_hog:
            return pixels
        from papers.cnn_webcam.hog import hog_features
        return {"image": pixels, "hog": hog_features(faces)}


def draw(frame, predictions):
    """Each face boxed, its label and percentage above the box."""
    for p in predictions:
        b = p.box
        cv2.rectangle(frame, (b.x, b.y), (b.x + b.w, b.y + b.h), (0, 255, 0), 2)
        cv2.putText(frame, f"{p.label} {100 * p.score:.0f}%", (b.x, max(12, b.y - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, (0, 255, 0), 2, cv2.LINE_AA)
    return frame


@dataclasses.dataclass
class Source:
    """frames: (time_s, BGR frame or None if unreadable, source name) for each input.
    time_s is the time in a video (frame index / fps), or for a camera and a folder the
    wall clock since the start. independent: the images of a folder, not one scene."""
    frames: object
    fps: float
    independent: bool


def open_source(source):
    """A Source for a webcam index, a video file or a folder of images (searched recursively,
    so CK+48's class folders work as they are; the source column names each image by its
    path inside the folder)."""
    if str(source).isdigit():
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise AppError(f"no camera at index {source} (is one connected, and free?)")
        return Source(_capture_frames(capture, f"camera {source}", live=True), 10.0, independent=False)
    path = Path(source)
    if not path.exists():
        raise AppError(f"{path}: no such file or folder")
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise AppError(f"{path}: the folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return Source(_image_frames(path, images), 1.0, independent=True)
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        raise AppError(f"{path}: OpenCV cannot read it as a video (unreadable or not a video file)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    return Source(_capture_frames(capture, path.name, live=False, first=first, fps=fps), fps, independent=False)


def _image_frames(folder, images):
    start = time.perf_counter()
    for image in images:
        yield time.perf_counter() - start, cv2.imread(str(image)), image.relative_to(folder).as_posix()


def _capture_frames(capture, name, live, first=None, fps=10.0):
    start, index = time.perf_counter(), 0
    if first is not None:
        yield 0.0, first, name
        index = 1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        yield (time.perf_counter() - start if live else index / fps), frame, name
        index += 1
    capture.release()


def has_display():
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(reader, source, log_path, out_path=None, headless=True, max_frames=None, quiet=False):
    """Read every input of `source`, log each prediction; return a summary: inputs (every image or
    frame taken), frames (those read), skipped (unreadable images), faces, frames without a face,
    and the speed over the frames after the warm-up."""
    source = open_source(source)
    show = not headless and has_display()
    if not headless and not show and not quiet:
        print("no display found: running headless", file=sys.stderr)
    writer, latencies, counts = None, [], dict(inputs=0, frames=0, skipped=0, faces=0, frames_without_face=0)
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", newline="") as f:
        log = csv.writer(f)
        log.writerow(LOG_COLUMNS)
        for index, (time_s, frame, name) in enumerate(source.frames):
            if max_frames is not None and index >= max_frames:
                break
            counts["inputs"] += 1
            if frame is None:
                counts["skipped"] += 1
                log.writerow([index, f"{time_s:.3f}", name, "", "", "", "", f"unreadable image {name}", "", ""])
                continue
            start = time.perf_counter()
            predictions = reader.read(frame, new_scene=source.independent)
            latency = time.perf_counter() - start
            latencies.append(latency)
            counts["frames"] += 1
            counts["faces"] += len(predictions)
            for p in predictions:
                log.writerow([index, f"{time_s:.3f}", name, p.box.x, p.box.y, p.box.w, p.box.h, p.label,
                              f"{p.score:.4f}", f"{latency:.4f}"])
            if not predictions:
                counts["frames_without_face"] += 1
                log.writerow([index, f"{time_s:.3f}", name, "", "", "", "", NO_FACE, "", f"{latency:.4f}"])
            annotated = draw(frame.copy(), predictions)
            if show:
                cv2.imshow("expressions (q to quit)", annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            elif out_path is not None:
                writer = writer or _video_writer(out_path, source.fps, annotated.shape)
                if annotated.shape[:2] != (writer.height, writer.width):
                    annotated = cv2.resize(annotated, (writer.width, writer.height))
                writer.video.write(annotated)
    if writer is not None:
        writer.video.release()
    if show:
        cv2.destroyAllWindows()
    timed = latencies[WARMUP_FRAMES:] if len(latencies) > WARMUP_FRAMES else latencies
    mean_latency = float(np.mean(timed)) if timed else None
    return {**counts, "mean_latency_s": mean_latency, "fps": 1.0 / mean_latency if mean_latency else None,
            "warmup_excluded": len(timed) < len(latencies), "log": str(log_path),
            "video": str(out_path) if writer is not None else None}


def summary_line(summary):
    """What main prints: every input is counted, read or skipped."""
    s = summary
    line = (f"{s['inputs']} inputs: {s['frames']} read, {s['skipped']} skipped (unreadable); "
            f"{s['faces']} faces, {s['frames_without_face']} frames without a face; ")
    if s["mean_latency_s"]:
        line += (f"{1000 * s['mean_latency_s']:.1f} ms per frame ({s['fps']:.1f} fps"
                 + (f"; warm-up: first {WARMUP_FRAMES} frames left out); " if s["warmup_excluded"] else "); "))
    return line + f"log: {s['log']}" + (f"; video: {s['video']}" if s["video"] else "")


@dataclasses.dataclass
class _Writer:
    video: cv2.VideoWriter
    width: int
    height: int


def _video_writer(path, fps, shape):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() == ".mp4" else "MJPG"))
    video = cv2.VideoWriter(str(path), fourcc, fps, (shape[1], shape[0]))
    if not video.isOpened():
        raise AppError(f"{path}: OpenCV cannot write a video here (use .mp4 or .avi)")
    return _Writer(video, shape[1], shape[0])


DETECTORS = {
    # dlib's HOG detector on the frame reduced 1.25x, adjust threshold -0.4: on the bench's frames
    # it finds more true faces than fer's Haar settings, with almost no false ones, in ~11 ms
    "hog": lambda: DlibFaceDetector(upsample=0, downscale=1.25, threshold=-0.4),
    # the paper's Haar cascade, at fer's scale step (1.1), for faces of at least 48 px (the CNN's input)
    "haar": lambda: HaarFaceDetector(scale_factor=1.1, min_size=(48, 48)),
    "mtcnn": lambda: MtcnnFaceDetector(),
}


def make_detector(name):
    return DETECTORS[name]()


def load_model(path):
    import keras
    path = Path(path)
    if not path.exists():
        raise AppError(f"{path}: no such model file (train one: python -m papers cnn_webcam reproduce -e adam)")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a file that is not a model
        raise AppError(f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error})") from None


def parser():
    p = argparse.ArgumentParser(prog="python -m papers.cnn_webcam.app", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="webcam index (0, 1, ...), a video file, or a folder of images")
    p.add_argument("--model", required=True, help="a trained .keras model taking 48x48 grayscale faces")
    p.add_argument("--detector", choices=list(DETECTORS), default="hog",
                   help="face detector: dlib's HOG on the frame reduced 1.25x (default: fast, faces from 100 px), "
                        "the paper's OpenCV Haar cascade (faces from 48 px, ~10x the CPU time), or MTCNN (slowest)")
    p.add_argument("--detect-every", type=_positive, default=1, metavar="N",
                   help="detect faces on every N-th frame of a video or camera and follow them in between "
                        "(default 1: detect on every frame; images of a folder are always detected)")
    p.add_argument("--face-crops", choices=["auto", "yes", "no"], default="auto",
                   help="classify an image whole instead of looking for faces in it: auto (default) for images "
                        "of at most twice the model's input size and about square (FER2013, CK+48 crops), "
                        "yes for every image, no for none")
    p.add_argument("--headless", action="store_true", help="no window: write the annotated video to --out")
    p.add_argument("--out", default="annotated.mp4", help="annotated video written in headless mode (.mp4 or .avi)")
    p.add_argument("--log", default="predictions.csv",
                   help=f"CSV of every prediction: {', '.join(LOG_COLUMNS)}")
    p.add_argument("--classes", default=",".join(FER2013_CLASSES),
                   help="comma-separated class names of the model's outputs, in order")
    p.add_argument("--max-frames", type=_positive, help="stop after this many frames (a webcam runs until q or Ctrl-C)")
    return p


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        reader = ExpressionReader(load_model(args.model), args.classes.split(","), make_detector(args.detector),
                                  args.detect_every, args.face_crops)
        summary = run(reader, args.source, args.log, args.out, args.headless, args.max_frames)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
