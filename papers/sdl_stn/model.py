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

from common.layers import SpatialTransformer

FC_L2 = (0.001, 0.01)  # lambda_1, lambda_2 of eq. (5)


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
