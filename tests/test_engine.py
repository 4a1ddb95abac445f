"""The replica engine (common/toolkit/train/engine.py) on a tiny model with BatchNorm, dropout and augmentation.

The JAX parts run in a subprocess with KERAS_BACKEND=jax (this process uses TensorFlow):
R replicas trained together must match the same R seeds trained one at a time (also for
a recurrent model on two-view clips that reads one view through the recipe's `inputs`), a run
killed after a checkpoint must resume to the uninterrupted result, the replica
axis sharded over two (virtual CPU) devices must give the same result as one device,
and the binary loss must be Keras' binary cross-entropy.
"""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"epochs": 3, "batch_size": 16, "oversample": True, "learning_rate": 0.01}

pytest.importorskip("jax")


# ---- what both backends build: a tiny recipe and folds of synthetic data -----------------------

def tiny_recipe():
    import keras

    from common.toolkit.data.pipeline import augmentation
    from common.toolkit.train.recipe import ReplicaRecipe

    def build_model(fold, config):
        image = keras.Input((12, 12, 1))
        x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(image)  # a bias before BatchNorm has no gradient but float noise, which Adam amplifies
        x = keras.layers.BatchNormalization(momentum=0.8)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Dropout(0.3)(x)
        x = keras.layers.Flatten()(x)
        return keras.Model(image, keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(1e-3))(x))

    return ReplicaRecipe(
        build_model=build_model,
        build_optimizer=lambda config: keras.optimizers.AdamW(config["learning_rate"], weight_decay=1e-3),
        learning_rate=lambda config, epoch: config["learning_rate"] * 0.5 ** (epoch // 2),  # staircase decay
        from_logits=True,
        augment=lambda config, seed: augmentation(flip=True, rotation=0.05, translation=0, zoom=0, seed=seed))


def tiny_clip_recipe():
    """A recurrent model with a softmax output on clips (N, 3, 12, 12, 2) of two views, of which it reads the first."""
    import keras

    from common.toolkit.train.recipe import ReplicaRecipe

    def build_model(fold, config):
        clip = keras.Input((3, 12, 12, 1))
        x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, strides=2))(clip)
        x = keras.layers.TimeDistributed(keras.layers.Flatten())(x)
        x = keras.layers.LSTM(8, dropout=0.2)(x)
        return keras.Model(clip, keras.layers.Dense(3, activation="softmax")(x))

    return ReplicaRecipe(
        build_model=build_model,
        build_optimizer=lambda config: keras.optimizers.Adam(config["learning_rate"]),
        from_logits=False,
        inputs=lambda part, config: part.images[..., 0])


def tiny_clip_folds():
    """tiny_folds' images as 3-frame clips (the square dims frame by frame), beside a second view of noise."""
    noise = np.random.default_rng(1)

    def as_clips(part):
        clips = np.stack([part.images // (1 + t) for t in range(3)], axis=1)
        views = np.stack([clips, noise.integers(0, 255, clips.shape).astype(np.uint8)], axis=-1)
        return dataclasses.replace(part, images=views)
    return [dataclasses.replace(f, train=as_clips(f.train), val=as_clips(f.val), test=as_clips(f.test)) for f in tiny_folds()]


def tiny_frozen_recipe():
    """The tiny recipe without BatchNorm at a learning rate of 0: every epoch's model, and so its validation
    accuracy, is the first's. Ties at every epoch: the one best-epoch rule keeps the earliest."""
    import keras

    def build_model(fold, config):
        image = keras.Input((12, 12, 1))
        x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(image))
        return keras.Model(image, keras.layers.Dense(3)(x))
    return dataclasses.replace(tiny_recipe(), build_model=build_model, learning_rate=lambda config, epoch: 0.0)


def tiny_binary_recipe():
    """The tiny recipe with sigmoid outputs trained by binary cross-entropy."""
    import keras
    recipe = tiny_recipe()

    def build_model(fold, config):
        logits = recipe.build_model(fold, config)
        return keras.Model(logits.input, keras.layers.Activation("sigmoid")(logits.output))
    return dataclasses.replace(recipe, build_model=build_model, from_logits=False, loss="binary")


def tiny_folds():
    """3 folds of unequal sizes (stratified 3-fold of 100 images, 3 unbalanced classes)."""
    from common.toolkit.data.protocols import make_folds
    from datasets.base import Dataset, Provenance
    rng = np.random.default_rng(0)
    labels = rng.choice(3, 100, p=[0.5, 0.3, 0.2])
    images = rng.integers(0, 120, (100, 12, 12)).astype(np.uint8)
    for c in range(3):  # a learnable bright square per class
        images[labels == c, 4 * c:4 * c + 4, 2:8] += 120
    ds = Dataset("tiny", images, labels, ["a", "b", "c"], Provenance("synthetic"))
    return make_folds(ds, {"kind": "stratified_kfold", "k": 3, "val_fraction": 0.2}, seed=0)


# ---- the JAX side (run in a subprocess) -------------------------------------------------------

def train_group(folds, folder, group_size, config=CONFIG, checkpoint_every=5, recipe=None):
    """[(fold, state, test scores)] of `folds` trained in groups of `group_size` replicas."""
    from common.toolkit.train.engine import Engine, Replica
    recipe, out = recipe or tiny_recipe(), []
    for start in range(0, len(folds), group_size):
        group = [Replica.build(recipe, fold, config) for fold in folds[start:start + group_size]]
        engine = Engine(recipe, group, config)
        state = engine.train(Path(folder) / str(start), checkpoint_every)
        scores, _, accuracy = engine.evaluate(state["best"], "test")
        for i in range(len(group)):
            out.append({"best": [np.asarray(v[i]).tolist() for part in state["best"] for v in part],
                        "best_epoch": int(state["best_epoch"][i]), "test_accuracy": float(accuracy[i]),
                        "test_scores": scores[i].tolist(),
                        "history": {k: v[:, i].tolist() for k, v in state["history"].items()}})
    return out


def jax_replica_runs(tmp):
    """What most tests read, from one subprocess (one JAX start-up): the folds (and two-view clips) trained
    together and alone, a binary-loss run, and a run killed after a checkpoint beside the uninterrupted one."""
    folds, clip_folds, clip_config = tiny_folds(), tiny_clip_folds()[:2], {**CONFIG, "epochs": 2}
    return {**jax_together(tmp), "alone": train_group(folds, f"{tmp}/alone", 1),
            "clips_together": train_group(clip_folds, f"{tmp}/clips_together", 2, clip_config,
                                          recipe=tiny_clip_recipe()),
            "clips_alone": train_group(clip_folds, f"{tmp}/clips_alone", 1, clip_config, recipe=tiny_clip_recipe()),
            "binary": jax_binary_loss(f"{tmp}/binary"), "killed": jax_killed_and_resumed(f"{tmp}/killed"),
            "frozen": train_group(folds[:1], f"{tmp}/frozen", 1, recipe=tiny_frozen_recipe())}


def jax_binary_loss(tmp):
    """The step's loss on random scores, and one fold's validation loss, beside Keras' BinaryCrossentropy."""
    import keras

    from common.toolkit.train.engine import Engine, Replica
    from common.toolkit.train.losses import cross_entropy
    rng = np.random.default_rng(0)
    labels, logits = rng.integers(0, 3, 8), rng.normal(size=(8, 3)).astype(np.float32)
    onehot = keras.utils.to_categorical(labels, 3)
    step, by_keras = {}, {}
    for from_logits, scores in ((True, logits), (False, 1 / (1 + np.exp(-logits)))):
        step[str(from_logits)] = float(cross_entropy(labels, scores, from_logits, "binary"))
        by_keras[str(from_logits)] = float(keras.losses.BinaryCrossentropy(from_logits=from_logits)(onehot, scores))
    fold = tiny_folds()[0]
    engine = Engine(tiny_binary_recipe(), [Replica.build(tiny_binary_recipe(), fold, CONFIG)], CONFIG)
    state = engine.train(Path(tmp))
    scores, val_loss, _ = engine.evaluate(state["best"], "val")
    return {"step": step, "keras": by_keras, "val_loss": float(val_loss[0]),
            "keras_val_loss": float(keras.losses.BinaryCrossentropy()(keras.utils.to_categorical(fold.val.labels, 3),
                                                                      scores[0])),
            "score_sums": scores[0].sum(axis=1).tolist(), "loss": state["history"]["loss"][:, 0].tolist()}


def jax_killed_and_resumed(tmp):
    """The folds of `jax_together` killed right after their first checkpoint (epoch 2), then resumed."""
    from common.toolkit.train.engine import Engine
    save, saves = Engine.save, []

    def save_then_die(self, state, folder):
        save(self, state, folder)
        saves.append(int(state["epoch"]))
        if len(saves) == 1:
            raise KeyboardInterrupt
    Engine.save = save_then_die
    try:
        train_group(tiny_folds(), f"{tmp}/killed", 3, checkpoint_every=2)
    except KeyboardInterrupt:
        pass
    finally:
        Engine.save = save
    return {"resumed": train_group(tiny_folds(), f"{tmp}/killed", 3, checkpoint_every=2), "saves": saves}


def jax_together(tmp):
    import jax
    return {"devices": len(jax.devices()), "together": train_group(tiny_folds(), f"{tmp}/together", 3)}


# XLA's CPU compiler at its lowest optimisation: these runs are a few steps each, so compiling (some 160
# programs, most of their time) costs more than the slower code it makes. Every JAX run here uses the same flags,
# so the runs they compare are compiled alike.
QUICK_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def run_jax(function, tmp_path, xla_flags="", env=None):
    code = (f"import json, sys; sys.path.insert(0, {str(REPO / 'tests')!r}); import test_engine; "
            f"print('RESULT' + json.dumps(test_engine.{function}({str(tmp_path)!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": f"{QUICK_COMPILE} {xla_flags}",
                               **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULT", 1)[1])


def assert_same_training(a, b, rtol, atol):
    assert a["best_epoch"] == b["best_epoch"]
    assert a["test_accuracy"] == b["test_accuracy"]
    np.testing.assert_allclose(a["test_scores"], b["test_scores"], rtol=rtol, atol=atol)
    for x, y in zip(a["best"], b["best"]):  # weights, BatchNorm statistics, dropout seed state
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)
    for k in a["history"]:
        np.testing.assert_allclose(a["history"][k], b["history"][k], rtol=rtol, atol=atol)


# ---- the tests --------------------------------------------------------------------------------

@pytest.fixture
def replica_runs(once, tmp_path_factory):
    """jax_replica_runs' result, computed once per test session, however many workers share the tests."""
    return once("engine-replica-runs", lambda: run_jax("jax_replica_runs", tmp_path_factory.mktemp("replica_runs")))


def test_replicas_trained_together_match_the_same_seeds_trained_one_at_a_time(replica_runs):
    runs = replica_runs
    for together, alone in zip(runs["together"] + runs["clips_together"], runs["alone"] + runs["clips_alone"]):
        assert_same_training(together, alone, rtol=1e-4, atol=1e-5)
    assert len(runs["clips_together"]) == 2
    # the replicas really differ: own seeds, own folds
    assert runs["together"][0]["test_scores"][0] != runs["together"][1]["test_scores"][0]
    assert runs["together"][0]["history"]["learning_rate"] == [0.01, 0.01, 0.005]


def test_the_binary_loss_on_the_engine_is_keras_binary_cross_entropy(replica_runs):
    run = replica_runs["binary"]
    for from_logits in ("True", "False"):
        np.testing.assert_allclose(run["step"][from_logits], run["keras"][from_logits], rtol=1e-5)
    np.testing.assert_allclose(run["val_loss"], run["keras_val_loss"], rtol=1e-5)
    assert not np.allclose(run["score_sums"], 1)  # sigmoid scores: one per class, not a distribution
    assert run["loss"][-1] < run["loss"][0]  # it learns


def test_a_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_result(replica_runs):
    """Resumed from its epoch-2 checkpoint, the run ends exactly as the one trained straight through (which
    saved no checkpoint before its end)."""
    runs = replica_runs["killed"]
    assert runs["saves"][0] == 2
    for whole, resumed in zip(replica_runs["together"], runs["resumed"]):
        assert len(resumed["history"]["loss"]) == CONFIG["epochs"]
        assert_same_training(whole, resumed, rtol=0, atol=0)


def test_the_replica_axis_sharded_over_two_devices_gives_the_one_device_result(replica_runs, tmp_path):
    one = replica_runs
    two = run_jax("jax_together", tmp_path, xla_flags="--xla_force_host_platform_device_count=2")
    assert (one["devices"], two["devices"]) == (1, 2)
    for a, b in zip(one["together"], two["together"]):  # 3 replicas padded to 4, split 2 + 2
        assert_same_training(a, b, rtol=1e-4, atol=1e-5)


def test_replicas_built_one_after_another_have_the_same_signature_so_they_group():
    from common.toolkit.train.engine import Replica
    first, second = (Replica.build(tiny_recipe(), fold, CONFIG) for fold in tiny_folds()[:2])
    assert first.signature == second.signature  # Keras' auto-generated layer names would differ otherwise


def test_the_tensorflow_path_trains_the_recipe_through_keras_fit(tmp_path):
    import keras

    from common.toolkit.experiment import RunContext
    fold = tiny_folds()[0]
    keras.utils.set_random_seed(fold.seed)
    rates = []

    def learning_rate(config, epoch):
        rates.append(tiny_recipe().learning_rate(config, epoch))
        return rates[-1]
    recipe = dataclasses.replace(tiny_recipe(), learning_rate=learning_rate)
    result = recipe.train_and_evaluate(fold, CONFIG, RunContext(tmp_path / "work", tmp_path))
    assert result.y_prob.shape == (len(fold.test), 3)
    np.testing.assert_allclose(result.y_prob.sum(axis=1), 1, rtol=1e-5)  # logits -> probabilities
    assert rates == [0.01, 0.01, 0.005]  # the recipe's schedule, set every epoch
    assert len(result.history["loss"]) == 3
    assert result.extra["selected_epoch"] == 1 + int(np.argmax(result.history["val_accuracy"]))


def test_both_paths_select_the_epoch_by_the_one_rule(replica_runs, tmp_path):
    """Keras fit (here, on TensorFlow) and the engine (on JAX) pick each training's epoch by
    common.toolkit.train.selection: on a learning recipe each picks best_epoch of its own history, and on a
    frozen one, whose epochs tie, both keep the first."""
    import keras

    from common.toolkit.experiment import RunContext
    from common.toolkit.train.selection import best_epoch
    fold = tiny_folds()[0]
    selected = {}
    for name, recipe in (("learning", tiny_recipe()), ("frozen", tiny_frozen_recipe())):
        keras.utils.set_random_seed(fold.seed)
        result = recipe.train_and_evaluate(fold, CONFIG, RunContext(tmp_path / name, tmp_path))
        assert result.extra["selected_epoch"] == 1 + best_epoch(result.history)
        selected[name] = result.extra["selected_epoch"] - 1
    for run in (replica_runs["alone"][0], replica_runs["frozen"][0]):
        assert run["best_epoch"] == best_epoch(run["history"])
    frozen = replica_runs["frozen"][0]["history"]["val_accuracy"]
    assert len(set(frozen)) == 1 and len(frozen) == CONFIG["epochs"]  # a tie at every epoch
    assert selected["frozen"] == replica_runs["frozen"][0]["best_epoch"] == 0


def jax_runner_smoke(tmp):
    """sdl_stn's FER2013 experiment on a small synthetic FER2013 through the runner: 2 repeats, 2 epochs, on the
    engine (2 replicas in one step run slowly on a CPU: this checks the wiring, not what is learned)."""
    import papers
    from common.harness.run.runner import run_experiment
    exp = papers.experiments("sdl_stn")["fer2013"]
    run_dir = run_experiment(exp, smoke=True, out_root=tmp, overrides={"epochs": 2, "protocol": {"repeats": 2},
                                                                "synthetic": {"n_train": 56, "n_public": 14,
                                                                              "n_private": 14}})
    return {"metrics": json.loads((run_dir / "metrics.json").read_text()),
            "figures": sorted(p.name for p in run_dir.glob("*.png"))}


def test_the_runner_hands_a_recipe_experiment_to_the_engine_on_jax(tmp_path):
    run = run_jax("jax_runner_smoke", tmp_path, env={"ENGINE_REPLICAS_PER_STEP": "2"})
    assert run["metrics"]["backend"] == "jax"
    assert run["metrics"]["metrics"]["accuracy"]["n"] == 2
    assert run["metrics"]["metrics"]["selected_epoch"]["n"] == 2
    assert {"saliency_maps.png", "sdl1_transforms.png"} <= set(run["figures"])  # the recipe's finish hook
