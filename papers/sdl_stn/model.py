"""The spatial deep learning (SDL) model of Khan et al. (AETiC 2023), section 3 and Figure 4.

Two branches see the face in parallel:
- a baseline CNN of four convolutional layers, each with max-pooling and ReLU;
- two SDL modules in series (section 3.1, Figures 5-7): each is a spatial transformer
  (localisation net of three conv parts and two FC layers regressing an affine
  transform initialised to the identity, eq. (1); grid generator, eq. (2); bilinear
  sampler, eq. (3)) followed by a convolution, average pooling and ReLU. SDL-1 reads
  the image; SDL-2 reads SDL-1's feature maps.
The branches are joined into two fully connected layers for classification. All
weights start as N(0, 0.05) (section 5), and the last two FC layers carry the L2
penalty of eq. (5).

The model outputs class scores (logits): the softmax is taken inside the loss
(`from_logits=True`) and after prediction. A softmax output layer trained with
cross-entropy on probabilities loses its gradient once it saturates, which the
paper's learning rate of 0.03 does in one step; the TensorFlow backend quietly
recovers the logits behind a softmax, JAX does not, so on JAX such a model
stayed at chance. With logits both backends train the same model.

The paper gives no filter counts, kernel sizes, FC width or pixel scaling; the
defaults below are our choice (listed in the README).
"""
from __future__ import annotations

import keras
from keras import ops

FC_L2 = (0.001, 0.01)  # lambda_1, lambda_2 of eq. (5)


# ---- the spatial transformer (Jaderberg et al., NIPS 2015) --------------------------------------------
# A localisation network regresses the 6 parameters of an affine transform from the input, a grid generator
# maps the output grid through it, and a bilinear sampler reads the input at those points.
# `keras.ops.image.affine_transform` gives no gradient with respect to the transform, so the sampler here is
# written out with gathers, and the loss reaches the localisation network through the interpolation weights.
# The layers keep their registered package name "common" (where they lived first), so saved models load.

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


def baseline_branch(image, filters, init):
    """Four conv layers, each followed by 2x2 max-pooling and ReLU."""
    x = image
    for i, n in enumerate(filters, start=1):
        x = keras.layers.Conv2D(n, 3, padding="same", kernel_initializer=init, name=f"base_conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"base_pool{i}")(x)
        x = keras.layers.ReLU(name=f"base_relu{i}")(x)
    return x


def sdl_module(x, index, filters, localisation_filters, localisation_units, init):
    """SDL-k: spatial transformer -> conv -> average pooling -> ReLU (Figure 5)."""
    x = SpatialTransformer(localisation_filters, localisation_units, kernel_initializer=init,
                           name=f"sdl{index}_transformer")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=init, name=f"sdl{index}_conv")(x)
    x = keras.layers.AveragePooling2D(2, name=f"sdl{index}_pool")(x)
    return keras.layers.ReLU(name=f"sdl{index}_relu")(x)


def build_sdl_model(input_shape=(48, 48, 1), num_classes=7, *, pixel_mean=0.5, pixel_std=0.25,
                    baseline_filters=(32, 64, 128, 128), sdl_filters=(32, 32), localisation_filters=(8, 10, 10),
                    localisation_units=32, fc_units=128, init_stddev=0.05, fc_l2=FC_L2, standardise=True, seed=None):
    """init_stddev None: Keras' default initialisers instead of section 5's N(0, init_stddev); fc_l2 and
    standardise False: the ablations of `experiments.ABLATIONS`."""
    # Section 5: "random Gaussian numbers with a mean value of zero and a standard deviation of 0.05"
    init = (keras.initializers.RandomNormal(0.0, init_stddev, seed=seed) if init_stddev is not None
            else keras.initializers.GlorotUniform(seed=seed))
    image = keras.Input(input_shape, name="image")
    # The paper does not say how pixels are scaled; with N(0, 0.05) weights and no
    # normalisation layers, standardised inputs are what lets training start.
    pixels = (keras.layers.Normalization(mean=pixel_mean, variance=pixel_std ** 2, name="standardise")(image)
              if standardise else image)

    baseline = baseline_branch(pixels, baseline_filters, init)
    sdl1 = sdl_module(pixels, 1, sdl_filters[0], localisation_filters, localisation_units, init)
    sdl2 = sdl_module(sdl1, 2, sdl_filters[1], localisation_filters, localisation_units, init)

    joined = keras.layers.Concatenate(name="join")([keras.layers.Flatten(name="base_flatten")(baseline),
                                                    keras.layers.Flatten(name="sdl_flatten")(sdl2)])
    # Eq. (5): CE + 0.5 * (l1 * sum W1^2 + l2 * sum W2^2) on the last two FC layers;
    # keras' L2(a) adds a * sum W^2, hence a = 0.5 * lambda.
    hidden = keras.layers.Dense(fc_units, activation="relu", kernel_initializer=init,
                                kernel_regularizer=keras.regularizers.L2(0.5 * fc_l2[0]), name="fc1")(joined)
    scores = keras.layers.Dense(num_classes, kernel_initializer=init,  # logits (see the module docstring)
                                kernel_regularizer=keras.regularizers.L2(0.5 * fc_l2[1]), name="fc2")(hidden)
    return keras.Model(image, scores, name="sdl_stn")
