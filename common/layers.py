"""Shared Keras layers (keras.layers / keras.ops only, so they run on every backend).

SpatialTransformer (Jaderberg et al., NIPS 2015): a localisation network regresses
the 6 parameters of an affine transform from the input, a grid generator maps the
output grid through it, and a bilinear sampler reads the input at those points.
`keras.ops.image.affine_transform` gives no gradient with respect to the transform,
so the sampler here is written out with gathers, and the loss reaches the
localisation network through the interpolation weights.
"""
from __future__ import annotations

import keras
from keras import ops


def affine_grid(theta, height, width):
    """Sampling points (x_s, y_s) in pixels of the input, each (B, height, width).

    Eq. (2) of the STN paper: [x_s, y_s]^T = theta [x_t, y_t, 1]^T on a target grid
    normalised to [-1, 1], where -1 and 1 are the centres of the corner pixels
    (so the identity transform lands exactly on the input pixels).
    """
    ys, xs = ops.meshgrid(ops.linspace(-1.0, 1.0, height), ops.linspace(-1.0, 1.0, width), indexing="ij")
    target = ops.stack([ops.reshape(xs, (-1,)), ops.reshape(ys, (-1,)), ops.ones((height * width,))])  # (3, HW)
    source = ops.einsum("bij,jn->bin", ops.reshape(theta, (-1, 2, 3)), target)  # (B, 2, HW)
    return source[:, 0], source[:, 1]


def bilinear_sample(images, x, y):
    """Eq. (3): V = sum_nm U_nm max(0, 1-|x-m|) max(0, 1-|y-n|), points x, y (B, N) in pixels.

    Each point reads its four neighbouring pixels; neighbours outside the image
    contribute zero, exactly as the sum over the image in eq. (3) implies.
    Returns (B, N, C).
    """
    batch, height, width, channels = ops.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
    flat = ops.reshape(images, (-1, channels))  # (B*H*W, C)
    offset = ops.reshape(ops.arange(batch) * (height * width), (-1, 1))
    x0, y0 = ops.floor(x), ops.floor(y)
    out = 0.0
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xn, yn = x0 + dx, y0 + dy
        weight = (1.0 - ops.abs(x - xn)) * (1.0 - ops.abs(y - yn))
        inside = (xn >= 0) & (xn <= width - 1) & (yn >= 0) & (yn <= height - 1)
        weight = ops.where(inside, weight, 0.0)
        index = ops.cast(ops.clip(yn, 0, height - 1) * width + ops.clip(xn, 0, width - 1), "int32") + offset
        out = out + ops.take(flat, ops.reshape(index, (-1,)), axis=0) * ops.reshape(weight, (-1, 1))
    return ops.reshape(out, (batch, -1, channels))


@keras.saving.register_keras_serializable(package="common")
class SpatialTransformer(keras.layers.Layer):
    """Localisation net -> affine grid -> bilinear sampler, output the size of the input.

    The localisation net has `len(filters)` parts of [conv 3x3 -> max-pool 2 -> ReLU]
    and two dense layers; the last one regresses theta and starts at the identity
    (zero kernel, bias [1, 0, 0, 0, 1, 0]), so at initialisation the layer passes its
    input through unchanged and learns to move away from it.
    """

    def __init__(self, filters=(8, 10, 10), units=32, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.localisation = []
        for i, n in enumerate(self.filters):
            self.localisation += [
                keras.layers.Conv2D(n, 3, padding="same", kernel_initializer=self.kernel_initializer, name=f"loc_conv{i + 1}"),
                keras.layers.MaxPooling2D(2, padding="same", name=f"loc_pool{i + 1}"),
                keras.layers.ReLU(name=f"loc_relu{i + 1}"),
            ]
        self.localisation += [
            keras.layers.Flatten(name="loc_flatten"),
            keras.layers.Dense(units, activation="relu", kernel_initializer=self.kernel_initializer, name="loc_fc1"),
        ]
        self.theta = keras.layers.Dense(
            6, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            name="loc_theta")

    def build(self, input_shape):
        shape = input_shape
        for layer in self.localisation:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.theta.build(shape)

    def affine_parameters(self, inputs):
        """theta (B, 2, 3) that the localisation net gives for `inputs`."""
        hidden = inputs
        for layer in self.localisation:
            hidden = layer(hidden)
        return ops.reshape(self.theta(hidden), (-1, 2, 3))

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        x, y = affine_grid(self.affine_parameters(inputs), height, width)
        x = (x + 1.0) * (width - 1) / 2.0  # normalised -> pixel coordinates
        y = (y + 1.0) * (height - 1) / 2.0
        return ops.reshape(bilinear_sample(inputs, x, y), ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": list(self.filters), "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="common")
class AttentionGatedConv1D(keras.layers.Layer):
    """Attention-gated convolution over a sequence of features: one weight per position.

    The ACGRNN paper's Theorem 1: on the feature map C = [c_1 .. c_m] of a first
    convolution, a kernel V of window k with one output channel gives the score
    a_j = g(V x C_window) + b of every position j, over the window centred on j for
    odd k and over j-k/2+1 .. j+k/2 for even k; that is a 1D convolution with "same"
    padding (the padding its proof computes), so C keeps its length. The gate is a
    sigmoid of the score (the paper names a gating mechanism without its function),
    and the output is C with each position scaled by its weight in (0, 1).
    Input (B, T, F) -> output (B, T, F); `attention_weights` gives the (B, T) weights.
    """

    def __init__(self, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.score = keras.layers.Conv1D(1, self.kernel_size, padding="same", name="attention_score")

    def build(self, input_shape):
        self.score.build(input_shape)

    def attention_weights(self, inputs):
        return ops.squeeze(ops.sigmoid(self.score(inputs)), axis=-1)

    def call(self, inputs):
        return inputs * ops.expand_dims(self.attention_weights(inputs), -1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}
