"""How a paper describes its training once (`ReplicaRecipe`), and the TensorFlow path that runs it: one fold
through Keras fit (`common.toolkit.train.fit`). The JAX path, every fold at once, is `common.toolkit.train.replicas`."""
from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Callable

import keras
import numpy as np

from common.toolkit.data.pipeline import make_pipeline, to_float
from common.toolkit.experiment import FoldResult
from common.toolkit.train.fit import fit, predict
from common.toolkit.train.selection import MODES, at_best_epoch, check_monitor

EVAL_BATCH = 256
# sparse_categorical: cross-entropy of the integer labels under softmax scores (or logits);
# binary: per-class binary cross-entropy of the one-hot labels under sigmoid scores (or logits), averaged
# over classes and items as keras.losses.BinaryCrossentropy does.
LOSSES = ("sparse_categorical", "binary")


def constant_rate(config, epoch):
    """The config's learning rate at every epoch: the schedule of a paper that names none."""
    return config["learning_rate"]


@dataclasses.dataclass
class ReplicaRecipe:
    """How one replica of an experiment trains; every function takes the run's config.

    build_model(fold, config) -> keras.Model: the engine seeds with `fold.seed` first.
    build_optimizer(config) -> keras optimizer with a float learning rate, which is
        set at the start of every epoch to learning_rate(config, epoch) (0-based; default
        `constant_rate`, config["learning_rate"]).
    augment(config, seed) -> Keras layer (or None) applied to training images in [0, 1].
    finish(model, fold, config, ctx) -> dict of extra metrics; called with the trained
        (best-epoch) model, e.g. to draw figures when ctx.first_fold.
    training_part(fold, config) -> Dataset: what of fold.train to train on (default all of it).
    inputs(part, config) -> uint8 array: the model's input for a part of a fold (default
        `part.images`), e.g. one view of multi-view clips; the engine pools these arrays.
    loss: "sparse_categorical" (integer labels, softmax scores) or "binary" (per-class binary cross-entropy of
        the one-hot labels, sigmoid scores: a paper that trains its classifier "with binary cross-entropy").
    Config keys read: epochs, batch_size, oversample (default False), early_stopping_patience
    (on `monitor`, default none), precision ("float32" default, or "mixed_bfloat16": bf16
    compute with float32 weights, for an accelerator once a run shows accuracy unchanged).
    """
    build_model: Callable
    build_optimizer: Callable
    from_logits: bool  # the model outputs logits (softmax in the loss and after prediction)
    learning_rate: Callable = constant_rate
    augment: Callable | None = None
    finish: Callable | None = None
    training_part: Callable | None = None
    inputs: Callable = lambda part, config: part.images
    monitor: str = "val_accuracy"  # or val_loss
    loss: str = "sparse_categorical"  # or binary (LOSSES)

    def __post_init__(self):
        check_monitor(self.monitor)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")

    def train_and_evaluate(self, fold, config, ctx):
        """One fold through Keras fit: the TensorFlow path (the runner seeds the fold first)."""
        fold = self.trained_fold(fold, config)
        with precision(config):
            model = self.build_model(fold, config)
        if self.loss == "binary":  # one-hot targets; accuracy is still the argmax's
            n_classes = len(fold.train.class_names)
            targets = lambda labels: keras.utils.to_categorical(labels, n_classes)
            model.compile(optimizer=self.build_optimizer(config),
                          metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                          loss=keras.losses.BinaryCrossentropy(from_logits=self.from_logits))
        else:
            targets = lambda labels: labels
            model.compile(optimizer=self.build_optimizer(config), metrics=["accuracy"],
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=self.from_logits))
        batch = config["batch_size"]
        augment = self.augment(config, fold.seed) if self.augment else None
        train = make_pipeline(to_float(self.inputs(fold.train, config)), targets(fold.train.labels),
                              batch_size=batch, training=True, augment=augment,
                              oversample=config.get("oversample", False), seed=fold.seed)
        val = make_pipeline(to_float(self.inputs(fold.val, config)), targets(fold.val.labels), batch_size=EVAL_BATCH)
        clock = TrainingClock(batch)
        callbacks = [clock, keras.callbacks.LearningRateScheduler(lambda epoch: self.learning_rate(config, epoch))]
        if config.get("early_stopping_patience"):
            callbacks.append(keras.callbacks.EarlyStopping(self.monitor, patience=config["early_stopping_patience"],
                                                           mode=MODES[self.monitor]))
        history, _ = fit(model, train, val, epochs=config["epochs"], work_dir=ctx.work_dir, monitor=self.monitor,
                         callbacks=callbacks, verbose=2)
        scores = predict(model, make_pipeline(to_float(self.inputs(fold.test, config)), batch_size=EVAL_BATCH))
        return self.fold_result(model, fold, config, ctx, history, scores, clock.seconds, clock.images)

    def trained_fold(self, fold, config):
        """The fold with its training part as `training_part` makes it."""
        return fold if self.training_part is None else dataclasses.replace(fold, train=self.training_part(fold, config))

    def fold_result(self, model, fold, config, ctx, history, scores, seconds, images):
        """FoldResult with the selected epoch's train / val loss and accuracy as extra metrics."""
        extra = at_best_epoch(history, self.monitor)
        if self.finish is not None:
            extra |= self.finish(model, fold, config, ctx)
        y_prob = np.asarray(scores, np.float32)
        if self.from_logits:  # binary: each class's sigmoid (one-vs-rest scores, not summing to 1)
            y_prob = softmax(scores) if self.loss == "sparse_categorical" else 1 / (1 + np.exp(-y_prob))
        return FoldResult(fold.test.labels, y_prob, history, extra, seconds, len(history["loss"]), images)


class TrainingClock(keras.callbacks.Callback):
    """Seconds spent in training batches only (no validation), and images they consumed."""

    resume_state = ("seconds", "images")  # kept in fit's checkpoint, so a resumed run counts the epochs before

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size, self.seconds, self.images = batch_size, 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = self.last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last = time.perf_counter()
        self.images += self.batch_size

    def on_epoch_end(self, epoch, logs=None):
        self.seconds += self.last - self.start


@contextlib.contextmanager
def precision(config):
    """Build layers under the config's dtype policy (float32 unless it says otherwise)."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.get("precision", "float32"))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def softmax(scores):
    scores = np.asarray(scores, np.float64)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
