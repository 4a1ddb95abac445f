"""Input pipelines: uint8 arrays -> batches a Keras model trains on.

On the TensorFlow backend (the default) batches come from tf.data: cache,
shuffle, batch, augment, prefetch(AUTOTUNE). On JAX (the GPU machine has no
TensorFlow) the same arrays go through a `keras.utils.PyDataset`. Inputs may be
one array or a dict of named arrays (a multi-input model); augmentation applies
to the `image` input only.
"""
from __future__ import annotations

import keras
import numpy as np


def to_float(images):
    """uint8 (N, H, W) or (N, T, H, W) -> float32 in [0, 1] with a trailing channel axis."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


def augmentation(flip=True, rotation=0.04, translation=0.08, zoom=0.1, contrast=0.0, seed=0):
    """Random geometric jitter as Keras layers; rotation is a fraction of a full turn (0.04 = 14 deg)."""
    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="nearest", seed=seed))
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation, fill_mode="nearest", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seed))
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, seed=seed))
    return keras.Sequential(layers, name="augmentation")


def oversample_indices(labels, seed=0):
    """Indices that repeat the smaller classes (sampling with replacement) up to the largest class's count."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    target = np.bincount(labels).max()
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        extra = rng.choice(members, target - len(members), replace=True) if len(members) < target else []
        picked.append(np.concatenate([members, np.asarray(extra, dtype=members.dtype)]))
    return rng.permutation(np.concatenate(picked))


def _take(x, index):
    return {k: v[index] for k, v in x.items()} if isinstance(x, dict) else x[index]


def _length(x):
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def make_pipeline(x, y=None, *, batch_size=32, training=False, augment=None, oversample=False, seed=0):
    """Batches of (x, y) for `model.fit` / `predict`.

    x: float array or dict of float arrays; y: labels in whatever form the loss wants
    (int labels or one-hot), or None for prediction. `training` shuffles every epoch;
    `augment` (a Keras layer) is applied to the image input of training batches only;
    `oversample` balances classes by repetition (needs integer-like y, or one-hot).
    """
    if oversample:
        if y is None:
            raise ValueError("oversampling needs labels")
        class_of = np.argmax(y, axis=-1) if np.ndim(y) > 1 else y
        index = oversample_indices(class_of, seed)
        x, y = _take(x, index), y[index]
    if keras.backend.backend() == "tensorflow":
        return _tf_pipeline(x, y, batch_size, training, augment, seed)
    return ArrayBatches(x, y, batch_size, training, augment, seed)


def _tf_pipeline(x, y, batch_size, training, augment, seed):
    import tensorflow as tf  # only on the TensorFlow backend

    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).cache()
    if training:
        data = data.shuffle(min(_length(x), 20000), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if training and augment is not None:
        def augment_batch(*batch):
            inputs = batch[0]
            if isinstance(inputs, dict):
                inputs = {**inputs, "image": augment(inputs["image"], training=True)}
            else:
                inputs = augment(inputs, training=True)
            return (inputs, *batch[1:])
        data = data.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


class ArrayBatches(keras.utils.PyDataset):
    """The numpy path (JAX / torch backends): shuffled batches of in-memory arrays."""

    def __init__(self, x, y, batch_size, training, augment, seed):
        super().__init__()
        self.x, self.y, self.batch_size, self.training = x, y, batch_size, training
        self.augment = _compiled(augment, _take(x, [0])) if training and augment is not None else None
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(_length(x))
        self.on_epoch_end()

    def __len__(self):
        return -(-len(self.order) // self.batch_size)

    def on_epoch_end(self):
        if self.training:
            self.rng.shuffle(self.order)

    def __getitem__(self, i):
        index = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        inputs = _take(self.x, index)
        if self.augment is not None:
            if isinstance(inputs, dict):
                inputs = {**inputs, "image": self.augment(inputs["image"])}
            else:
                inputs = self.augment(inputs)
        return inputs if self.y is None else (inputs, self.y[index])


def _compiled(augment, sample):
    """The augmentation layers as one function of a numpy batch. On JAX it is compiled
    once (jit over the layers' stateless call, carrying their random-seed state): run
    eagerly, op by op, it cost 130 ms per batch of 64 on an H100, 20x the training step."""
    if keras.backend.backend() != "jax":
        return lambda images: keras.ops.convert_to_numpy(augment(images, training=True))
    import jax

    images = sample["image"] if isinstance(sample, dict) else sample
    augment.build(images.shape)
    state = [v.value for v in augment.non_trainable_variables]  # the random layers' seed generators
    step = jax.jit(lambda state, images: augment.stateless_call([], state, images, training=True))

    def apply(images):
        nonlocal state
        out, state = step(state, images)
        return np.asarray(out)
    return apply
