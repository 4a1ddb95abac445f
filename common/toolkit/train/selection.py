"""The one rule that picks a training's result: the epoch with the best value of a validation metric, the
earliest of equal ones. Keras fit's checkpoint (`common.toolkit.train.fit`) and the replica engine
(`common.toolkit.train.engine`) apply it epoch by epoch through `improves`; a finished history is read with
`best_epoch`, which folds the same `improves` over it, so the two can never disagree."""
from __future__ import annotations

import numpy as np

# The validation metrics an epoch may be selected by, and which way is better.
MODES = {"val_accuracy": "max", "val_loss": "min"}


def check_monitor(monitor):
    if monitor not in MODES:
        raise ValueError(f"model selection must use one of the validation metrics {sorted(MODES)}, got {monitor!r}")


def worst(monitor):
    """The value every epoch improves on."""
    return -np.inf if MODES[monitor] == "max" else np.inf


def improves(value, best, monitor):
    """Whether an epoch's `value` of `monitor` beats the best so far: strictly, so a tie keeps the earlier
    epoch. Elementwise on arrays (one value per replica)."""
    return np.greater(value, best) if MODES[monitor] == "max" else np.less(value, best)


def best_epoch(history, monitor="val_accuracy"):
    """The selected epoch of a history {metric: per-epoch values}, counted from 0."""
    best, best_value = 0, worst(monitor)
    for epoch, value in enumerate(history[monitor]):
        if improves(value, best_value, monitor):
            best, best_value = epoch, value
    return best


def at_best_epoch(history, monitor="val_accuracy"):
    """The training and validation loss and accuracy of the selected epoch, and that epoch counted from 1."""
    best = best_epoch(history, monitor)
    named = {"train_accuracy": "accuracy", "val_accuracy": "val_accuracy", "train_loss": "loss",
             "val_loss": "val_loss"}
    return {name: history[key][best] for name, key in named.items() if key in history} | {"selected_epoch": best + 1}
