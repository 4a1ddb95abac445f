"""Figures of section 5.3: saliency maps per class (Figure 15) and what SDL-1's transformer learned."""
from __future__ import annotations

import keras
import matplotlib
import numpy as np

from papers.sdl_stn.model import affine_grid, bilinear_sample

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# ---- saliency maps: the gradient of a class score with respect to the input pixels --------------------
# |d score_c / d x| shows which pixels change the classifier's output most (Simonyan et al. 2014; the
# visualisation papers cite Zeiler and Fergus). Gradients are not model code, so the backend's own
# differentiation is used here: GradientTape on TensorFlow, jax.grad on JAX.

def input_gradients(model, images, class_index):
    """(saliency, scores): the saliency (N, H, W), max over channels of |d score / d pixel| of each image's class
    `class_index`, for float images (N, H, W, C), and the model's scores (N, classes) on the same forward pass."""
    images = np.asarray(images, dtype=np.float32)
    mask = np.eye(model.output_shape[-1], dtype=np.float32)[np.asarray(class_index)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        x = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = model(x, training=False)
            score = tf.reduce_sum(scores * mask)
        gradient, scores = tape.gradient(score, x).numpy(), scores.numpy()
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        def class_score(x):
            scores = model(x, training=False)
            return jnp.sum(scores * mask), scores
        # compiled once: called op by op, each operation is compiled on its own (12 s against 2 s on a CPU)
        gradient, scores = jax.jit(jax.grad(class_score, has_aux=True))(jnp.asarray(images))
        gradient, scores = np.asarray(gradient), np.asarray(scores)
    else:
        raise NotImplementedError(f"saliency maps need the tensorflow or jax backend, not {backend}")
    return np.abs(gradient).max(axis=-1), scores


def plot_saliency(images, saliency, titles, path, columns=7):
    """Each face above its saliency heat map (normalised per image), saved to `path`."""
    n = len(images)
    columns = min(columns, n)
    rows = -(-n // columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(1.6 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        r, c = 2 * (i // columns), i % columns
        axes[r, c].imshow(np.squeeze(images[i]), cmap="gray")
        axes[r, c].set_title(titles[i], fontsize=7)
        heat = saliency[i] / max(float(saliency[i].max()), 1e-12)
        axes[r + 1, c].imshow(np.squeeze(images[i]), cmap="gray")
        axes[r + 1, c].imshow(heat, cmap="jet", alpha=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- the figures -----------------------------------------------------------------------------------

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
    maps, scores = input_gradients(model, x[index], labels[index])
    predicted = np.argmax(scores, axis=-1)
    titles = [f"{class_names[labels[i]]}\n(pred {class_names[p]})" for i, p in zip(index, predicted)]
    plot_saliency(x[index], maps, titles, path, columns=per_class * 2 if len(class_names) > 4 else 7)


def transform_figure(model, x, path, n=8):
    """Each face with SDL-1's sampling region drawn on it (the image of the output grid's
    corners under the learned affine transform), above the face resampled through it."""
    transformer = model.get_layer("sdl1_transformer")
    faces = x[:n]
    # what the transformer sees inside the model (raw pixels where the model does not standardise them)
    seen = model.get_layer("standardise")(faces) if "standardise" in [l.name for l in model.layers] else faces
    theta = keras.ops.convert_to_numpy(transformer.affine_parameters(seen))
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
