"""Shared test set-up: quiet TensorFlow, the real-data location, a tiny experiment."""
import os
from pathlib import Path

import keras
import pytest

from datasets.paths import DEFAULT_DATA_DIR

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = DEFAULT_DATA_DIR


def real_data(subpath):
    """The path of a real dataset beside the checkout. Where it is absent a developer's run skips the test,
    but CI (CI=true, which always has ../shared beside the clone) fails it: a real check never vanishes."""
    path = SHARED_DATA / subpath
    if not path.exists():
        message = f"real data not found at {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: CI runs with ../shared beside the clone)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def once(tmp_path_factory):
    """once(key, compute) -> compute()'s JSON-able result, computed once per test session
    however many pytest-xdist workers ask: the first to ask computes under a file lock in
    a folder all workers see; the others wait for it and read what it stored."""
    import fcntl
    import json

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, above this worker's
    shared = shared / "computed_once"
    shared.mkdir(exist_ok=True)

    def run(key, compute):
        done = shared / f"{key}.json"
        with open(shared / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                done.write_text(json.dumps(compute()))
        return json.loads(done.read_text())
    return run


@pytest.fixture(scope="session")
def smoke_run(once, tmp_path_factory):
    """smoke_run(paper, experiment) -> run folder of that experiment's synthetic-data run.

    Each experiment's smoke run happens once per test session (`once`), however many tests
    read it (the registry loop and the paper's own tests). Two experiments whose smoke runs
    are the same computation (same dataset, training function and resolved smoke config:
    sdl_stn's fer2013_lr1e-3 differs from fer2013 only in the learning rate, which its smoke
    config sets) share one run.
    """
    import papers
    from common.harness.run.runner import run_experiment
    from common.toolkit.experiment import config_hash

    out_root = tmp_path_factory.mktemp("smoke_results")

    def run(paper, experiment):
        exp = papers.experiments(paper)[experiment]
        key = config_hash({"paper": paper, "dataset": exp.dataset, "config": exp.resolved_config(smoke=True),
                           "training": exp.train_and_evaluate.__qualname__})
        return Path(once(f"smoke-{paper}-{key}", lambda: str(run_experiment(exp, smoke=True, out_root=out_root))))
    return run


class Interrupt(keras.callbacks.Callback):
    """Stops training with an error after `at` epochs, as a killed process would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.at:
            raise KeyboardInterrupt


def write_fer_image_folders(root, seed):
    """FER2013's image-folder copy: train/<class>/*.png and test/<class>/*.png, 7 synthetic faces each.
    Returns the labels, training images first."""
    import cv2

    from datasets import fer2013, synthetic
    images, labels, _ = synthetic.face_images(14, fer2013.CLASS_NAMES, seed=seed)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = Path(root) / ("train" if i < 7 else "test") / fer2013.CLASS_NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"im{i}.png"), image)
    return labels
