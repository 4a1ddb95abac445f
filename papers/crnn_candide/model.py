"""The convolutional-recurrent network of Section III.B, pinned by its printed summary.

    time_distributed   (None, 3, 512)  4,691,904   a CNN applied to each of the 3 frames
    bidirectional      (None, 3, 256)    656,384   BiLSTM, 128 units each way
    dropout            (None, 3, 256)
    bidirectional      (None, 128)       164,352   BiLSTM, 64 units each way, last step
    dropout            (None, 128)
    dense              (None, 128)        16,512
    batchnorm          (None, 128)           512
    dropout            (None, 128)
    out_layer          (None, 5)             645   the SVM head: linear, L2 0.01, squared hinge
    total 5,530,309, trainable 5,526,213

The paper prints only the per-frame CNN's total. 4,691,904 is met exactly by four
blocks of two [3x3 conv (ELU, he_normal) + batch norm] with 64, 128, 256, 512
filters on a 48x48x1 frame, max-pooling between blocks, and global pooling to 512
features. Dropout (no parameters) follows each pooling: the paper uses dropout
"at regular intervals".

With the Candide stream (Section II.B-F), each frame's face-model parameters are
concatenated to that frame's 512 CNN features before the first BiLSTM: the paper
feeds "the sequence of retrieved Candide features" to the recurrent network. The
printed summary has no such input, so it is the model without the stream.
"""
from __future__ import annotations

import keras
from keras import layers

FRAMES, SIZE = 3, 48


def frame_cnn(filters=(64, 128, 256, 512), dropout=0.25, name="frame_cnn"):
    """Per-frame features: blocks of two conv + batch norm, 2x2 max-pooled, then globally pooled to 512.

    Pooling comes after the first convolution (48 -> 24) and between blocks (-> 12, 6, 3):
    the paper does not say where it pools, and pooling once more keeps 4x the compute off
    a CPU without changing a parameter or an output shape.
    """
    model = keras.Sequential(name=name)
    model.add(keras.Input((SIZE, SIZE, 1)))
    convs = [width for width in filters for _ in range(2)]
    pooled_before = {1, *range(2, len(convs), 2)}
    for i, width in enumerate(convs):
        if i in pooled_before:
            model.add(layers.MaxPooling2D(2))
            model.add(layers.Dropout(dropout))
        model.add(layers.Conv2D(width, 3, padding="same", activation="elu", kernel_initializer="he_normal"))
        model.add(layers.BatchNormalization())
    model.add(layers.GlobalAveragePooling2D())
    return model


def build_crnn(n_classes=5, *, filters=(64, 128, 256, 512), lstm_units=(128, 64), dense_units=128,
               dropout=0.5, cnn_dropout=0.25, candide_features=0, learning_rate=1e-3):
    """The time-distributed CNN + two BiLSTMs + dense + SVM head, compiled with squared hinge.

    `candide_features` > 0 adds the second input stream ("candide": (3, P) per-frame
    face-model parameters); labels are one-hot (squared hinge maps 0/1 to -1/+1).
    """
    frames = keras.Input((FRAMES, SIZE, SIZE, 1), name="image")
    inputs = {"image": frames}
    x = layers.TimeDistributed(frame_cnn(filters, cnn_dropout), name="time_distributed")(frames)
    if candide_features:
        inputs["candide"] = keras.Input((FRAMES, candide_features), name="candide")
        x = layers.Concatenate(name="cnn_and_candide")([x, inputs["candide"]])
    x = layers.Bidirectional(layers.LSTM(lstm_units[0], return_sequences=True, unroll=True), name="bilstm_1")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    x = layers.Bidirectional(layers.LSTM(lstm_units[1], unroll=True), name="bilstm_2")(x)
    x = layers.Dropout(dropout, name="dropout_2")(x)
    x = layers.Dense(dense_units, activation="elu", kernel_initializer="he_normal", name="dense_1")(x)
    x = layers.BatchNormalization(name="batchnorm_1")(x)
    x = layers.Dropout(dropout, name="dropout_3")(x)
    margins = layers.Dense(n_classes, activation="linear", kernel_regularizer=keras.regularizers.l2(0.01),
                           name="out_layer")(x)
    model = keras.Model(inputs if candide_features else frames, margins, name="crnn_svm")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="squared_hinge",
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return model


def build_frame_baseline(n_classes=5, *, filters=(64, 128, 256, 512), dropout=0.5, cnn_dropout=0.25,
                         learning_rate=1e-3):
    """The "traditional neural net" of the abstract's comparison: the same CNN on single frames, softmax."""
    frame = keras.Input((SIZE, SIZE, 1), name="image")
    x = frame_cnn(filters, cnn_dropout)(frame)
    x = layers.Dropout(dropout)(x)
    probabilities = layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    model = keras.Model(frame, probabilities, name="frame_cnn_baseline")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return model
