"""The shared pipeline and training helper: batches, oversampling, resumable training."""
import keras
import numpy as np
import pytest

from common.toolkit.data.pipeline import (
    RandomAffine,
    augmentation,
    make_pipeline,
    oversample_indices,
    set_epoch,
    to_float,
)
from common.toolkit.train.fit import fit, resumed_from_epoch, set_seed
from common.toolkit.train.selection import at_best_epoch, best_epoch
from conftest import Interrupt


def tiny_model(n_classes=3):
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(n_classes, activation="softmax")])


def arrays(n=60):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.integers(0, 50, (n, 8, 8), dtype=np.uint8)
    x[np.arange(n), y, :] = 255  # the class is the bright row
    return to_float(x), y


def test_oversampling_balances_classes():
    labels = np.array([0] * 50 + [1] * 10 + [2] * 5)
    index = oversample_indices(labels, seed=0)
    assert np.bincount(labels[index]).tolist() == [50, 50, 50]
    assert set(np.flatnonzero(labels == 2)) <= set(index)  # every original item is kept


def test_the_affine_augmentation_flips_exactly_and_moves_the_centre_only_by_its_translation():
    """One resampling stands for RandomFlip, RandomRotation, RandomTranslation and RandomZoom: a flip alone is an
    exact mirror (drawn for about half the images); rotation and zoom turn about the centre, so a dot there moves
    by the translation alone, at most 8% of the side."""
    x = np.random.default_rng(0).random((64, 25, 25, 1)).astype("float32")
    flipped = keras.ops.convert_to_numpy(RandomAffine(flip=True, seed=0)(x))
    mirrored = [np.allclose(f, m, atol=1e-5) for f, m in zip(flipped, x[:, :, ::-1])]
    assert all(m or np.allclose(f, i, atol=1e-5) for m, f, i in zip(mirrored, flipped, x)) and 16 < sum(mirrored) < 48
    dot = np.zeros((64, 25, 25, 1), "float32")
    dot[:, 12, 12] = 1
    moved = keras.ops.convert_to_numpy(augmentation(seed=0)(dot))
    rows, cols = np.indices((25, 25))
    for image in moved[..., 0]:
        centre = np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()
        assert np.all(np.abs(centre - 12) <= 0.08 * 25 + 0.5), centre


def test_pipeline_batches_and_augments_only_training_data():
    x, y = arrays()
    flip = keras.layers.RandomFlip("horizontal", seed=0)
    eval_batches = list(make_pipeline(x, y, batch_size=16))
    assert [len(b[0]) for b in eval_batches] == [16, 16, 16, 12]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in eval_batches]), x)  # no shuffle, no augmentation
    train_batches = list(make_pipeline({"image": x, "other": y[:, None].astype("float32")}, y, batch_size=16,
                                       training=True, augment=flip, oversample=True))
    assert sum(len(b[1]) for b in train_batches) == 60
    assert set(train_batches[0][0]) == {"image", "other"}


def test_a_training_pipeline_is_a_function_of_seed_and_epoch():
    x, y = arrays()

    def epoch_batches(data):
        batches = list(data)  # one pass
        return [np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])]

    def pipeline():
        return make_pipeline(x, y, batch_size=16, training=True, augment=keras.layers.RandomTranslation(0.2, 0.2, seed=1))
    straight = pipeline()
    epochs = []
    for epoch in range(3):  # as fit does
        set_epoch(straight, epoch)
        epochs.append(epoch_batches(straight))
    assert not np.array_equal(epochs[1][1], epochs[2][1])  # reshuffled
    jumped = pipeline()
    set_epoch(jumped, 2)  # a resumed run starts at epoch 2
    for a, b in zip(epochs[2], epoch_batches(jumped)):
        np.testing.assert_array_equal(a, b)


def resumable_training(work_dir, interrupt_at=None):
    """A model with dropout, trained on augmented, shuffled data with a plateau schedule and early stopping."""
    x, y = arrays()
    set_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = make_pipeline(x, y, batch_size=16, training=True, augment=augmentation(seed=1), seed=0)
    callbacks = [keras.callbacks.ReduceLROnPlateau("val_accuracy", patience=1, factor=0.5),
                 keras.callbacks.EarlyStopping("val_loss", patience=3)]
    callbacks += [Interrupt(interrupt_at)] if interrupt_at else []
    history, seconds = fit(model, data, make_pipeline(x, y), epochs=5, work_dir=work_dir, callbacks=callbacks,
                           verbose=0)
    return history, seconds, model.predict(x, verbose=0)


def test_a_training_pipeline_under_op_determinism_prints_nothing(capfd):
    """set_seed turns on TensorFlow's op determinism; a parallel map after the pipeline's stateful epoch counter
    was then rewritten, printing an E0000 line from C++ (file descriptor 2) at every training."""
    set_seed(0)
    x, y = arrays()
    for _ in make_pipeline(x, y, batch_size=16, training=True, augment=augmentation(), seed=0):
        pass
    assert not capfd.readouterr().err.strip()


def test_interrupted_training_ends_exactly_as_the_uninterrupted_one(tmp_path):
    history, _, scores = resumable_training(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        resumable_training(tmp_path / "killed", interrupt_at=3)
    assert resumed_from_epoch(tmp_path / "killed") is None
    resumed_history, seconds, resumed_scores = resumable_training(tmp_path / "killed")
    assert resumed_from_epoch(tmp_path / "killed") == 3  # epochs 1, 2 checkpointed; training restarted at 3
    assert resumed_history == history
    np.testing.assert_array_equal(resumed_scores, scores)  # same best epoch, same weights
    again_history, again_seconds, again_scores = resumable_training(tmp_path / "killed")  # finished: no training
    assert again_history == history and again_seconds == seconds
    np.testing.assert_array_equal(again_scores, scores)


def test_model_selection_refuses_a_non_validation_metric(tmp_path):
    x, y = arrays()
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match="validation"):
        fit(model, make_pipeline(x, y), None, epochs=1, work_dir=tmp_path, monitor="accuracy")


def test_the_best_epoch_rule_keeps_the_earliest_of_equal_epochs_and_reads_the_monitor_s_direction():
    history = {"val_accuracy": [0.5, 0.7, 0.7, 0.6], "val_loss": [0.9, 0.4, 0.4, 0.5],
               "accuracy": [0.4, 0.6, 0.8, 0.9], "loss": [1.0, 0.5, 0.3, 0.2]}
    assert best_epoch(history) == 1
    assert best_epoch(history, "val_loss") == 1
    assert best_epoch({"val_loss": [0.9, 0.95, 0.3]}, "val_loss") == 2
    assert at_best_epoch(history) == {"train_accuracy": 0.6, "val_accuracy": 0.7, "train_loss": 0.5,
                                      "val_loss": 0.4, "selected_epoch": 2}
