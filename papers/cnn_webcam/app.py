"""The paper's application (Section 3.3, Fig. 1): expressions read live from a camera.

Each frame is converted to grayscale, faces are found with OpenCV's Haar cascade
(3.3.1; MTCNN as an option), each face is cropped to 48x48 and classified by the
trained CNN (3.3.2), and the label with its percentage is drawn above the face's
box. Every prediction is also logged (Fig. 9 shows that running log) to a CSV:
one row per detected face, or one "no face" row for a frame without any.

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

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff"}
LOG_COLUMNS = ["frame", "time_s", "x", "y", "w", "h", "label", "score", "latency_s"]
NO_FACE = "no face"


class AppError(RuntimeError):
    """A problem the user can fix (no camera, unreadable file, wrong model): printed, never a traceback."""


@dataclasses.dataclass
class Prediction:
    box: object  # common.faces.Box
    label: str
    score: float


class ExpressionReader:
    """Faces in a frame -> a Prediction per face (the per-frame work of Fig. 1)."""

    def __init__(self, model, class_names, detector):
        self.model, self.class_names, self.detector = model, list(class_names), detector
        names = [t.name for t in model.inputs]
        self.wants_hog = "hog" in names
        self.size = int(model.inputs[names.index("image") if self.wants_hog else 0].shape[1])
        outputs = int(model.outputs[0].shape[-1])
        if outputs != len(self.class_names):
            raise AppError(f"the model has {outputs} outputs but {len(self.class_names)} class names were given "
                           f"({', '.join(self.class_names)}); pass --classes")

    def read(self, frame):
        from common.faces import crop_face, to_gray
        gray = to_gray(frame)
        boxes = self.detector.detect(gray)
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


def open_source(source):
    """(frames iterator of (time_s, BGR frame or None if unreadable, name), fps) for a webcam index,
    a video file or a folder of images."""
    if str(source).isdigit():
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise AppError(f"no camera at index {source} (is one connected, and free?)")
        return _capture_frames(capture, live=True), 10.0
    path = Path(source)
    if not path.exists():
        raise AppError(f"{path}: no such file or folder")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise AppError(f"{path}: the folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return ((float(i), cv2.imread(str(p)), p.name) for i, p in enumerate(images)), 1.0
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        raise AppError(f"{path}: OpenCV cannot read it as a video (unreadable or not a video file)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    return _capture_frames(capture, live=False, first=first, fps=fps), fps


def _capture_frames(capture, live, first=None, fps=10.0):
    start, index = time.perf_counter(), 0
    if first is not None:
        yield 0.0, first, "frame 0"
        index = 1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        yield (time.perf_counter() - start if live else index / fps), frame, f"frame {index}"
        index += 1
    capture.release()


def has_display():
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(reader, source, log_path, out_path=None, headless=True, max_frames=None, quiet=False):
    """Read every frame of `source`, log each prediction; return a summary (frames, faces, fps, latency)."""
    frames, fps = open_source(source)
    show = not headless and has_display()
    if not headless and not show and not quiet:
        print("no display found: running headless", file=sys.stderr)
    writer, latencies, faces, index = None, [], 0, -1
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", newline="") as f:
        log = csv.writer(f)
        log.writerow(LOG_COLUMNS)
        for index, (time_s, frame, name) in enumerate(frames):
            if max_frames is not None and index >= max_frames:
                break
            if frame is None:
                log.writerow([index, f"{time_s:.3f}", "", "", "", "", f"unreadable image {name}", "", ""])
                continue
            start = time.perf_counter()
            predictions = reader.read(frame)
            latency = time.perf_counter() - start
            latencies.append(latency)
            faces += len(predictions)
            for p in predictions:
                log.writerow([index, f"{time_s:.3f}", p.box.x, p.box.y, p.box.w, p.box.h, p.label, f"{p.score:.4f}",
                              f"{latency:.4f}"])
            if not predictions:
                log.writerow([index, f"{time_s:.3f}", "", "", "", "", NO_FACE, "", f"{latency:.4f}"])
            annotated = draw(frame.copy(), predictions)
            if show:
                cv2.imshow("expressions (q to quit)", annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            elif out_path is not None:
                writer = writer or _video_writer(out_path, fps, annotated.shape)
                if annotated.shape[:2] != (writer.height, writer.width):
                    annotated = cv2.resize(annotated, (writer.width, writer.height))
                writer.video.write(annotated)
    if writer is not None:
        writer.video.release()
    if show:
        cv2.destroyAllWindows()
    mean_latency = float(np.mean(latencies)) if latencies else None
    return {"frames": len(latencies), "faces": faces, "mean_latency_s": mean_latency,
            "fps": 1.0 / mean_latency if mean_latency else None, "log": str(log_path),
            "video": str(out_path) if writer is not None else None}


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


def make_detector(name):
    """Haar looks for faces of at least 48 px, the CNN's input size (smaller ones would only be
    enlarged), with a 1.2 step between scales: about half the cascade's time at 1.1."""
    from common.faces import HaarFaceDetector, MtcnnFaceDetector
    return HaarFaceDetector(scale_factor=1.2, min_size=(48, 48)) if name == "haar" else MtcnnFaceDetector()


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
    p.add_argument("--detector", choices=["haar", "mtcnn"], default="haar",
                   help="face detector: OpenCV Haar cascade (the paper's, fast) or MTCNN (slower, finds harder faces)")
    p.add_argument("--headless", action="store_true", help="no window: write the annotated video to --out")
    p.add_argument("--out", default="annotated.mp4", help="annotated video written in headless mode (.mp4 or .avi)")
    p.add_argument("--log", default="predictions.csv",
                   help=f"CSV of every prediction: {', '.join(LOG_COLUMNS)}")
    p.add_argument("--classes", default=",".join(FER2013_CLASSES),
                   help="comma-separated class names of the model's outputs, in order")
    p.add_argument("--max-frames", type=int, help="stop after this many frames (a webcam runs until q or Ctrl-C)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        reader = ExpressionReader(load_model(args.model), args.classes.split(","), make_detector(args.detector))
        summary = run(reader, args.source, args.log, args.out, args.headless, args.max_frames)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    latency = summary["mean_latency_s"]
    print(f"{summary['frames']} frames, {summary['faces']} faces; "
          + (f"{1000 * latency:.1f} ms per frame ({summary['fps']:.1f} fps); " if latency else "")
          + f"log: {summary['log']}" + (f"; video: {summary['video']}" if summary["video"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
