"""The networks of the paper: two feature extractors and the ACGRNN classifier.

Feature extraction (Sections "EfficientNet-B3", "Inception-ResNet-V2"): each
backbone is trained on the task as a classifier of its own (Adam 1e-4, batch 16 /
32, a sigmoid output with binary cross-entropy as printed, or softmax with
categorical cross-entropy as the second configuration); its globally pooled last
feature map is the expression feature z_k. The aligned 48x48 grey face is resized
to the backbone's input (300x300 and 299x299 in the paper) and repeated over the
three colour channels.

`architecture="full"` builds keras.applications' EfficientNetB3 and
InceptionResNetV2 (randomly initialised, or from a local weights file).
`architecture="small"` builds a few blocks of each family (MBConv with
squeeze-and-excitation; Inception-ResNet-A with scaled residuals): the stand-ins
of the CPU configuration and of the tests, never the paper's networks.

Fusion (Section "Fusioning of features"): every stream (the two backbones and the
68-landmark geometry) is projected to one size and the projections are summed
element-wise, z' = sum_k z_k*; concatenation is the ablation the paper compares.

ACGRNN (Section "Attention convolutional gated recurrent neural network"): the
fused vector is read as a sequence E (n positions of d values); per branch a
convolution of window h (2 or 3) gives the context features C, the attention-gated
convolution of window k (1 or 3) weights every position (AttentionGatedConv1D below), a GRU
runs over the weighted sequence and max-over-time pooling keeps each unit's
largest value; the branches are concatenated, dropout 0.5, softmax. RMSProp.
"""
from __future__ import annotations

import keras
from keras import layers, ops

BACKBONES = {
    "efficientnet": {"full": keras.applications.EfficientNetB3, "input_range": (0.0, 255.0)},
    "inception": {"full": keras.applications.InceptionResNetV2, "input_range": (-1.0, 1.0)},
}


# ---- the attention-gated convolution (the paper's Theorem 1) ------------------------------------------
# Registered under the package name "common" (where it lived first), so saved models load.

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


def build_backbone(kind, n_classes, *, architecture="full", input_size=300, face_size=48, output="sigmoid",
                   weights=None, width=16):
    """A classifier whose layer "features" is the expression feature z_k; trained on the task first.

    The input is the aligned grey face in [0, 1]; it is resized, repeated to RGB and scaled to the range the
    keras.applications network expects (so a local ImageNet weights file, when given, sees its own inputs).
    """
    face = keras.Input((face_size, face_size, 1), name="face")
    low, high = BACKBONES[kind]["input_range"]
    x = layers.Resizing(input_size, input_size, name="resize")(face)
    x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = layers.Rescaling(high - low, offset=low, name="to_backbone_range")(x)
    if architecture == "full":
        network = BACKBONES[kind]["full"](include_top=False, weights=weights, input_shape=(input_size, input_size, 3),
                                          pooling="avg")
        features = network(x)
    elif architecture == "small":
        features = (small_efficientnet if kind == "efficientnet" else small_inception_resnet)(x, width)
    else:
        raise ValueError(f"backbone architecture must be 'full' or 'small', got {architecture!r}")
    features = layers.Identity(name="features")(features)
    scores = layers.Dense(n_classes, activation=output, name="classifier")(features)
    return keras.Model(face, scores, name=f"{kind}_{architecture}")


def batch_norm():
    """Batch normalisation whose moving statistics settle within a few hundred steps (momentum 0.9, not Keras'
    0.99): the stand-ins train for a few short epochs, and validation reads the moving statistics."""
    return layers.BatchNormalization(momentum=0.9)


def mbconv(x, filters, stride, expand=4, name=""):
    """EfficientNet's mobile inverted bottleneck: 1x1 expand, 3x3 depthwise, squeeze-excite, 1x1 project."""
    channels = x.shape[-1]
    h = layers.Conv2D(channels * expand, 1, use_bias=False, name=f"{name}_expand")(x)
    h = layers.Activation("swish")(batch_norm()(h))
    h = layers.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=f"{name}_depthwise")(h)
    h = layers.Activation("swish")(batch_norm()(h))
    squeeze = layers.GlobalAveragePooling2D(keepdims=True)(h)
    squeeze = layers.Conv2D(max(1, channels // 4), 1, activation="swish")(squeeze)
    h = layers.Multiply(name=f"{name}_excite")([h, layers.Conv2D(h.shape[-1], 1, activation="sigmoid")(squeeze)])
    h = batch_norm()(layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(h))
    return layers.Add()([x, h]) if stride == 1 and channels == filters else h


def small_efficientnet(x, width=16):
    x = layers.Conv2D(width, 3, 2, padding="same", use_bias=False, name="stem")(x)
    x = layers.Activation("swish")(batch_norm()(x))
    for i, (filters, stride) in enumerate([(width, 1), (2 * width, 2), (2 * width, 1), (4 * width, 2)]):
        x = mbconv(x, filters, stride, name=f"mbconv{i + 1}")
    return layers.GlobalAveragePooling2D()(x)


def conv_bn(x, filters, kernel, stride=1, activation="relu"):
    """Inception-ResNet-v2's unit: convolution without bias, batch norm, ReLU."""
    x = batch_norm()(layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False)(x))
    return layers.Activation(activation)(x) if activation else x


def inception_resnet_a(x, width, scale=0.17, name=""):
    """Inception-ResNet-A: three branches (1x1; 1x1-3x3; 1x1-3x3-3x3), a linear 1x1, a scaled residual."""
    b1 = conv_bn(x, width, 1)
    b2 = conv_bn(conv_bn(x, width, 1), width, 3)
    b3 = conv_bn(conv_bn(conv_bn(x, width, 1), width, 3), width, 3)
    mixed = layers.Conv2D(x.shape[-1], 1, name=f"{name}_linear")(layers.Concatenate()([b1, b2, b3]))
    return layers.Activation("relu")(layers.Add()([x, layers.Rescaling(scale)(mixed)]))


def small_inception_resnet(x, width=16):
    x = conv_bn(x, 2 * width, 3, 2)
    x = inception_resnet_a(x, width // 2, name="block_a1")
    x = layers.Concatenate(name="reduction")([layers.MaxPooling2D(3, 2, padding="same")(x), conv_bn(x, 2 * width, 3, 2)])
    x = inception_resnet_a(x, width, name="block_a2")
    return layers.GlobalAveragePooling2D()(x)


def build_acgrnn(stream_sizes, n_classes, *, projection=256, position_size=16, fusion="sum", filters=64,
                 windows=(2, 3), attention_windows=(1, 3), gru_units=64, dropout=0.5):
    """The fused-feature classifier; `stream_sizes` = {input name: feature length}."""
    if projection % position_size:
        raise ValueError(f"projection {projection} must be a multiple of position_size {position_size}")
    inputs = {name: keras.Input((size,), name=name) for name, size in stream_sizes.items()}
    projected = [layers.Dense(projection, name=f"project_{name}")(x) for name, x in inputs.items()]
    if fusion == "sum":
        fused = layers.Add(name="fuse_sum")(projected) if len(projected) > 1 else projected[0]
    elif fusion == "concat":
        fused = layers.Concatenate(name="fuse_concat")(projected) if len(projected) > 1 else projected[0]
    else:
        raise ValueError(f"fusion must be 'sum' or 'concat', got {fusion!r}")
    sequence = layers.Reshape((-1, position_size), name="feature_sequence")(fused)  # E: n x d
    branches = []
    for h, k in zip(windows, attention_windows):
        context = layers.Conv1D(filters, h, activation="relu", name=f"conv_h{h}")(sequence)  # C: (n-h+1) x filters
        weighted = AttentionGatedConv1D(k, name=f"attention_h{h}_k{k}")(context)
        recurrent = layers.GRU(gru_units, return_sequences=True, name=f"gru_h{h}")(weighted)
        branches.append(layers.GlobalMaxPooling1D(name=f"max_over_time_h{h}")(recurrent))
    merged = layers.Concatenate(name="branches")(branches) if len(branches) > 1 else branches[0]
    scores = layers.Dense(n_classes, activation="softmax", name="softmax")(layers.Dropout(dropout)(merged))
    return keras.Model(inputs, scores, name="acgrnn")
