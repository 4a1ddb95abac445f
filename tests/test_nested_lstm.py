"""nested_lstm: the pyramid pooling layer, the video helpers, and the SASE-FE / Oulu-CASIA loaders on their
synthetic layouts. Every model of the paper learning on synthetic clips is checked once, through the
runner, by tests/test_registry.py (one experiment per model)."""
import shutil

import cv2
import keras
import numpy as np
import pytest

import datasets
from common.toolkit.experiment import Fold
from datasets import synthetic
from datasets.base import DatasetError, Provenance
from datasets.video import read_video, spread_clip, window_indices, write_video
from papers.nested_lstm import experiments
from papers.nested_lstm.model import SpatialPyramidPooling
from papers.nested_lstm.preprocess import VIEWS, ClipViews


@pytest.mark.parametrize("levels,size", [((2,), 8), ((4,), 8), ((8,), 8), ((2, 4, 8), 12), ((2, 4, 8), 3)])
def test_pyramid_pooling_gives_n_squared_bins_per_channel_for_any_map_size(levels, size):
    x = np.random.default_rng(0).random((2, 5, size, size, 3)).astype("float32")
    layer = SpatialPyramidPooling(levels)
    expected = sum(n * n for n in levels) * 3
    assert layer(x).shape == (2, 5, expected) == layer.compute_output_shape(x.shape)
    assert layer(x[:, 0]).shape == (2, expected)  # a single frame (B, H, W, C)
    assert np.allclose(np.asarray(layer(x)).max(axis=-1), x.max(axis=(2, 3, 4)))  # bins cover the whole map


def test_pyramid_pooling_takes_each_bins_maximum():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    assert np.asarray(SpatialPyramidPooling((2,))(x)).ravel().tolist() == [5, 7, 13, 15]


def test_pyramid_pooling_round_trips_through_keras_save(tmp_path):
    inputs = keras.Input((3, 12, 12, 2))
    model = keras.Model(inputs, keras.layers.Dense(2)(SpatialPyramidPooling((2, 4, 8), name="mspp")(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("mspp").levels == (2, 4, 8)
    x = np.random.default_rng(1).random((2, 3, 12, 12, 2)).astype("float32")
    assert np.allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)


def test_window_keeps_frames_from_half_to_eighty_percent_of_a_known_video(tmp_path):
    frames = np.stack([np.full((24, 32), 10 * i, np.uint8) for i in range(20)])  # frame i has brightness 10 i
    video = write_video(frames, tmp_path / "known.avi", fps=10)
    decoded, fps = read_video(video)
    assert len(decoded) == 20 and fps == pytest.approx(10)
    window = window_indices(len(decoded))
    assert window.tolist() == [10, 11, 12, 13, 14, 15]  # 1.0 s to 1.6 s of a 2 s video
    assert [round(decoded[i].mean() / 10) for i in window] == window.tolist()
    assert spread_clip(window, 5).tolist() == [10, 11, 12, 14, 15]
    assert window_indices(100).tolist() == list(range(50, 80))


@pytest.mark.parametrize("content,problem", [(b"", "cannot open"), (b"not a video at all" * 50, "cannot open")])
def test_corrupt_or_empty_video_fails_clearly_and_the_loader_counts_it(tmp_path, content, problem):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(content)
    with pytest.raises(DatasetError, match=problem) as error:
        read_video(broken)
    assert str(broken) in str(error.value)
    root = datasets.write_synthetic("sasefe", tmp_path, n_subjects=3, frames=20)
    bad = root / "S001" / "N2A.mp4"
    bad.write_bytes(content)
    ds = datasets.load("sasefe", root)
    assert {"where": str(bad), "reason": error.value.problem} in ds.provenance.skipped
    only_bad = tmp_path / "only_bad" / "P1"
    only_bad.mkdir(parents=True)
    (only_bad / "N2H.mp4").write_bytes(content)
    with pytest.raises(DatasetError, match="no SASE-FE video could be read"):
        datasets.load("sasefe", only_bad.parent)


def test_sasefe_loader_reads_its_synthetic_videos_by_participant_with_genuine_and_fake(tmp_path):
    root = datasets.write_synthetic("sasefe", tmp_path, n_subjects=10, frames=20)
    assert sorted(p.suffix for p in root.rglob("*.*"))[0] == ".mp4"
    ds = datasets.load("sasefe", root)
    assert ds.images.shape[1:] == (5, 48, 48) and set(ds.class_names) == {
        "anger", "contempt", "disgust", "happiness", "sadness", "surprise"}
    assert len(set(ds.subjects)) == 10 and not ds.provenance.skipped
    by_split = {s: set(ds.subjects[ds.splits == s]) for s in ("train", "val", "test")}
    assert [len(by_split[s]) for s in ("train", "val", "test")] == [7, 1, 2]  # 40 / 2 / 8 scaled to 10
    assert not (by_split["train"] & by_split["test"]) and not (by_split["train"] & by_split["val"])
    hidden = datasets.load("sasefe", root, labels="emotion_authenticity")
    assert len(hidden.class_names) == 12 and min(hidden.class_counts().values()) > 0


def test_oulu_loader_reads_frame_folders_and_videos_in_the_release_layout(tmp_path):
    root = datasets.write_synthetic("oulu", tmp_path, n_subjects=8, frames=20)
    ds = datasets.load("oulu", root)
    assert ds.images.shape[1:] == (5, 48, 48) and ds.class_names[0] == "anger"
    assert len(set(ds.subjects)) == 8 and set(ds.splits) == {"train", "val", "test"}
    folder = sorted((root / "OriginalImg" / "VL" / "Strong").glob("P*/*"))[0]
    frames = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in sorted(folder.iterdir())])
    write_video(frames, folder.parent / f"{folder.name}.avi")  # the sequence as a video instead of a folder
    shutil.rmtree(folder)
    again = datasets.load("oulu", root)
    assert len(again) == len(ds) and np.abs(again.images.astype(int) - ds.images.astype(int)).mean() < 8
def synthetic_clip_views(n_subjects=12, per_class=48, classes=("happiness", "surprise"), frames=3, size=32):
    """Synthetic clips (apex frames) as the prepared ClipViews: every view is the face, geometry is zero."""
    clips, labels, subjects = synthetic.face_sequences(per_class * len(classes), list(classes), frames=frames + 4,
                                                       size=size, seed=3, n_subjects=n_subjects)
    clips = clips[:, -frames:]
    views = np.repeat(clips[..., None], len(VIEWS), axis=-1)
    n = len(labels)
    return ClipViews("synthetic", views, labels, list(classes), Provenance("synthetic"), subjects=subjects,
                     geometry=np.zeros((n, frames, 136), np.float32), face_found=np.ones((n, frames), bool))


TINY_CNN_LSTM = {"width": 0.0625, "fc_units": 1024, "rnn_units": 512, "rnn_layers": 1}


def test_clip_models_train_through_the_replica_recipe_on_one_view_and_folds_share_one_model_function():
    from common.toolkit.train.engine import Replica
    on_engine = {name for name, e in experiments.EXPERIMENTS.items() if e.replica_recipe is experiments.CLIP_RECIPE}
    assert on_engine == {"ckplus_nested_lstm", "ckplus_c3d", "ckplus_cnn_lstm", "ckplus_cnn_gru"}
    ds = synthetic_clip_views(n_subjects=4, per_class=4, size=16)
    ds.images[..., VIEWS.index("aligned")] = 7
    config = {**experiments.BASE, "model": {**experiments.MODELS["cnn_lstm"], **TINY_CNN_LSTM}}
    x = experiments.CLIP_RECIPE.inputs(ds, config)
    assert x.dtype == np.uint8 and x.shape == ds.images.shape[:-1] and (x == 7).all()
    folds = [Fold(f"fold{i}", i, i, ds, ds, ds) for i in range(2)]
    first, second = (Replica.build(experiments.CLIP_RECIPE, fold, config) for fold in folds)
    assert first.signature == second.signature  # the engine trains them as replicas of one step
