"""Training: seeds, callbacks, resumable fit, best-epoch selection on validation data.

`fit` wires the callbacks every paper uses: a CSV log of every epoch, a backup
(BackupAndRestore) so that a killed run resumes where it stopped, and a checkpoint
of the best epoch by a *validation* metric, restored at the end. The test part of
a fold is never seen here.
"""
from __future__ import annotations

import contextlib
import csv
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np


def set_seed(seed):
    """One seed for Python, numpy and the backend; deterministic ops on TensorFlow CPU."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()


def accelerator():
    """'gpu' when the backend sees one, else 'cpu'."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        return "gpu" if any(d.platform == "gpu" for d in jax.devices()) else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return "cpu"


def use_mixed_precision_on_gpu():
    """float16 compute with float32 weights on a GPU (it is slower, not faster, on a CPU)."""
    if accelerator() == "gpu":
        keras.mixed_precision.set_global_policy("mixed_float16")


def distribution_scope():
    """A MirroredStrategy scope when TensorFlow sees several GPUs; otherwise nothing."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        if len(tf.config.list_physical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


def environment():
    """Versions, backend and device, written into every report."""
    import sklearn
    env = {"python": platform.python_version(), "platform": platform.platform(), "keras": keras.__version__,
           "numpy": np.__version__, "scikit-learn": sklearn.__version__, "backend": keras.backend.backend(),
           "device": device_name(), "cpu_count": os.cpu_count(),
           "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()]}  # timings on a busy machine are slower
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        env["tensorflow"] = tf.__version__
    if keras.backend.backend() == "jax":
        import jax
        env["jax"] = jax.__version__
    return env


def device_name():
    if accelerator() == "gpu":
        if keras.backend.backend() == "jax":
            import jax
            return f"gpu: {jax.devices()[0].device_kind}"
        return "gpu"
    return f"cpu: {platform.processor() or platform.machine()} x{os.cpu_count()}"


def fit(model, train_data, val_data, *, epochs, work_dir, monitor="val_accuracy", mode="max",
        callbacks=(), verbose="auto"):
    """Train with resumable backups; restore the best epoch by `monitor` (a validation metric).

    Returns (history as {metric: [per-epoch values]} read from the CSV log, so a
    resumed run reports all its epochs, and the wall-clock seconds of this call).
    """
    if not monitor.startswith("val_"):
        raise ValueError(f"model selection must use validation data, got monitor={monitor!r}")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    best = work_dir / "best.weights.h5"
    log = work_dir / "training_log.csv"
    standard = [
        keras.callbacks.BackupAndRestore(str(work_dir / "backup")),
        keras.callbacks.CSVLogger(str(log), append=True),
        keras.callbacks.ModelCheckpoint(str(best), monitor=monitor, mode=mode, save_best_only=True,
                                        save_weights_only=True),
    ]
    start = time.perf_counter()
    model.fit(train_data, validation_data=val_data, epochs=epochs, callbacks=[*standard, *callbacks], shuffle=False,
              verbose=verbose)
    seconds = time.perf_counter() - start
    if best.exists():
        model.load_weights(str(best))
    return read_history(log), seconds


def read_history(log_path):
    """{column: [values]} of a CSVLogger file, keeping the last row of each epoch (a resumed run may repeat one)."""
    rows = {}
    with open(log_path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("epoch", "epoch") != "epoch":
                rows[int(row["epoch"])] = row
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            if key != "epoch":
                history.setdefault(key, []).append(float(value))
    return history


def predict(model, data):
    """Class scores for a pipeline or array, as a float numpy array."""
    return np.asarray(model.predict(data, verbose=0), dtype=np.float32)
