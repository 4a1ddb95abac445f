"""Input pipelines: uint8 arrays -> batches a Keras model trains on.

On the TensorFlow backend (the default) batches come from tf.data: the arrays
held once, a permutation per epoch, gather and augment, prefetch(AUTOTUNE). On JAX
(the GPU machine has no TensorFlow) the same arrays go through a
`keras.utils.PyDataset`. Inputs may be one array or a dict of named arrays (a
multi-input model); augmentation applies to the `image` input only.
"""
from __future__ import annotations

import keras
import numpy as np


def to_float(images):
    """uint8 (N, H, W) or (N, T, H, W) -> float32 in [0, 1] with a trailing channel axis."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


def augmentation(flip=True, rotation=0.04, translation=0.08, zoom=0.1, seed=0):
    """Random geometric jitter as one Keras layer; rotation is a fraction of a full turn (0.04 = 14 deg),
    translation and zoom fractions of the image's size."""
    return RandomAffine(flip, rotation, translation, zoom, seed=seed, name="augmentation")


class RandomAffine(keras.layers.Layer):
    """A horizontal flip, rotation, translation and zoom, drawn per image as Keras's RandomFlip, RandomRotation,
    RandomTranslation and RandomZoom draw them, applied as one affine resampling with nearest-pixel fill.

    Why one layer: those three geometric layers resample the batch three times. Composed into one transform, the
    image is interpolated once, and a real CPU run of sdl_stn trains 20% faster
    (results/bench/sdl_stn__real_run_throughput.json)."""

    def __init__(self, flip=True, rotation=0.0, translation=0.0, zoom=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.flip, self.rotation, self.translation, self.zoom = flip, rotation, translation, zoom
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        ops = keras.ops
        n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]

        def draw(bound):
            return keras.random.uniform((n,), -bound, bound, seed=self.seed_generator)
        mirror = ops.where(draw(1.0) < 0, -1.0, 1.0) if self.flip else ops.ones((n,))
        angle = draw(self.rotation * 2 * np.pi)
        scale = 1.0 + draw(self.zoom)  # > 1 zooms out, as RandomZoom's positive factors do
        shift_x, shift_y = draw(self.translation) * width, draw(self.translation) * height
        # output pixel (x, y) reads input c + scale * R(angle) @ diag(mirror, 1) @ ((x, y) - c) - shift
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        a0, a1, b0, b1 = cos * mirror, -sin, sin * mirror, cos
        cx, cy = (width - 1) / 2, (height - 1) / 2
        a2, b2 = cx - a0 * cx - a1 * cy - shift_x, cy - b0 * cx - b1 * cy - shift_y
        zeros = ops.zeros((n,))
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="nearest")

    def compute_output_shape(self, input_shape):
        return input_shape


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

    A training pipeline is a pure function of (seed, epoch): epoch e's order is a
    permutation drawn from (seed, e), and the augmentation of its b-th batch is drawn
    from (the layers' seeds, e * batches per epoch + b). Each pass of `model.fit` over
    the data is the next epoch; `set_epoch` says which one comes next, so a resumed training run sees
    exactly the batches the uninterrupted run saw (`common.toolkit.train.fit.fit` calls it).
    """
    if training and y is None:
        raise ValueError("a training pipeline needs labels")
    if oversample:
        if y is None:
            raise ValueError("oversampling needs labels")
        class_of = np.argmax(y, axis=-1) if np.ndim(y) > 1 else y
        index = oversample_indices(class_of, seed)
        x, y = _take(x, index), y[index]
    if keras.backend.backend() == "tensorflow":
        if training:
            return _tf_training_pipeline(x, y, batch_size, augment, seed)
        return _tf_pipeline(x, y, batch_size)
    return ArrayBatches(x, y, batch_size, training, augment, seed)


def set_epoch(data, epoch):
    """Make the next pass over training pipeline `data` epoch `epoch` (a no-op on other data)."""
    if isinstance(data, ArrayBatches):
        data.set_epoch(epoch)
    elif hasattr(data, "next_epoch"):
        data.next_epoch.assign(epoch)


# Random layers draw a few numbers per call from their seed generator's counter: each
# batch gets its own block of counters, so no two batches share random numbers.
COUNTERS_PER_BATCH = 16


def _tf_pipeline(x, y, batch_size):
    import tensorflow as tf  # only on the TensorFlow backend

    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).cache().batch(batch_size)
    return data.prefetch(tf.data.AUTOTUNE)


def _tf_training_pipeline(x, y, batch_size, augment, seed):
    import tensorflow as tf  # only on the TensorFlow backend

    n = _length(x)
    steps = -(-n // batch_size)
    inputs = tf.nest.map_structure(tf.constant, x)
    labels = tf.constant(y)
    next_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    seed_states = _augmentation_seed_states(augment, _take(x, [0]))

    def epoch_batches(_):
        epoch = next_epoch.assign_add(1) - 1
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                         seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate().map(
            lambda b, index: (epoch * steps + b, index))

    def load(step, index):
        batch = tf.nest.map_structure(lambda a: tf.gather(a, index), inputs)
        if augment is not None:
            images = batch["image"] if isinstance(batch, dict) else batch
            state = [s + tf.cast(tf.stack([j, step * COUNTERS_PER_BATCH]), s.dtype) for j, s in enumerate(seed_states)]
            images, _ = augment.stateless_call([], state, images, training=True)
            batch = {**batch, "image": images} if isinstance(batch, dict) else images
        return batch, tf.gather(labels, index)

    data = tf.data.Dataset.from_tensors(0).flat_map(epoch_batches)
    # One batch at a time: under TensorFlow's op determinism (`set_seed`) a parallel map after the stateful epoch
    # counter is rewritten into this anyway, and the rewrite printed an E0000 line at every training.
    data = data.map(load)
    data = data.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)
    data.next_epoch = next_epoch  # what `set_epoch` sets
    return data


def _augmentation_seed_states(augment, sample):
    """The initial seed-generator states of the augmentation layers, each layer's key offset
    by its position (`load` adds it) so that layers given one seed still draw different numbers."""
    if augment is None:
        return []
    images = sample["image"] if isinstance(sample, dict) else sample
    augment.build(images.shape)
    return [keras.ops.convert_to_numpy(v.value) for v in augment.non_trainable_variables]


class ArrayBatches(keras.utils.PyDataset):
    """The numpy path (JAX / torch backends): shuffled batches of in-memory arrays, the same
    pure function of (seed, epoch) as the tf.data path."""

    def __init__(self, x, y, batch_size, training, augment, seed):
        super().__init__()
        self.x, self.y, self.batch_size, self.training, self.seed = x, y, batch_size, training, seed
        self.augment = _compiled(augment, _take(x, [0])) if training and augment is not None else None
        self.set_epoch(0)

    def __len__(self):
        return -(-_length(self.x) // self.batch_size)

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.order = np.arange(_length(self.x))
        if self.training:
            self.order = np.random.default_rng([self.seed, epoch]).permutation(self.order)

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def __getitem__(self, i):
        index = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        inputs = _take(self.x, index)
        if self.augment is not None:
            step = self.epoch * len(self) + i
            if isinstance(inputs, dict):
                inputs = {**inputs, "image": self.augment(inputs["image"], step)}
            else:
                inputs = self.augment(inputs, step)
        return inputs if self.y is None else (inputs, self.y[index])


def _compiled(augment, sample):
    """The augmentation layers as one function of a numpy batch and its step number. On JAX
    it is compiled once (jit over the layers' stateless call): run eagerly, op by op, it cost
    130 ms per batch of 64 on an H100, 20x the training step."""
    initial = _augmentation_seed_states(augment, sample)

    def states(step):
        return [s + np.asarray([j, step * COUNTERS_PER_BATCH], dtype=s.dtype) for j, s in enumerate(initial)]

    if keras.backend.backend() != "jax":
        return lambda images, step: keras.ops.convert_to_numpy(
            augment.stateless_call([], states(step), images, training=True)[0])
    import jax

    call = jax.jit(lambda state, images: augment.stateless_call([], state, images, training=True)[0])
    return lambda images, step: np.asarray(call(states(step), images))
