"""The paper's classifier (Section 4, Fig. 2) and the abstract's HOG hybrid.

Section 4: six convolution layers with 3x3 kernels and ReLU, 2x2 max-pooling,
a flatten layer, a fully connected layer and softmax over the expression classes,
on 48x48 grayscale faces. The abstract adds what fights overfitting: dropout,
batch normalisation and L2 regularisation. The paper prints no filter counts;
we use the common arrangement of three blocks of two convolutions (32, 64, 128
filters), each block closed by max-pooling and dropout.

The hybrid model of the abstract feeds HOG features (papers/cnn_webcam/hog.py)
through a dense layer of their own and joins them to the flattened convolutional
features before the fully connected layer.
"""
from __future__ import annotations

import keras
from keras import layers, regularizers

BN_MOMENTUM = 0.9  # Keras' 0.99 leaves the moving statistics stale after the few epochs a CPU run affords


def conv_layer(x, filters, index, l2):
    """One of the six: 3x3 convolution -> batch norm -> ReLU. Named conv1..conv6 / relu1..relu6
    so that the visualisation can pick each layer's feature maps."""
    x = layers.Conv2D(filters, 3, padding="same", kernel_regularizer=regularizers.l2(l2), name=f"conv{index}")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{index}")(x)
    return layers.Activation("relu", name=f"relu{index}")(x)


def build_model(num_classes, input_size=48, filters=(32, 64, 128), dense_units=128, conv_dropout=0.25,
                dense_dropout=0.5, l2=1e-4, hog_length=0):
    """The 6-conv CNN; with `hog_length` > 0, the hybrid that takes {"image", "hog"} inputs."""
    image = keras.Input((input_size, input_size, 1), name="image")
    x = image
    index = 0
    for block, width in enumerate(filters, start=1):
        for _ in range(2):
            index += 1
            x = conv_layer(x, width, index, l2)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        x = layers.Dropout(conv_dropout, name=f"dropout{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    inputs = image
    if hog_length:
        hog = keras.Input((hog_length,), name="hog")
        h = layers.Dense(dense_units, activation="relu", kernel_regularizer=regularizers.l2(l2), name="hog_dense")(hog)
        x = layers.Concatenate(name="pixels_and_hog")([x, h])
        inputs = {"image": image, "hog": hog}
    x = layers.Dense(dense_units, kernel_regularizer=regularizers.l2(l2), name="fc")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="fc_bn")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    x = layers.Dropout(dense_dropout, name="fc_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name="cnn_hog_hybrid" if hog_length else "cnn_6conv")


def conv_layer_names(model):
    """The ReLU outputs of the six convolutions, in order (what Section 4's visualisation shows)."""
    return [layer.name for layer in model.layers if layer.name.startswith("relu")]
