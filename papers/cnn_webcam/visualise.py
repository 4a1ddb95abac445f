"""Visualising the convolution layers (abstract: "what features of a face can be learned").

For one face, the output of each of the six convolutions (after batch norm and
ReLU) is drawn as a row of feature maps: the first layers respond to edges and
shading, the later, coarser ones to whole regions such as the eyes and mouth.
"""
from __future__ import annotations

from pathlib import Path

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from papers.cnn_webcam.model import conv_layer_names  # noqa: E402


def feature_maps(model, face):
    """{layer name: (H, W, channels) activations} of each conv layer for one uint8 face (H, W)."""
    names = conv_layer_names(model)
    image_input = model.inputs[0] if len(model.inputs) == 1 else model.get_layer("image").output
    probe = keras.Model(image_input, [model.get_layer(n).output for n in names])
    outputs = probe(np.asarray(face, np.float32)[None, ..., None] / 255.0, training=False)
    return {n: keras.ops.convert_to_numpy(o)[0] for n, o in zip(names, outputs)}


def save_feature_maps(model, face, path, maps_per_layer=8, title=""):
    """A figure: the face, then for each conv layer its `maps_per_layer` most active maps."""
    maps = feature_maps(model, face)
    fig, axes = plt.subplots(len(maps), maps_per_layer + 1, figsize=(1.3 * (maps_per_layer + 1), 1.4 * len(maps)))
    for row, (name, activation) in zip(axes, maps.items()):
        row[0].imshow(face, cmap="gray")
        row[0].set_title(name, fontsize=8)
        strongest = np.argsort(activation.mean(axis=(0, 1)))[::-1][:maps_per_layer]
        for ax, channel in zip(row[1:], strongest):
            ax.imshow(activation[..., channel], cmap="viridis")
            ax.set_title(f"#{channel}", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"Feature maps of the six conv layers{': ' + title if title else ''}", fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
