"""`make bench` for this paper: the application beside the `fer` package, on the same frames.

Section 4 says expressions are identified "within 0.5 seconds". We measure the
application's per-frame latency (Haar cascade for faces >= 48 px with a 1.2 scale
step, 48x48 crops, the trained CNN) and frames per second on a composed video of
FER2013 PrivateTest faces (scenes.py),
and run the `fer` package (pip install --no-deps fer; its defaults: OpenCV Haar
cascade, scale 1.1, 5 neighbours, faces >= 50 px, and a quantised mini-Xception on
64x64 faces through TFLite) on the very same frames, interleaved frame by frame so
that both sides share whatever else the machine is doing. The second benchmark
compares the two classifiers' accuracy on all of FER2013 PrivateTest, given the
faces (no detection): ours on 48x48 pixels, fer's on the faces resized to 64x64
and scaled to [-1, 1] as its detect_emotions does.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

from datasets.paths import default_path

REPO = Path(__file__).resolve().parents[2]
FER2013 = default_path("fer2013")
FER_INSTALL = "pip install --no-deps fer"


def trained_model_path():
    """The newest model.keras a real `reproduce` run of the Adam experiment saved, or None."""
    found = sorted((REPO / "results" / "cnn_webcam" / "adam").glob("*/model.keras"))
    return found[-1] if found else None


def prerequisites():
    """(fer's FER class, our model path, PrivateTest) or a reason to skip."""
    try:
        from fer.fer import FER
    except Exception as error:  # ImportError, or a broken dependency inside fer
        return f"the `fer` package is not importable ({type(error).__name__}: {error}); install it: {FER_INSTALL}"
    model = trained_model_path()
    if model is None:
        return "no trained model: run `python -m papers cnn_webcam reproduce -e adam` first"
    if not FER2013.exists():
        return f"FER2013 not found at {FER2013}"
    import datasets
    return FER, model, datasets.load("fer2013", FER2013, usage="PrivateTest")


def skipped(what, reason):
    print(f"  skipped: {reason}")
    return {"status": "skipped", "what": what, "reason": reason, "figures": {}}


def app_speed(quick):
    what = "per-frame latency and fps: Haar + 6-conv CNN (ours) vs the fer package, same composed 640x480 frames"
    ready = prerequisites()
    if isinstance(ready, str):
        return skipped(what, ready)
    FER, model_path, test = ready
    from common.faces import HaarFaceDetector
    from papers.cnn_webcam.app import FER2013_CLASSES, ExpressionReader, load_model, make_detector
    from papers.cnn_webcam.scenes import compose_frames
    gray_frames, placements = compose_frames(test.images, 20 if quick else 150, seed=0)
    frames = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in gray_frames]
    model = load_model(model_path)
    sides = {"ours": ExpressionReader(model, FER2013_CLASSES, make_detector("haar")).read,
             # the same CNN behind the Haar settings fer uses (scale step 1.1), to separate the two effects
             "ours_step1.1": ExpressionReader(model, FER2013_CLASSES,
                                              HaarFaceDetector(scale_factor=1.1, min_size=(48, 48))).read,
             "theirs": FER().detect_emotions}
    for frame in frames[:3]:  # warm-up: graph tracing, interpreter allocation
        for run in sides.values():
            run(frame)
    times, found = {side: [] for side in sides}, dict.fromkeys(sides, 0)
    for frame in frames:
        for side, run in sides.items():
            start = time.perf_counter()
            faces = run(frame)
            times[side].append(time.perf_counter() - start)
            found[side] += len(faces)
    summary = {side: {"fps": 1 / np.mean(t), "latency_ms_mean": 1000 * np.mean(t),
                      "latency_ms_p95": 1000 * np.percentile(t, 95), "faces_found": found[side],
                      "frames_over_0.5s": int(np.sum(np.asarray(t) > 0.5))} for side, t in times.items()}
    figures = {f"{side}_{k}": float(v) for side, s in summary.items() for k, v in s.items()}
    figures["faces_placed"] = sum(len(p) for p in placements)
    figures["load_average_1min"] = os.getloadavg()[0]  # other processes on the machine slow both sides
    figures["frames"] = len(frames)
    return {"what": what, "figures": figures,
            "comparison": {"ours": {"model": str(model_path.relative_to(REPO)), **summary["ours"]},
                           "ours_with_fer_haar_step": summary["ours_step1.1"],
                           "theirs": {"package": "fer (FER() defaults: Haar + TFLite mini-Xception)",
                                      **summary["theirs"]},
                           "ratio": summary["ours"]["fps"] / summary["theirs"]["fps"],
                           "ratio_is": "fps ours / fps fer (above 1: ours is faster)"}}


def privatetest_accuracy(quick):
    what = "accuracy on FER2013 PrivateTest faces (no detection): 6-conv CNN (ours) vs fer's mini-Xception"
    ready = prerequisites()
    if isinstance(ready, str):
        return skipped(what, ready)
    FER, model_path, test = ready
    from papers.cnn_webcam.app import load_model
    faces, labels = (test.images[:500], test.labels[:500]) if quick else (test.images, test.labels)
    ours = np.asarray(load_model(model_path).predict(faces[..., None] / 255.0, batch_size=256, verbose=0))
    fer = FER()
    resized = np.stack([cv2.resize(f, (64, 64)) for f in faces]).astype(np.float32)
    theirs = np.asarray(fer._classify_emotions((resized / 255.0 - 0.5) * 2.0))  # detect_emotions' preprocessing
    accuracy = {"ours": float(np.mean(ours.argmax(1) == labels)), "theirs": float(np.mean(theirs.argmax(1) == labels))}
    return {"what": what, "figures": {"ours_accuracy": accuracy["ours"], "theirs_accuracy": accuracy["theirs"],
                                      "faces": len(labels)},
            "comparison": {"ours": {"model": str(model_path.relative_to(REPO)), "accuracy": accuracy["ours"]},
                           "theirs": {"package": "fer emotion_model_quantized.tflite (FER() default)",
                                      "accuracy": accuracy["theirs"]},
                           "ratio": accuracy["ours"] / accuracy["theirs"],
                           "ratio_is": "accuracy ours / accuracy fer"}}


BENCHMARKS = {"app_speed": app_speed, "privatetest_accuracy": privatetest_accuracy}
