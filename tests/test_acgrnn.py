"""acgrnn: the attention-gated convolution, the face stage on real faces, the audit of the printed
numbers, the full-size networks, the backbone stage's feature cache, and the whole pipeline on
synthetic data."""
import json
import lzma
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from common.harness.audit import audit
from common.harness.judge.claims import load_claims
from common.toolkit.experiment import deep_merge
from common.toolkit.faces import align_eyes, detect_mtcnn
from conftest import real_data
from datasets import fer2013, synthetic
from datasets.base import Dataset, Provenance
from papers.acgrnn import experiments
from papers.acgrnn.audit import audit_findings
from papers.acgrnn.face_stage import face_stage
from papers.acgrnn.model import AttentionGatedConv1D, build_acgrnn, build_backbone

CLAIMS = Path(__file__).resolve().parents[1] / "papers" / "acgrnn" / "claims.yaml"


def test_attention_gate_weights_each_position_by_its_window_as_theorem_1():
    layer = AttentionGatedConv1D(kernel_size=2)
    x = np.random.default_rng(0).normal(size=(1, 6, 3)).astype("float32")
    out = np.asarray(layer(x))
    weights = np.asarray(layer.attention_weights(x))[0]
    assert out.shape == x.shape and weights.shape == (6,) and ((weights > 0) & (weights < 1)).all()
    np.testing.assert_allclose(out, x * weights[None, :, None], rtol=1e-5)
    kernel, bias = (np.asarray(w) for w in layer.score.weights)  # (2, 3, 1), (1,)
    expected = [x[0, j] @ kernel[0, :, 0] + (x[0, j + 1] @ kernel[1, :, 0] if j + 1 < 6 else 0) + bias[0]
                for j in range(6)]  # even k: the window is j .. j + k/2 (zero padding after the end)
    np.testing.assert_allclose(weights, 1 / (1 + np.exp(-np.array(expected))), rtol=1e-5)


def test_acgrnn_with_the_attention_layer_survives_save_and_load(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_acgrnn({"a": 12, "b": 7}, 7, projection=16, position_size=4, filters=5, gru_units=3)
    x = {"a": np.random.rand(3, 12).astype("float32"), "b": np.random.rand(3, 7).astype("float32")}
    model.save(tmp_path / "acgrnn.keras")
    loaded = keras.models.load_model(tmp_path / "acgrnn.keras")
    assert any(isinstance(layer, AttentionGatedConv1D) for layer in loaded.layers)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    assert [layer.kernel_size for layer in loaded.layers if isinstance(layer, AttentionGatedConv1D)] == [1, 3]


def test_full_size_backbones_are_the_keras_applications_networks():
    for kind, size in (("efficientnet", 300), ("inception", 299)):
        model = build_backbone(kind, 7, architecture="full", input_size=size)
        assert model.get_layer("resize").output.shape[1:3] == (size, size)
        assert model.get_layer("features").output.shape[-1] == 1536  # both networks pool to 1536 channels
        assert model.output.shape[-1] == 7 and model.get_layer("classifier").activation.__name__ == "sigmoid"


def fer2013_rows(n):
    """The first n faces of the real FER2013 csv, read directly (the loader reads all 35,887)."""
    with lzma.open(real_data("fer2013/fer2013.csv.xz"), "rt") as f:
        next(f)
        rows = [next(f).split(",") for _ in range(n)]
    return np.stack([np.array(r[1].split(), np.uint8).reshape(48, 48) for r in rows]), np.array([int(r[0]) for r in rows])


def ckplus_faces():
    folder = real_data("ckplus/CK+48")
    return np.stack([cv2.imread(str(sorted((folder / c).glob("*.png"))[0]), cv2.IMREAD_GRAYSCALE)
                     for c in ("happy", "surprise", "anger")])


@pytest.mark.parametrize("source", ["ckplus", "fer2013"])
def test_mtcnn_finds_real_faces_with_keypoints_inside_the_box_and_aligns_them(source, tmp_path):
    images = ckplus_faces() if source == "ckplus" else fer2013_rows(6)[0]
    faces = detect_mtcnn(images, upscale=3, cache_dir=tmp_path)
    assert faces.found.sum() >= len(images) - 1, faces.confidence  # at most one miss on these frontal crops
    for i in np.flatnonzero(faces.found):
        x, y, w, h = faces.boxes[i]
        assert w > 20 and h > 20  # a face filling much of the 48x48 crop
        kx, ky = faces.keypoints[i, :, 0], faces.keypoints[i, :, 1]
        assert ((kx >= x) & (kx <= x + w) & (ky >= y) & (ky <= y + h)).all()
        left_eye, right_eye, nose, mouth_left, mouth_right = faces.keypoints[i]
        assert left_eye[0] < right_eye[0] and max(left_eye[1], right_eye[1]) < min(mouth_left[1], mouth_right[1])
        aligned = align_eyes(images[i], left_eye, right_eye, size=48)
        assert aligned.shape == (48, 48) and aligned.dtype == np.uint8
    again = detect_mtcnn(images, upscale=3, cache_dir=tmp_path)  # read back from the cache
    np.testing.assert_array_equal(again.keypoints, faces.keypoints)


def test_face_stage_counts_what_it_found_and_keeps_every_image():
    images, labels = fer2013_rows(6)
    ds = Dataset("fer2013", images, labels, [str(c) for c in range(7)], Provenance("fer2013.csv"))
    faces = face_stage(ds, {"upscale": 3, "min_confidence": 0.9, "landmark_upscale": 4})
    assert faces.images.shape == images.shape and faces.geometry.shape == (6, 137)
    assert f"5 keypoints in {int(faces.mtcnn_found.sum())} of 6 images" in ds.provenance.notes[-1]
    part = faces.subset([4, 1])
    np.testing.assert_array_equal(part.geometry, faces.geometry[[4, 1]])
    assert part.mtcnn_found.tolist() == faces.mtcnn_found[[4, 1]].tolist()


def test_audit_recomputes_table_1_from_fig_7():
    findings = {(f.check, f.item): f for f in audit_findings(load_claims(CLAIMS))}
    as_printed = "Table 1 from the matrix, rows actual (as printed)"
    assert findings[as_printed, "table1_test_macro_f1"].consistent  # Table 1's F-score is Fig. 7's
    accuracy = findings[as_printed, "table1_test_accuracy"]
    assert not accuracy.consistent and accuracy.implied == "0.9444"  # 2666 / 2823, not 0.9643
    # Table 2's DS-3DCNN F-score (93) above 2PR/(P+R) of its precision 89 and sensitivity 87.2: the shared bound
    shared = {(f.check, f.item): f for f in audit(load_claims(CLAIMS))}
    assert not shared["macro F1 <= 2PR/(P+R)", "table2_ds3dcnn_macro_f1"].consistent
    assert shared["macro F1 <= 2PR/(P+R)", "table2_gacn_macro_f1"].consistent


def test_a_folds_backbone_trains_once_and_a_rerun_reads_its_cached_features(tmp_path, capsys, monkeypatch):
    from common.toolkit.data.protocols import make_folds
    monkeypatch.setattr(experiments, "STREAMS", ("inception",))  # one backbone of one fold keeps the test fast
    images, labels, _ = synthetic.face_images(56, fer2013.CLASS_NAMES, size=24)
    ds = Dataset("fer2013", images, labels, fer2013.CLASS_NAMES, Provenance("synthetic"))
    [fold, _] = make_folds(ds, {"kind": "stratified_kfold", "k": 2, "val_fraction": 0.25}, seed=0)
    config = deep_merge(experiments.CONFIG, deep_merge(experiments.SMOKE, {"backbones": {
        "epochs": 1, "width": 4, "inception": {"input_size": 24}}}))
    experiments.train_backbones([fold], config, tmp_path, tmp_path, smoke=True)
    assert capsys.readouterr().err.count(f"features of {fold.name} extracted") == 1
    cached = tmp_path / fold.name / "inception" / "features.npz"
    written = cached.stat().st_mtime_ns

    experiments.train_backbones([fold], config, tmp_path, tmp_path, smoke=True)  # the rerun: nothing trains again
    rerun = capsys.readouterr().err
    assert "extracted" not in rerun and f"{cached.parent} was trained before" in rerun
    assert cached.stat().st_mtime_ns == written
    features, result = experiments.backbone_features(cached.parent)
    assert [len(features[part]) for part in experiments.PARTS] == [len(fold.train), len(fold.val), len(fold.test)]
    assert result.y_prob.shape == (len(fold.test), 7) and len(result.history["val_accuracy"]) == 1


def test_smoke_pipeline_beats_chance_widely_and_reports_the_face_stage(smoke_run):
    run_dir = smoke_run("acgrnn", "fer2013_kfold")
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["metrics"]["accuracy"]["mean"] > 0.5  # 7 classes: chance is 0.14
    assert "test_faces_mtcnn_found_count" in record["metrics"] and "Face stage: MTCNN" in " ".join(
        record["dataset_summary"]["notes"])
    report = (run_dir / "report.md").read_text()
    assert "test_faces_mtcnn_missing_count" in report and "train_macro_f1" in report
    assert (run_dir / "train_roc.png").exists() and (run_dir / "train_confusion_matrix.png").exists()
