"""cnn_webcam: the 6-conv CNN and its HOG hybrid, the smoke experiment, the application."""
import csv
import json

import cv2
import keras
import numpy as np
import pytest

from common.toolkit.faces import Box
from conftest import real_data
from datasets import samm
from datasets.fer2013 import CLASS_NAMES
from datasets.synthetic import face_images
from datasets.video import write_video
from papers.cnn_webcam import app
from papers.cnn_webcam.experiments import detect_faces
from papers.cnn_webcam.hog import feature_length, hog_features
from papers.cnn_webcam.model import build_model, conv_layer_names
from papers.cnn_webcam.scenes import compose_frames, match_faces, moving_frames


def test_cnn_has_six_convolutions_and_the_hybrid_takes_hog():
    cnn = build_model(7, filters=(4, 8, 8), dense_units=8)
    assert len(conv_layer_names(cnn)) == 6 and cnn.output_shape == (None, 7)
    hybrid = build_model(7, filters=(4, 8, 8), dense_units=8, hog_length=feature_length())
    faces = face_images(3, CLASS_NAMES, seed=0)[0]
    probs = hybrid({"image": faces[..., None] / 255.0, "hog": hog_features(faces)})
    assert probs.shape == (3, 7) and np.allclose(np.sum(probs, axis=1), 1, atol=1e-5)


def test_hog_is_the_900_number_dalal_triggs_descriptor():
    faces = face_images(2, CLASS_NAMES, seed=1)[0]
    assert hog_features(faces).shape == (2, 900) and feature_length() == 900
    assert np.array_equal(hog_features(faces), hog_features(faces))


@pytest.fixture(scope="module")
def adam_run(smoke_run):
    return smoke_run("cnn_webcam", "adam")


def test_smoke_adam_beats_chance_widely_and_writes_model_and_feature_maps(adam_run):
    metrics = json.loads((adam_run / "metrics.json").read_text())
    assert metrics["metrics"]["accuracy"]["mean"] > 2 / 7
    assert {"train_accuracy", "val_accuracy", "train_loss", "val_loss"} <= set(metrics["metrics"])
    assert (adam_run / "feature_maps.png").stat().st_size > 10_000
    assert keras.saving.load_model(adam_run / "model.keras").output_shape == (None, 7)


def test_app_headless_logs_one_row_per_detected_face(adam_run, tmp_path, capsys):
    faces = face_images(20, CLASS_NAMES, seed=1)[0]
    frames, _ = compose_frames(faces, 6, 240, 320, sizes=(80, 120), seed=0)
    video = write_video(frames, tmp_path / "faces.avi", fps=10)
    log, out = tmp_path / "predictions.csv", tmp_path / "annotated.mp4"
    code = app.main(["--source", str(video), "--model", str(adam_run / "model.keras"), "--headless",
                     "--detector", "haar", "--out", str(out), "--log", str(log)])
    assert code == 0 and cv2.VideoCapture(str(out)).isOpened()
    capture, detector, expected = cv2.VideoCapture(str(video)), app.make_detector("haar"), []
    while (frame := capture.read())[0]:  # the frames as the app decoded them
        expected.append(len(detector.detect(frame[1])))
    rows = list(csv.DictReader(open(log)))
    assert list(rows[0]) == app.LOG_COLUMNS
    assert sum(expected) > 0  # Haar does find the synthetic faces
    assert [sum(r["label"] != app.NO_FACE for r in rows if int(r["frame"]) == i) for i in range(6)] == expected
    assert all(r["label"] in CLASS_NAMES and 0 < float(r["score"]) <= 1 for r in rows if r["label"] != app.NO_FACE)
    assert all(float(r["time_s"]) == pytest.approx(int(r["frame"]) / 10) and r["source"] == "faces.avi" for r in rows)
    out = capsys.readouterr().out
    assert "6 inputs: 6 read, 0 skipped" in out and f"warm-up: first {app.WARMUP_FRAMES} frames left out" in out


def test_app_counts_every_input_and_reports_bad_sources_without_traceback(adam_run, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160), 128, np.uint8))
    cv2.imwrite(str(folder / "clutter.png"), np.random.default_rng(0).integers(0, 255, (120, 160), np.uint8))
    (folder / "broken.jpg").write_bytes(b"not an image")
    model, log = str(adam_run / "model.keras"), tmp_path / "log.csv"
    assert app.main(["--source", str(folder), "--model", model, "--headless", "--out", str(tmp_path / "a.avi"),
                     "--log", str(log)]) == 0
    rows = list(csv.DictReader(open(log)))
    assert [(r["source"], r["label"]) for r in rows] == [
        ("blank.png", "no face"), ("broken.jpg", "unreadable image broken.jpg"), ("clutter.png", "no face")]
    assert "3 inputs: 2 read, 1 skipped (unreadable); 0 faces, 2 frames without a face" in capsys.readouterr().out
    not_a_video, empty_video, empty_folder = tmp_path / "notes.mp4", tmp_path / "empty.avi", tmp_path / "none"
    not_a_video.write_text("plain text")
    empty_video.write_bytes(b"")
    empty_folder.mkdir()
    for source in ("7", not_a_video, empty_video, tmp_path / "missing.mp4", empty_folder):
        assert app.main(["--source", str(source), "--model", model, "--headless", "--log", str(log)]) == 2
    not_a_model = tmp_path / "model.keras"
    not_a_model.write_text("not a model")
    colour_model = tmp_path / "colour.keras"  # a real model, but for 64x64 colour faces
    keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten(), keras.layers.Dense(7)]).save(colour_model)
    for bad_model in (not_a_model, tmp_path / "missing.keras", colour_model):
        assert app.main(["--source", str(folder), "--model", str(bad_model), "--headless", "--log", str(log)]) == 2
    err = capsys.readouterr().err
    assert "no camera at index 7" in err and err.count("cannot read it as a video") == 2 and "no such file" in err
    assert "holds no images" in err and "cannot be loaded as a Keras model" in err and "no such model file" in err
    assert "the app feeds square grayscale faces" in err
    assert "Traceback" not in err


def test_app_classifies_a_folder_of_face_crops_whole(adam_run, tmp_path, capsys):
    ckplus = real_data("ckplus/CK+48")
    folder = tmp_path / "crops"
    for emotion in ("happy", "surprise"):  # CK+48's layout: a folder per class
        (folder / emotion).mkdir(parents=True)
        for image in sorted((ckplus / emotion).glob("*.png"))[:2]:
            (folder / emotion / image.name).write_bytes(image.read_bytes())
    log = tmp_path / "log.csv"
    args = ["--source", str(folder), "--model", str(adam_run / "model.keras"), "--headless", "--log", str(log),
            "--out", str(tmp_path / "annotated.avi")]
    assert app.main(args) == 0
    rows = list(csv.DictReader(open(log)))
    assert len(rows) == 4 and all(r["label"] in CLASS_NAMES for r in rows)
    assert all((r["x"], r["y"], r["w"], r["h"]) == ("0", "0", "48", "48") for r in rows)
    assert [r["source"].split("/")[0] for r in rows] == ["happy", "happy", "surprise", "surprise"]
    assert app.main(args + ["--face-crops", "no"]) == 0  # looking for faces in 48x48 crops finds none
    assert [r["label"] for r in csv.DictReader(open(log))] == [app.NO_FACE] * 4


def test_tracker_follows_a_moving_face_between_detections():
    frames, placements = moving_frames(face_images(1, CLASS_NAMES, seed=2)[0][0], 12, size=100, step=(7, 4))
    detected_on = []

    class FirstFrameDetector:  # finds the face on the first frame only: the rest is the tracker's work
        def detect(self, gray):
            detected_on.append(len(detected_on))
            _, x, y, size = placements[0][0]
            return [Box(x + 10, y + 10, size - 20, size - 20)] if len(detected_on) == 1 else []

    tracker = app.FaceTracker(FirstFrameDetector(), detect_every=6)
    found = [tracker.boxes(frame) for frame in frames]
    assert detected_on == [0, 1]  # detected on frames 0 and 6 only
    assert all(len(match_faces([(b.x, b.y, b.w, b.h) for b in boxes], placed)) == 1
               for boxes, placed in zip(found[:6], placements[:6]))  # followed for 5 frames, 35 px to the right
    assert found[6:] == [[]] * 6  # the detector found no face on frame 6: nothing left to follow


def test_prepare_finds_faces_in_micro_expression_frames(tmp_path):
    ds = samm.load(samm.write_synthetic(tmp_path, n_clips=8), size=144, frames="apex")
    faces = detect_faces(ds, {"face_size": 48})
    assert faces.images.shape == (8, 48, 48) and "Haar cascade found no face in" in faces.provenance.notes[-1]


def test_default_detector_finds_a_face_on_the_reduced_frame_in_full_frame_coordinates():
    frames, placements = moving_frames(face_images(4, CLASS_NAMES, seed=1)[0][1], 1, 240, 320, size=160)
    boxes = app.make_detector("hog").detect(frames[0])
    assert len(match_faces([(b.x, b.y, b.w, b.h) for b in boxes], placements[0])) == len(boxes) == 1
