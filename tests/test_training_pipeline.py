"""The shared pipeline and training helper: batches, oversampling, resumable training."""
import keras
import numpy as np
import pytest

from common.pipeline import make_pipeline, oversample_indices, to_float
from common.training import fit, read_history, set_seed


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


class Interrupt(keras.callbacks.Callback):
    """Stops training with an error after `at` epochs, as a killed process would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.at:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_where_it_stopped(tmp_path):
    x, y = arrays()
    set_seed(0)
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = make_pipeline(x, y, batch_size=16, training=True)
    with pytest.raises(KeyboardInterrupt):
        fit(model, data, make_pipeline(x, y), epochs=4, work_dir=tmp_path, callbacks=[Interrupt(2)], verbose=0)
    assert len(read_history(tmp_path / "training_log.csv")["loss"]) == 2
    model = tiny_model()  # a new process: fresh weights, the backup restores them
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history, _ = fit(model, data, make_pipeline(x, y), epochs=4, work_dir=tmp_path, verbose=0)
    assert len(history["loss"]) == 4  # epochs 3 and 4 were trained, 1 and 2 not repeated
    assert (tmp_path / "best.weights.h5").exists()


def test_model_selection_refuses_a_non_validation_metric(tmp_path):
    x, y = arrays()
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match="validation"):
        fit(model, make_pipeline(x, y), None, epochs=1, work_dir=tmp_path, monitor="accuracy")
