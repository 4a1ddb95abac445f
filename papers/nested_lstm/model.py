"""The paper's models, in its order: Section 2's baselines, then Section 3's proposed network.

Section 2.1, CNN: VGG-Face is VGG16's architecture (Table 1: 13 3x3 conv layers in 5 blocks
of 64-128-256-512-512 filters, 2x2 max-pooling after each block, FC 4096-4096 and a
softmax). Table 6 varies three things after the conv layers: freezing (none, the first
layers, all), three fully connected layers or none, and a pooling layer (none, global
average, global max). The two-stream CNN (Table 8) fuses a face stream and a frontalised
stream before the fully connected layers; CNN + geometry (Table 9) concatenates the 68
normalised landmarks after the last conv layer.
Section 2.2, C3D (Tran et al.): 8 3x3x3 conv, 5 max-pool (the first spatial only), 2 FC.
Section 2.3, CNN + LSTM / CNN + GRU: a per-frame CNN up to its fc7 and recurrent layers
(Table 4: 3 layers) on the frame sequence ("image vectors", trained end to end), or
recurrent layers on the fc7 features of a trained CNN reduced by PCA to 100 ("features").
Section 3, proposed: a 3D CNN; each conv layer's output -> MSPP-stand (per-frame spatial
pyramid max pooling, n in {2, 4, 8}) -> a Temp-LSTM per layer; the l Temp-LSTM outputs,
taken as a sequence over the layers, -> the Conv-LSTM -> softmax (o = C-LSTM(h_1..h_l)).

BATCH_NORM: VGG16 and C3D have no batch normalisation; trained from scratch on a few hundred
clips their plain 13 / 8 conv stacks stay at the majority class, so without pretrained
weights each conv is followed by batch normalisation (He-normal initialisation) - a recorded
deviation; with a weights file the layers are the original ones.

Every model is compiled as Tables 2-4 state: sparse categorical cross-entropy, Adam.
`width` scales every layer's filters and units (1.0 is the paper's size), so the same
architectures fit CPU runs and CI. VGG-Face / C3D Sports-1M weights cannot be
downloaded here: models start from scratch unless `weights` names a local Keras weights
file for the trunk (the same architecture at width 1.0).
"""
from __future__ import annotations

import keras
from keras import layers, ops

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (filters, conv layers) per block
FIRST_FROZEN_BLOCKS = 2  # "freezing only the first few layers": the first two blocks (4 conv layers)
C3D_FILTERS = (64, 128, 256, 256, 512, 512, 512, 512)
C3D_POOL_AFTER = (0, 1, 3, 5, 7)  # pool1 after conv1a, pool2 after conv2a, pool3-5 after conv3b, 4b, 5b
FREEZE_CHOICES = ("none", "first", "all")
POOLING_CHOICES = (None, "avg", "max")


# ---- MSPP-stand: multi-scale spatial pyramid pooling (SPP-net) --------------------------------------
# Registered under the package name "common" (where it lived first), so saved models load.

def _bin_edges(size, n):
    """SPP-net's bins of one axis: bin i covers [floor(i*size/n), ceil((i+1)*size/n)), never empty."""
    return [(int(i * size // n), max(int(-(-(i + 1) * size // n)), int(i * size // n) + 1)) for i in range(n)]


@keras.saving.register_keras_serializable(package="common")
class SpatialPyramidPooling(keras.layers.Layer):
    """Multi-scale spatial pyramid max pooling (He et al., SPP-net), per frame.

    Each level n divides a feature map of a x a into n x n bins and keeps each bin's
    maximum, so a map of any size becomes n*n*C numbers; the levels are concatenated.
    Input (B, H, W, C) gives (B, sum(n^2) * C); input (B, T, H, W, C) gives one vector per
    frame, (B, T, sum(n^2) * C): nested_lstm's MSPP-stand, which brings every 3D-conv
    layer's output to a fixed size for its Temp-LSTM. A map smaller than n (a < n) reuses
    pixels across neighbouring bins rather than leaving bins empty.
    """

    def __init__(self, levels=(2, 4, 8), **kwargs):
        super().__init__(**kwargs)
        levels = tuple(int(n) for n in levels)
        if not levels or min(levels) < 1:
            raise ValueError(f"pyramid levels must be positive integers, got {levels}")
        self.levels = levels

    def call(self, inputs):
        height, width = inputs.shape[-3], inputs.shape[-2]
        pooled = []
        for n in self.levels:
            rows = ops.stack([ops.max(inputs[..., a:b, :, :], axis=-3) for a, b in _bin_edges(height, n)], axis=-3)
            bins = ops.stack([ops.max(rows[..., a:b, :], axis=-2) for a, b in _bin_edges(width, n)], axis=-2)
            pooled.append(ops.reshape(bins, (*self._leading(inputs), n * n * inputs.shape[-1])))
        return ops.concatenate(pooled, axis=-1)

    def _leading(self, inputs):
        shape = ops.shape(inputs)
        return (shape[0],) if len(inputs.shape) == 4 else (shape[0], inputs.shape[1])

    def compute_output_shape(self, input_shape):
        if len(input_shape) not in (4, 5):
            raise ValueError(f"SpatialPyramidPooling needs (B, H, W, C) or (B, T, H, W, C), got {input_shape}")
        return (*input_shape[:-3], sum(n * n for n in self.levels) * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels)}


def scaled(n, width):
    return max(4, int(round(n * width)))


def conv_relu(x, conv, batch_norm, name):
    """conv -> ReLU, with batch normalisation between them when training from scratch (see BATCH_NORM)."""
    if not batch_norm:
        return layers.ReLU(name=f"{name}_relu")(conv(x))
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(conv(x))  # few steps per epoch
    return layers.ReLU(name=f"{name}_relu")(x)


def vgg16_trunk(input_shape, width=1.0, freeze="none", weights=None, name="vgg16", batch_norm=None):
    """VGG16's 13 conv layers and 5 max-pools as one sub-model (Table 1 up to layer 31)."""
    if freeze not in FREEZE_CHOICES:
        raise ValueError(f"freeze must be one of {FREEZE_CHOICES}, got {freeze!r}")
    batch_norm = not weights if batch_norm is None else batch_norm
    inputs = keras.Input(input_shape, name=f"{name}_input")
    x = inputs
    for b, (filters, convs) in enumerate(VGG16_BLOCKS, start=1):
        for c in range(1, convs + 1):
            conv = layers.Conv2D(scaled(filters, width), 3, padding="same", kernel_initializer="he_normal",
                                 name=f"block{b}_conv{c}")
            x = conv_relu(x, conv, batch_norm, f"block{b}_conv{c}")
        x = layers.MaxPooling2D(2, padding="same", name=f"block{b}_pool")(x)
    trunk = keras.Model(inputs, x, name=name)
    if weights:
        trunk.load_weights(weights)
    for layer in trunk.layers:
        block = int(layer.name[5]) if layer.name.startswith("block") else 0
        layer.trainable = not (freeze == "all" or (freeze == "first" and block <= FIRST_FROZEN_BLOCKS))
    return trunk


def after_conv(x, pooling, prefix=""):
    """Table 6's pooling layer after the conv layers (global average / max), or none (flatten)."""
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=f"{prefix}avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=f"{prefix}max_pool")(x)
    return layers.Flatten(name=f"{prefix}flatten")(x)


def classifier(x, n_classes, fc3, fc_units, dropout):
    """Three fully connected layers (fc6, fc7, softmax) or the softmax alone."""
    if fc3:
        for name in ("fc6", "fc7"):
            x = layers.Dense(fc_units, activation="relu", name=name)(x)
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(n_classes, activation="softmax", name="softmax")(x)


def compiled(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_face_cnn(input_shape, n_classes, *, freeze="all", fc3=True, pooling="max", width=1.0, fc_units=4096,
                   dropout=0.5, weights=None, learning_rate=1e-4):
    """The VGG16-architecture face CNN with one of Table 6's variants (default: its best, all frozen + 3 FC +
    max pooling)."""
    inputs = keras.Input(input_shape, name="image")
    x = vgg16_trunk(input_shape, width, freeze, weights)(inputs)
    outputs = classifier(after_conv(x, pooling), n_classes, fc3, scaled(fc_units, width), dropout)
    return compiled(keras.Model(inputs, outputs, name="face_cnn"), learning_rate)


def build_two_stream(input_shape, n_classes, *, freeze="all", pooling="max", width=1.0, fc_units=4096,
                     dropout=0.5, weights=None, learning_rate=1e-4):
    """Table 8: a face stream and a frontalised stream, fused before the fully connected layers."""
    streams = {name: keras.Input(input_shape, name=name) for name in ("face", "aligned")}
    features = [after_conv(vgg16_trunk(input_shape, width, freeze, weights, name=f"vgg16_{name}")(x), pooling,
                           prefix=f"{name}_")
                for name, x in streams.items()]
    fused = layers.Concatenate(name="fuse")(features)
    outputs = classifier(fused, n_classes, True, scaled(fc_units, width), dropout)
    return compiled(keras.Model(streams, outputs, name="two_stream_cnn"), learning_rate)


def build_cnn_geometry(input_shape, n_classes, *, freeze="all", pooling="max", width=1.0, fc_units=4096,
                       dropout=0.5, weights=None, learning_rate=1e-4, landmarks=68):
    """Table 9: the frontalised face through the CNN, its 68 normalised points concatenated after the last
    conv layer (intermediate fusion), then the fully connected layers."""
    image = keras.Input(input_shape, name="image")
    geometry = keras.Input((2 * landmarks,), name="geometry")
    x = after_conv(vgg16_trunk(input_shape, width, freeze, weights)(image), pooling)
    fused = layers.Concatenate(name="fuse")([x, geometry])
    outputs = classifier(fused, n_classes, True, scaled(fc_units, width), dropout)
    return compiled(keras.Model({"image": image, "geometry": geometry}, outputs, name="cnn_geometry"),
                    learning_rate)


def build_c3d(input_shape, n_classes, *, width=1.0, fc_units=4096, dropout=0.5, weights=None, learning_rate=1e-4):
    """C3D: 8 conv (3x3x3), 5 max-pool (pool1 1x2x2, the others 2x2x2, 'same' so short clips fit), 2 FC."""
    inputs = keras.Input(input_shape, name="clip")
    x = inputs
    for i, filters in enumerate(C3D_FILTERS):
        conv = layers.Conv3D(scaled(filters, width), 3, padding="same", kernel_initializer="he_normal",
                             name=f"conv{i + 1}")
        x = conv_relu(x, conv, not weights, f"conv{i + 1}")
        if i in C3D_POOL_AFTER:
            size = (1, 2, 2) if i == 0 else (2, 2, 2)
            x = layers.MaxPooling3D(size, padding="same", name=f"pool{C3D_POOL_AFTER.index(i) + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    for name in ("fc6", "fc7"):
        x = layers.Dense(scaled(fc_units, width), activation="relu", name=name)(x)
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    model = keras.Model(inputs, outputs, name="c3d")
    if weights:
        model.load_weights(weights, skip_mismatch=True)  # the Sports-1M head has 487 classes
    return compiled(model, learning_rate)


def recurrent_layers(x, cell, units, n_layers, dropout):
    """Table 4's 3 layers of LSTM or GRU; the last returns its final state."""
    if cell not in ("lstm", "gru"):
        raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
    rnn = layers.LSTM if cell == "lstm" else layers.GRU
    for i in range(n_layers):
        x = rnn(units, return_sequences=i < n_layers - 1, dropout=dropout, name=f"{cell}{i + 1}")(x)
    return x


def build_cnn_rnn(input_shape, n_classes, *, cell="lstm", width=1.0, fc_units=4096, rnn_units=256, rnn_layers=3,
                  dropout=0.2, weights=None, learning_rate=1e-4):
    """'Image vectors': every frame through the VGG16 trunk and fc6-fc7, the fc7 sequence through the RNN,
    trained end to end on the clip."""
    frames, height, width_px, channels = input_shape
    inputs = keras.Input(input_shape, name="clip")
    frame_in = keras.Input((height, width_px, channels), name="frame")
    x = layers.Flatten(name="frame_flatten")(vgg16_trunk((height, width_px, channels), width, "none", weights)(frame_in))
    for name in ("fc6", "fc7"):
        x = layers.Dense(scaled(fc_units, width), activation="relu", name=name)(x)
    frame_cnn = keras.Model(frame_in, x, name="frame_cnn")
    x = layers.TimeDistributed(frame_cnn, name="per_frame")(inputs)
    x = recurrent_layers(x, cell, scaled(rnn_units, width), rnn_layers, dropout)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    return compiled(keras.Model(inputs, outputs, name=f"cnn_{cell}"), learning_rate)


def build_feature_rnn(frames, n_features, n_classes, *, cell="lstm", rnn_units=256, rnn_layers=3, dropout=0.2,
                      learning_rate=1e-3):
    """'Features': the RNN on per-frame fc7 features of a trained CNN, reduced by PCA (100 components)."""
    inputs = keras.Input((frames, n_features), name="features")
    x = recurrent_layers(inputs, cell, rnn_units, rnn_layers, dropout)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    return compiled(keras.Model(inputs, outputs, name=f"pca_{cell}"), learning_rate)


def build_nested_lstm(input_shape, n_classes, *, filters=(64, 128, 256, 256), levels=(2, 4, 8), temp_units=128,
                      conv_units=128, dropout=0.3, learning_rate=1e-4):
    """Section 3: 3D CNN -> per layer MSPP-stand and a Temp-LSTM -> Conv-LSTM over the layers -> softmax.

    f_j = 3DCNN_j(x); f_j^mspp = MSPP(f_j); h_j = T-LSTM_j(f_j^mspp); o = C-LSTM(h_1, ..., h_l).
    Conv layers j >= 2 follow a 1x2x2 max-pool (spatial only: the clip's frames stay, for the Temp-LSTMs).
    """
    inputs = keras.Input(input_shape, name="clip")
    x, per_layer = inputs, []
    for j, n in enumerate(filters, start=1):
        if j > 1:
            x = layers.MaxPooling3D((1, 2, 2), padding="same", name=f"pool{j - 1}")(x)
        x = layers.Conv3D(n, 3, padding="same", activation="relu", name=f"conv{j}")(x)
        mspp = SpatialPyramidPooling(levels, name=f"mspp{j}")(x)  # (B, T, sum(n^2) * filters)
        mspp = layers.LayerNormalization(name=f"mspp{j}_norm")(mspp)
        h = layers.LSTM(temp_units, dropout=dropout, name=f"temp_lstm{j}")(mspp)  # h_j: (B, temp_units)
        per_layer.append(layers.Reshape((1, temp_units), name=f"h{j}")(h))
    h = layers.Concatenate(axis=1, name="h")(per_layer)  # (B, l, temp_units): one step per conv layer
    o = layers.LSTM(conv_units, name="conv_lstm")(h)
    o = layers.Dropout(dropout, name="dropout")(o)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(o)
    return compiled(keras.Model(inputs, outputs, name="nested_lstm"), learning_rate)
