"""Figures of section 5.3: saliency maps per class (Figure 15) and what SDL-1's transformer learned."""
from __future__ import annotations

import keras
import matplotlib
import numpy as np

from common.layers import affine_grid, bilinear_sample
from common.saliency import input_gradients, plot_saliency

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def examples_per_class(labels, per_class=3, seed=0):
    """Indices of up to `per_class` test items of each class, in class order."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        picked.extend(rng.choice(members, min(per_class, len(members)), replace=False))
    return np.asarray(picked)


def saliency_figure(model, x, labels, class_names, path, per_class=3):
    """Input-gradient saliency of the true class for a few test faces of every class."""
    index = examples_per_class(labels, per_class)
    maps = input_gradients(model, x[index], labels[index])
    predicted = np.argmax(model.predict(x[index], verbose=0), axis=-1)
    titles = [f"{class_names[labels[i]]}\n(pred {class_names[p]})" for i, p in zip(index, predicted)]
    plot_saliency(x[index], maps, titles, path, columns=per_class * 2 if len(class_names) > 4 else 7)


def transform_figure(model, x, path, n=8):
    """Each face with SDL-1's sampling region drawn on it (the image of the output grid's
    corners under the learned affine transform), above the face resampled through it."""
    transformer = model.get_layer("sdl1_transformer")
    faces = x[:n]
    standardised = model.get_layer("standardise")(faces)  # what the transformer sees inside the model
    theta = keras.ops.convert_to_numpy(transformer.affine_parameters(standardised))
    height, width = faces.shape[1:3]
    gx, gy = affine_grid(theta, height, width)
    resampled = keras.ops.convert_to_numpy(
        bilinear_sample(faces, (gx + 1) * (width - 1) / 2, (gy + 1) * (height - 1) / 2)).reshape(faces.shape)
    corners = np.array([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1], [-1, -1, 1]], np.float32).T
    fig, axes = plt.subplots(2, len(faces), figsize=(1.6 * len(faces), 3.6), squeeze=False)
    for i in range(len(faces)):
        region = theta[i] @ corners  # (2, 5) normalised source coordinates
        axes[0, i].imshow(faces[i, ..., 0], cmap="gray", vmin=0, vmax=1, extent=(-1, 1, 1, -1))
        axes[0, i].plot(region[0], region[1], "r-", lw=1)
        axes[0, i].set(xlim=(-1.5, 1.5), ylim=(1.5, -1.5))
        axes[0, i].set_title("\n".join(" ".join(f"{v:.2g}" for v in row) for row in theta[i]), fontsize=6)
        axes[1, i].imshow(resampled[i, ..., 0], cmap="gray", vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle("SDL-1: theta, sampled region (red) on the face, and the face resampled through it", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
