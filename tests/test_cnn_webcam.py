"""cnn_webcam: the 6-conv CNN and its HOG hybrid, the smoke experiment, the application."""
import csv
import json

import cv2
import keras
import numpy as np
import pytest

from datasets import samm
from datasets.fer2013 import CLASS_NAMES
from datasets.synthetic import face_images
from papers.cnn_webcam import app
from papers.cnn_webcam.experiments import detect_faces
from papers.cnn_webcam.hog import feature_length, hog_features
from papers.cnn_webcam.model import build_model, conv_layer_names
from papers.cnn_webcam.scenes import compose_frames, write_video


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


def test_app_headless_logs_one_row_per_detected_face(adam_run, tmp_path):
    faces = face_images(20, CLASS_NAMES, seed=1)[0]
    frames, _ = compose_frames(faces, 6, 240, 320, sizes=(80, 120), seed=0)
    video = write_video(frames, tmp_path / "faces.avi")
    log, out = tmp_path / "predictions.csv", tmp_path / "annotated.mp4"
    code = app.main(["--source", str(video), "--model", str(adam_run / "model.keras"), "--headless",
                     "--out", str(out), "--log", str(log)])
    assert code == 0 and cv2.VideoCapture(str(out)).isOpened()
    capture, detector, expected = cv2.VideoCapture(str(video)), app.make_detector("haar"), []
    while (frame := capture.read())[0]:  # the frames as the app decoded them
        expected.append(len(detector.detect(frame[1])))
    rows = list(csv.DictReader(open(log)))
    assert sum(expected) > 0  # Haar does find the synthetic faces
    assert [sum(r["label"] != app.NO_FACE for r in rows if int(r["frame"]) == i) for i in range(6)] == expected
    assert all(r["label"] in CLASS_NAMES and 0 < float(r["score"]) <= 1 for r in rows if r["label"] != app.NO_FACE)


def test_app_logs_a_frame_without_face_and_reports_bad_sources_without_traceback(adam_run, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160), 128, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not an image")
    model, log = str(adam_run / "model.keras"), tmp_path / "log.csv"
    assert app.main(["--source", str(folder), "--model", model, "--headless", "--out", str(tmp_path / "a.avi"),
                     "--log", str(log)]) == 0
    labels = [r["label"] for r in csv.DictReader(open(log))]
    assert labels == ["no face", "unreadable image broken.jpg"]
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("plain text")
    for source in ("7", str(not_a_video), str(tmp_path / "missing.mp4")):
        assert app.main(["--source", source, "--model", model, "--headless", "--log", str(log)]) == 2
    err = capsys.readouterr().err
    assert "no camera at index 7" in err and "cannot read it as a video" in err and "no such file" in err
    assert "Traceback" not in err


def test_prepare_finds_faces_in_micro_expression_frames(tmp_path):
    ds = samm.load(samm.write_synthetic(tmp_path, n_clips=8), size=144, frames="apex")
    faces = detect_faces(ds, {"face_size": 48})
    assert faces.images.shape == (8, 48, 48) and "Haar cascade found no face in" in faces.provenance.notes[-1]
