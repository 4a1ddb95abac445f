"""sdl_stn: the model's structure at tiny size, saliency maps, the FERG loader on synthetic
FERG_DB_256 data, the claims file, and the whole FER2013 pipeline on synthetic data."""
import json

import keras
import numpy as np
import pytest

from common.harness.judge.claims import claims_path, load_claims
from datasets import ferg
from papers.sdl_stn import DEFAULT_EXPERIMENTS, EXPERIMENTS
from papers.sdl_stn.figures import input_gradients
from papers.sdl_stn.model import SpatialTransformer, build_sdl_model

TINY = dict(baseline_filters=(2, 2, 2, 2), sdl_filters=(2, 2), localisation_filters=(2, 2, 2), localisation_units=4,
            fc_units=8)


def test_tiny_model_has_a_baseline_branch_beside_two_chained_sdl_modules():
    model = build_sdl_model((16, 16, 1), 7, **TINY)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.startswith("base_conv")] == ["base_conv1", "base_conv2", "base_conv3", "base_conv4"]
    for k in (1, 2):
        assert isinstance(model.get_layer(f"sdl{k}_transformer"), SpatialTransformer)
        assert {f"sdl{k}_conv", f"sdl{k}_pool", f"sdl{k}_relu"} <= set(names)
    # SDL-2 reads SDL-1's output; the branches meet in two FC layers
    assert model.get_layer("sdl2_transformer").input is model.get_layer("sdl1_relu").output
    assert model.get_layer("fc1").input is model.get_layer("join").output
    assert model.get_layer("fc1").kernel_regularizer.l2 == pytest.approx(0.5 * 0.001)
    assert model.get_layer("fc2").kernel_regularizer.l2 == pytest.approx(0.5 * 0.01)
    assert tuple(model.output.shape) == (None, 7)
    assert model.get_layer("fc2").activation is keras.activations.linear  # logits; softmax in the loss


def test_saliency_maps_are_nonnegative_per_pixel_gradients():
    model = build_sdl_model((16, 16, 1), 3, **TINY)
    images = np.random.default_rng(0).random((4, 16, 16, 1), dtype=np.float32)
    maps, scores = input_gradients(model, images, [0, 1, 2, 0])
    assert maps.shape == (4, 16, 16) and (maps >= 0).all() and maps.max() > 0
    np.testing.assert_allclose(scores, model.predict(images, verbose=0), rtol=1e-5, atol=1e-6)  # the same pass


def test_ferg_loader_reads_the_ferg_db_256_layout_and_counts_unreadable_files(tmp_path):
    root = ferg.write_synthetic(tmp_path, per_class=2, image_size=64)
    assert sorted(p.name for p in root.iterdir()) == ferg.CHARACTERS
    assert (root / "mery" / "mery_joy").is_dir()
    (root / "ray" / "ray_fear" / "ray_fear_999.png").write_bytes(b"not a png")
    ds = ferg.load(root, size=32)
    assert ds.images.shape[1:] == (32, 32) and ds.images.dtype == np.uint8
    assert len(ds) == 2 * 7 * 6 and ds.class_names == ferg.CLASS_NAMES
    assert sorted(set(ds.subjects)) == ferg.CHARACTERS
    assert [s["reason"] for s in ds.provenance.skipped] == ["unreadable image"]


def test_ferg_loader_names_the_problem_with_a_wrong_folder(tmp_path):
    with pytest.raises(ValueError, match="FERG_DB_256 layout"):
        ferg.load(tmp_path)


def test_claims_file_is_valid_and_names_only_known_experiments():
    claims = load_claims(claims_path("sdl_stn"))
    assert {c["experiment"] for c in claims["claims"]} - {None} <= set(EXPERIMENTS)


def test_smoke_fer2013_pipeline_beats_chance_widely(smoke_run):
    assert DEFAULT_EXPERIMENTS == ["fer2013"]
    run_dir = smoke_run("sdl_stn", "fer2013")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["accuracy"]["mean"] > 2 / 7
    assert (run_dir / "saliency_maps.png").exists() and (run_dir / "sdl1_transforms.png").exists()


@pytest.mark.parametrize("standardise", [True, False])
def test_the_transform_figure_draws_with_and_without_the_standardising_layer(tmp_path, standardise):
    """The ablation on raw pixels builds the model without its `standardise` layer; its figure must still draw."""
    from papers.sdl_stn.figures import transform_figure
    model = build_sdl_model((16, 16, 1), 7, standardise=standardise, init_stddev=None, fc_l2=(0.0, 0.0), **TINY)
    assert ("standardise" in [layer.name for layer in model.layers]) == standardise
    transform_figure(model, np.random.default_rng(0).random((4, 16, 16, 1), dtype=np.float32), tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0
