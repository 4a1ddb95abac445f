"""Saliency maps: the gradient of a class score with respect to the input pixels.

|d score_c / d x| shows which pixels change the classifier's output most (Simonyan
et al. 2014; the visualisation papers cite Zeiler and Fergus). Gradients are not
model code, so the backend's own differentiation is used here: GradientTape on
TensorFlow, jax.grad on JAX.
"""
from __future__ import annotations

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402


def input_gradients(model, images, class_index=None):
    """Saliency (N, H, W): max over channels of |d score / d pixel| for float images (N, H, W, C).

    class_index: one class per image; by default the class the model predicts.
    """
    images = np.asarray(images, dtype=np.float32)
    if class_index is None:
        class_index = np.argmax(model.predict(images, verbose=0), axis=-1)
    mask = np.eye(model.output_shape[-1], dtype=np.float32)[np.asarray(class_index)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        x = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(model(x, training=False) * mask)
        gradient = tape.gradient(score, x).numpy()
    elif backend == "jax":
        import jax
        import jax.numpy as jnp
        # compiled once: called op by op, each operation is compiled on its own (12 s against 2 s on a CPU)
        score = jax.jit(jax.grad(lambda x: jnp.sum(model(x, training=False) * mask)))
        gradient = np.asarray(score(jnp.asarray(images)))
    else:
        raise NotImplementedError(f"saliency maps need the tensorflow or jax backend, not {backend}")
    return np.abs(gradient).max(axis=-1)


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
