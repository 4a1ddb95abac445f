"""The cross-entropies the replica engine trains and validates with, computed as Keras computes them."""
from __future__ import annotations

import keras
import numpy as np


def cross_entropy(labels, scores, from_logits, loss="sparse_categorical"):
    """Mean cross-entropy (LOSSES), as Keras computes it (probabilities clipped; softmax ones renormalised)."""
    import jax
    import jax.numpy as jnp
    scores = scores.astype(jnp.float32)
    eps = keras.config.epsilon()
    if loss == "binary":
        onehot = jax.nn.one_hot(labels, scores.shape[-1])
        if from_logits:
            return -jnp.mean(onehot * jax.nn.log_sigmoid(scores) + (1 - onehot) * jax.nn.log_sigmoid(-scores))
        p = jnp.clip(scores, eps, 1 - eps)
        return -jnp.mean(onehot * jnp.log(p) + (1 - onehot) * jnp.log(1 - p))
    if from_logits:
        log_p = jax.nn.log_softmax(scores, axis=-1)
    else:
        log_p = jnp.log(jnp.clip(scores / jnp.sum(scores, -1, keepdims=True), eps, 1 - eps))
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=-1))


def cross_entropy_np(labels, scores, from_logits, loss="sparse_categorical"):
    """Per-item cross-entropy on the host (validation loss)."""
    scores = np.asarray(scores, np.float64)
    eps = keras.config.epsilon()
    if loss == "binary":
        onehot = np.eye(scores.shape[-1])[np.asarray(labels)]
        if from_logits:  # log sigmoid(x) = -log(1 + e^-x), computed without overflow
            log_p, log_not_p = -np.logaddexp(0, -scores), -np.logaddexp(0, scores)
        else:
            p = np.clip(scores, eps, 1 - eps)
            log_p, log_not_p = np.log(p), np.log(1 - p)
        return -np.mean(onehot * log_p + (1 - onehot) * log_not_p, axis=-1)
    if from_logits:
        log_p = scores - scores.max(-1, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    else:
        log_p = np.log(np.clip(scores / scores.sum(-1, keepdims=True), eps, 1 - eps))
    return -np.take_along_axis(log_p, np.asarray(labels)[:, None], axis=-1)[:, 0]
