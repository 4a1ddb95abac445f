"""Training: seeds, callbacks, resumable fit, best-epoch selection on validation data.

`fit` wires the callbacks every paper uses: a CSV log of every epoch, and a
checkpoint of the whole training state after every epoch (`Checkpoint`), so that a
killed run resumes where it stopped and ends with exactly the numbers of an
uninterrupted one; the best epoch by a *validation* metric is restored at the end.
The test part of a fold is never seen here.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np

from common.toolkit.data.pipeline import set_epoch
from common.toolkit.train.selection import check_monitor, improves, worst


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


def fit(model, train_data, val_data, *, epochs, work_dir, monitor="val_accuracy", callbacks=(), verbose="auto"):
    """Train resumably; restore the best epoch by `monitor` (a validation metric, `common.toolkit.train.selection`).

    `work_dir` holds one training: its CSV log and its checkpoint (`Checkpoint`). Called
    again after a kill, training resumes from the last finished epoch and ends exactly as
    the uninterrupted run would; called again after it finished, it restores the result
    without training. Returns (history as {metric: [per-epoch values]} over all epochs,
    seconds spent training over every session, the one now and those before a kill).
    """
    check_monitor(monitor)
    for callback in callbacks:
        if getattr(callback, "restore_best_weights", False):
            raise ValueError(f"{type(callback).__name__}(restore_best_weights=True): fit already restores the "
                             "best epoch, and such a callback's best weights cannot be resumed; drop the option")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / "training_log.csv"
    checkpoint = Checkpoint(work_dir / "checkpoint", train_data, monitor, callbacks)
    if checkpoint.state is None:
        log.unlink(missing_ok=True)  # rows of a session that never reached its first checkpoint
    elif checkpoint.finished(epochs):
        checkpoint.restore_best(model)
        return checkpoint.state["history"], checkpoint.state["seconds"]
    build_training_state(model, train_data)
    model.fit(train_data, validation_data=val_data, epochs=epochs, initial_epoch=checkpoint.epochs_done,
              callbacks=[keras.callbacks.CSVLogger(str(log), append=True), *callbacks, checkpoint],
              shuffle=False, verbose=verbose)
    checkpoint.restore_best(model)
    return checkpoint.state["history"], checkpoint.state["seconds"]


def build_training_state(model, train_data):
    """Create the optimizer's and the metrics' variables before Keras traces the training step.

    Keras 3 on TensorFlow leaves them to the step's first trace; a trace that creates variables makes
    tf.function trace the step a second time, which for a small model costs more than its epochs. Building
    them first, from the data's shapes alone, leaves one trace and the same numbers."""
    if keras.backend.backend() == "tensorflow" and hasattr(train_data, "element_spec"):
        model._symbolic_build(data_batch=train_data.element_spec)  # what Keras does itself under a tf.distribute strategy


# Called after every finished epoch of every training (the runner's progress bar over a whole protocol).
EPOCH_LISTENERS = []


@contextlib.contextmanager
def epoch_listener(listener):
    """Call `listener(epochs_done)` after each epoch that `fit` finishes inside this block (epochs_done counts
    the epochs before a resume too)."""
    EPOCH_LISTENERS.append(listener)
    try:
        yield
    finally:
        EPOCH_LISTENERS.remove(listener)


def resumed_from_epoch(work_dir):
    """The epoch, counted from 1 as Keras prints it, at which the training in `work_dir` last
    restarted after an interruption; None if it never was interrupted."""
    state = Checkpoint.read_state(Path(work_dir) / "checkpoint")
    return state["starts"][-1] + 1 if state and len(state["starts"]) > 1 else None


class Checkpoint(keras.callbacks.Callback):
    """Everything that decides a training's result, saved after every epoch; restored on a rerun.

    Keras' BackupAndRestore saves the weights, the optimizer and the epoch, but not the
    dropout layers' random-generator states, nor the best value ModelCheckpoint compares
    with (so a worse epoch after a resume overwrote the best one), nor the state of other
    callbacks (EarlyStopping, ReduceLROnPlateau), nor where the data stream was; and it
    writes the weights and the epoch non-atomically. Here one checkpoint holds:
    - every model variable (weights, batch-norm statistics, random-generator states) and
      every optimizer variable (step, moments, learning rate), as arrays in an .npz;
    - the best epoch by `monitor`, its value and its model variables;
    - the counters of the other callbacks (`RESUMABLE_ATTRIBUTES`, or a callback's own
      `resume_state` list of attribute names);
    - the history, the seconds trained so far (and each epoch's) and the epoch each session started from.
    The data are a pure function of (seed, epoch) (`common.toolkit.data.pipeline.set_epoch`).
    state.json is written last and atomically (temporary file + rename), naming the
    array files it belongs to with their sha256: a kill at any moment leaves the previous
    checkpoint whole, and a damaged file is detected, named, and the training restarts.
    """

    RESUMABLE_ATTRIBUTES = ("best", "wait", "cooldown_counter", "stopped_epoch", "best_epoch")
    STATE_FIELDS = ("epochs_done", "stopped", "starts", "history", "seconds", "best_epoch", "best_value",
                    "callbacks", "variables", "best")

    def __init__(self, folder, train_data, monitor, callbacks):
        super().__init__()
        self.folder, self.train_data, self.monitor = Path(folder), train_data, monitor
        self.others = list(callbacks)
        self.session_start, self.seconds_before = time.perf_counter(), 0.0
        self.state, self.arrays = self._load()

    @property
    def epochs_done(self):
        return self.state["epochs_done"] if self.state else 0

    def finished(self, epochs):
        return self.state is not None and (self.state["stopped"] or self.state["epochs_done"] >= epochs)

    @classmethod
    def read_state(cls, folder):
        """The checkpoint's state.json, None when there is none; ValueError naming the file when it is damaged."""
        path = Path(folder) / "state.json"
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: {type(error).__name__}: {error}") from None
        if not isinstance(state, dict) or any(field not in state for field in cls.STATE_FIELDS):
            raise ValueError(f"{path}: not a checkpoint state (fields {', '.join(cls.STATE_FIELDS)})")
        return state

    def _load(self):
        """The last checkpoint, verified; (None, None) when there is none or it is damaged."""
        if not (self.folder / "state.json").exists():  # none, or killed before its first epoch ended
            shutil.rmtree(self.folder, ignore_errors=True)
            return None, None
        try:
            state = self.read_state(self.folder)
            arrays = {name: self._read_arrays(state[name]) for name in ("variables", "best") if state[name]}
            return state, arrays
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            aside = self.folder.with_name(f"{self.folder.name}-damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            self.folder.rename(aside)
            named = error if isinstance(error, ValueError) else f"{self.folder / 'state.json'}: {error!r}"
            print(f"WARNING: damaged checkpoint file {named}. Training this model afresh from its first epoch; "
                  f"the checkpoint was moved to {aside}.", file=sys.stderr)
            return None, None

    def _read_arrays(self, entry):
        path = self.folder / entry["file"]
        if not path.exists():
            raise ValueError(f"{path} is missing")
        if _sha256(path) != entry["sha256"]:
            raise ValueError(f"{path} does not match its checksum (truncated or overwritten)")
        try:
            with np.load(path) as stored:
                return {"model": [stored[f"model/{i}"] for i in range(entry["model"])],
                        "optimizer": [stored[f"optimizer/{i}"] for i in range(entry["optimizer"])]}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path}: unreadable arrays ({type(error).__name__}: {error})") from None

    def on_train_begin(self, logs=None):
        """Restore after the other callbacks' own on_train_begin reset their counters (this one runs last)."""
        self.last_end = time.perf_counter()
        if self.state is None:
            self.state = {"epochs_done": 0, "stopped": False, "starts": [0], "history": {}, "seconds": 0.0,
                          "best_epoch": None, "best_value": None, "callbacks": [], "variables": None, "best": None}
            return
        self.state["starts"].append(self.state["epochs_done"])
        self.seconds_before = self.state["seconds"]
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self._assign(self.model.variables, self.arrays["variables"]["model"], "variables")
        self._assign(self.model.optimizer.variables, self.arrays["variables"]["optimizer"], "variables")
        saved, stateful = self.state["callbacks"], self._stateful_callbacks()
        if [entry["class"] for entry in saved] != [type(c).__name__ for c in stateful]:
            raise ValueError(f"checkpoint {self.folder} was written with callbacks {[e['class'] for e in saved]}, "
                             f"this training has {[type(c).__name__ for c in stateful]}")
        for callback, entry in zip(stateful, saved):
            for name, value in entry["state"].items():
                setattr(callback, name, value)

    def _stateful_callbacks(self):
        return [c for c in self.others if _callback_state(c, self.RESUMABLE_ATTRIBUTES)]

    def _assign(self, variables, values, which):
        shapes = [tuple(v.shape) for v in variables]
        if shapes != [tuple(a.shape) for a in values]:
            raise ValueError(f"checkpoint {self.folder / self.state[which]['file']} does not fit this model "
                             f"({len(values)} saved arrays vs {len(shapes)} variables, or other shapes): it belongs "
                             f"to another training; delete {self.folder.parent} to train afresh")
        for variable, value in zip(variables, values):
            variable.assign(value)

    def on_epoch_begin(self, epoch, logs=None):
        set_epoch(self.train_data, epoch)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        state = self.state
        for name, value in logs.items():
            state["history"].setdefault(name, []).append(float(value))
        state["epochs_done"] = epoch + 1
        state["stopped"] = bool(self.model.stop_training)
        state["seconds"] = self.seconds_before + time.perf_counter() - self.session_start
        # wall time since the previous epoch's checkpoint: training, validation, callbacks and that checkpoint
        state.setdefault("epoch_seconds", []).append(time.perf_counter() - self.last_end)
        state["callbacks"] = [{"class": type(c).__name__, "state": _callback_state(c, self.RESUMABLE_ATTRIBUTES)}
                              for c in self._stateful_callbacks()]
        value = logs.get(self.monitor)
        best_so_far = worst(self.monitor) if state["best_value"] is None else state["best_value"]
        if value is not None and improves(value, best_so_far, self.monitor):
            state["best_epoch"], state["best_value"] = epoch, float(value)
            state["best"] = self._write_arrays(f"best-{epoch:04d}.npz", optimizer=False)
        state["variables"] = self._write_arrays(f"epoch-{epoch + 1:04d}.npz", optimizer=True)
        self._commit()
        self.last_end = time.perf_counter()
        for listener in EPOCH_LISTENERS:
            listener(epoch + 1)

    def on_train_end(self, logs=None):
        if self.state["epochs_done"]:
            self.state["stopped"] = self.state["stopped"] or bool(self.model.stop_training)
            self._commit()

    def _write_arrays(self, name, optimizer):
        self.folder.mkdir(parents=True, exist_ok=True)
        model_values = [keras.ops.convert_to_numpy(v.value) for v in self.model.variables]
        optimizer_values = ([keras.ops.convert_to_numpy(v.value) for v in self.model.optimizer.variables]
                            if optimizer else [])
        arrays = {f"model/{i}": a for i, a in enumerate(model_values)}
        arrays |= {f"optimizer/{i}": a for i, a in enumerate(optimizer_values)}
        temporary = self.folder / f"{name}.tmp"
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, self.folder / name)
        return {"file": name, "sha256": _sha256(self.folder / name), "model": len(model_values),
                "optimizer": len(optimizer_values)}

    def _commit(self):
        """Write state.json atomically, then remove the array files it no longer names."""
        temporary = self.folder / "state.json.tmp"
        temporary.write_text(json.dumps(self.state))
        os.replace(temporary, self.folder / "state.json")
        kept = {entry["file"] for entry in (self.state["variables"], self.state["best"]) if entry}
        for path in self.folder.glob("*.npz"):
            if path.name not in kept:
                path.unlink()

    def restore_best(self, model):
        """Load the best epoch's model variables (the last epoch's when `monitor` was never logged)."""
        which = "best" if self.state["best"] else "variables"
        self._assign(model.variables, self._read_arrays(self.state[which])["model"], which)


def _callback_state(callback, default_names):
    names = getattr(callback, "resume_state", default_names)
    state = {}
    for name in names:
        value = getattr(callback, name, None)
        if isinstance(value, (int, float, np.number, bool)):
            state[name] = value.item() if isinstance(value, np.number) else value
    return state


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def predict(model, data):
    """Class scores for a pipeline or array, as a float numpy array."""
    return np.asarray(model.predict(data, verbose=0), dtype=np.float32)
