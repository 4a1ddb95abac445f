"""Resume and determinism of whole runs.

A run killed after a checkpoint and started again ends with exactly the metrics of an
uninterrupted run; the same command twice gives the same metrics in two folders; a
damaged checkpoint is named and its training restarts; a checkpoint resumes only the
run it belongs to; killed runs leave folders that `cleanup` finds and removes.
"""
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import datasets
from common.harness.report.scoreboard import under_way
from common.harness.run import plan, runner
from common.harness.run.record import UNFINISHED
from common.toolkit.data.pipeline import augmentation, make_pipeline, to_float
from common.toolkit.experiment import Experiment, FoldResult
from common.toolkit.train.fit import fit, predict, set_seed
from conftest import Interrupt

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 3

# The cheapest paper experiment, as `python -m papers sdl_stn smoke -e ckplus_image_split --set epochs=3` runs it
# on a smaller synthetic CK+ (what it learns does not matter here, only that the resumed run ends the same),
# with its work folders under argv[1] and its results under argv[2].
SDL_RUN = f"""
import sys
from pathlib import Path
import papers
from common.harness.run import runner
runner.WORK = Path(sys.argv[1])
runner.run_experiment(papers.experiments("sdl_stn")["ckplus_image_split"], smoke=True, out_root=sys.argv[2],
                      overrides={{"epochs": {EPOCHS}, "synthetic": {{"n_subjects": 8, "sequences_per_class": 12}}}})
"""


@pytest.fixture(autouse=True)
def no_probe(monkeypatch):
    """A real run probes its training speed first (common/harness/run/plan.py); here the kills count epochs of the
    run."""
    monkeypatch.setattr(plan, "probe", lambda *args: plan.Probe(1.0, 1.0, 100, 0.0))


def measured(run_dir):
    """metrics.json's metrics, less the throughput (a timing, which no rerun repeats)."""
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())["metrics"]
    return {name: value for name, value in metrics.items() if name != "throughput_images_per_s"}


def sdl_run(work, out):
    return subprocess.Popen([sys.executable, "-c", SDL_RUN, str(work), str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def test_a_killed_run_resumes_to_exactly_the_uninterrupted_metrics(tmp_path):
    process = sdl_run(tmp_path / "straight-work", tmp_path / "straight")
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    [uninterrupted] = (tmp_path / "straight" / "sdl_stn" / "ckplus_image_split").iterdir()

    work, out = tmp_path / "work", tmp_path / "results"
    process = sdl_run(work, out)
    deadline = time.time() + 300
    while not list(work.glob("*/*/*/*/checkpoint/state.json")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = json.loads(next(work.glob("*/*/*/*/checkpoint/state.json")).read_text())
    assert 1 <= state["epochs_done"] < EPOCHS, state["epochs_done"]  # killed between checkpoints, not after the end
    [run_dir] = (out / "sdl_stn" / "ckplus_image_split").iterdir()
    assert (run_dir / UNFINISHED).exists() and not (run_dir / "metrics.json").exists()

    process = sdl_run(work, out)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert f"Resuming the interrupted run {run_dir}" in output
    assert f"Epoch {state['epochs_done'] + 1}/{EPOCHS}" in output and "Epoch 1/" not in output
    assert [run_dir] == list((out / "sdl_stn" / "ckplus_image_split").iterdir())  # the same folder, finished
    assert not (run_dir / UNFINISHED).exists()
    assert measured(run_dir) == measured(uninterrupted)


# ---- fit and the runner on a tiny model -------------------------------------------------------------

def tiny_training(x, y, work_dir, interrupt_at=None, epochs=3):
    set_seed(0)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dropout(0.3),
                              keras.layers.Dense(int(y.max()) + 1, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = make_pipeline(x, y, batch_size=16, training=True, augment=augmentation(seed=0), seed=0)
    callbacks = [Interrupt(interrupt_at)] if interrupt_at else []
    history, seconds = fit(model, data, make_pipeline(x, y), epochs=epochs, work_dir=work_dir, callbacks=callbacks,
                           verbose=0)
    return model, history, seconds


def faces(n=48):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.integers(0, 60, (n, 16, 16), dtype=np.uint8)
    x[np.arange(n), 4 * y + 2, :] = 255
    return to_float(x), y


@pytest.mark.parametrize("damage", ["truncate the weights", "garble state.json"])
def test_a_damaged_checkpoint_is_named_and_its_training_restarts(tmp_path, capsys, damage):
    x, y = faces()
    model, history, _ = tiny_training(x, y, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        tiny_training(x, y, tmp_path / "killed", interrupt_at=2)
    checkpoint = tmp_path / "killed" / "checkpoint"
    if damage == "truncate the weights":
        [damaged] = checkpoint.glob("epoch-*.npz")
        damaged.write_bytes(damaged.read_bytes()[:1000])
    else:
        damaged = checkpoint / "state.json"
        damaged.write_text(damaged.read_text()[:50])
    capsys.readouterr()
    restarted, restarted_history, _ = tiny_training(x, y, tmp_path / "killed")
    warning = capsys.readouterr().err
    assert "damaged checkpoint file" in warning and str(damaged) in warning and "afresh" in warning
    assert restarted_history == history
    np.testing.assert_array_equal(restarted.predict(x, verbose=0), model.predict(x, verbose=0))


INTERRUPT = {"at": None}  # the tiny experiment's training stops with an error after this many epochs


def tiny_train_and_evaluate(fold, config, ctx):
    x, y = to_float(fold.train.images), fold.train.labels
    set_seed(fold.seed)
    model, history, seconds = tiny_training(x[:, ::3, ::3], y, ctx.work_dir, INTERRUPT["at"], config["epochs"])
    scores = predict(model, make_pipeline(to_float(fold.test.images)[:, ::3, ::3]))
    return FoldResult(fold.test.labels, scores, history, train_seconds=seconds, epochs=len(history["loss"]))


TINY = Experiment(paper="toy", name="tiny", title="A tiny CNN on synthetic CK+48", dataset="ckplus",
                  train_and_evaluate=tiny_train_and_evaluate,
                  config={"seed": 0, "epochs": 3, "protocol": {"kind": "random_split", "fractions": [0.6, 0.2, 0.2]}})


def test_a_checkpoint_resumes_only_its_own_run_and_cleanup_removes_the_leftovers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    full = datasets.write_synthetic("ckplus", tmp_path / "full", seed=0)
    half = datasets.write_synthetic("ckplus", tmp_path / "half", seed=0)
    images = sorted(half.rglob("*.png"))
    for image in images[::2]:
        image.unlink()
    out = tmp_path / "results"
    monkeypatch.setitem(INTERRUPT, "at", 2)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(TINY, out_root=out, data_path=full)
    [killed] = (out / "toy" / "tiny").iterdir()
    assert (killed / UNFINISHED).exists()

    monkeypatch.setitem(INTERRUPT, "at", None)
    capsys.readouterr()
    finished = runner.run_experiment(TINY, out_root=out, data_path=half)
    assert f"Not resuming the interrupted run {killed}: it differs from this run in data." in capsys.readouterr().err
    assert finished != killed and (finished / "metrics.json").exists()
    assert json.loads((finished / "metrics.json").read_text())["dataset_summary"]["total"] < len(images)

    listed = runner.cleanup([out])
    assert any(str(killed) in line and "unfinished" in line for line in listed)
    assert any("work folder" in line and "interrupted: rerun the same command" in line
               and line.endswith("holds 0 finished fold(s), in training: repeat0 at epoch 1") for line in listed), listed
    assert not any(str(finished) in line for line in listed)
    runner.cleanup([out], remove=True)
    assert not killed.exists() and finished.exists() and not list((tmp_path / "work").glob("*/*/*"))


def test_an_unfinished_run_folder_alone_resumes_its_run_where_its_work_folder_is_gone(tmp_path, monkeypatch, capsys):
    """A fresh clone or a new machine holds the committed run folder but not the work folder: the run folder carries
    the finished folds (resume/), so the same command trains only the folds left, to the uninterrupted metrics."""
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    data = datasets.write_synthetic("ckplus", tmp_path / "data", seed=0)
    three = dataclasses.replace(TINY, config={**TINY.config, "protocol": {**TINY.config["protocol"], "repeats": 3}})
    uninterrupted = runner.run_experiment(three, out_root=tmp_path / "straight", data_path=data)

    def killed_in_the_second_repeat(fold, config, ctx):
        if fold.name.endswith("repeat1"):
            raise KeyboardInterrupt
        return tiny_train_and_evaluate(fold, config, ctx)
    out = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(dataclasses.replace(three, train_and_evaluate=killed_in_the_second_repeat),
                              out_root=out, data_path=data)
    [killed] = (out / "toy" / "tiny").iterdir()
    assert sorted(p.name for p in (killed / runner.RESUME).iterdir()) == ["identity.json", "repeat0.pkl"]

    assert f"| tiny | {killed.name} | 1 |" in "\n".join(under_way(out / "toy"))  # RUNS.md lists it under way

    shutil.rmtree(tmp_path / "work")
    assert any(f"run folder {killed}: unfinished (killed), carries 1 finished fold(s): the same command resumes "
               "it at " in line for line in runner.cleanup([out]))
    capsys.readouterr()
    finished = runner.run_experiment(three, out_root=out, data_path=data)
    said = capsys.readouterr().err
    assert f"Resuming the interrupted run {killed} from the 1 finished fold(s)" in said
    assert said.count("was trained before") == 1  # repeat0 is read back; repeats 1 and 2 train
    assert finished == killed and not (killed / UNFINISHED).exists() and not (killed / runner.RESUME).exists()
    assert measured(finished) == measured(uninterrupted)
    assert under_way(out / "toy") == [] and "Under way" not in (out / "toy" / "RUNS.md").read_text()


def test_a_carried_run_folder_of_other_code_or_damaged_is_named_not_resumed(tmp_path, capsys):
    identity = {"paper": "toy", "experiment": "tiny", "config": {"seed": 0}, "smoke": False, "data": "d0",
                "code": "c0", "results": str(tmp_path)}
    for name, carried in [("other-code", json.dumps({**identity, "code": "c1", "git": {"commit": "abc123", "dirty": False}})),
                          ("damaged", '{"paper": "toy", "exp')]:
        (tmp_path / name / runner.RESUME).mkdir(parents=True)
        (tmp_path / name / UNFINISHED).write_text("")
        (tmp_path / name / runner.RESUME / "identity.json").write_text(carried)
    assert runner._carried_run(tmp_path, identity) is None
    said = capsys.readouterr().err
    assert f"Not resuming the unfinished run {tmp_path / 'other-code'}: it differs from this run in code" in said
    assert f"damaged {tmp_path / 'damaged' / runner.RESUME / 'identity.json'}" in said
    assert runner._carried_run(tmp_path, {**identity, "code": "c1"}) == tmp_path / "other-code"
    elsewhere = {**identity, "code": "c1", "results": "/another/clone/results"}  # the folder was committed and cloned
    assert runner._carried_run(tmp_path, elsewhere) == tmp_path / "other-code"


def test_same_command_twice_gives_two_folders_with_identical_metrics(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    data = datasets.write_synthetic("ckplus", tmp_path / "data", seed=0)
    first = runner.run_experiment(TINY, out_root=tmp_path / "results", data_path=data)
    second = runner.run_experiment(TINY, out_root=tmp_path / "results", data_path=data)
    assert first != second and first.parent == second.parent
    assert measured(first) == measured(second)


def test_the_fold_result_says_where_training_resumed_and_counts_all_its_time(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    data = datasets.write_synthetic("ckplus", tmp_path / "data", seed=0)
    monkeypatch.setitem(INTERRUPT, "at", 2)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(TINY, out_root=tmp_path / "results", data_path=data)
    [state] = (tmp_path / "work").glob("*/*/*/*/checkpoint/state.json")
    seconds_before_the_kill = json.loads(state.read_text())["seconds"]
    monkeypatch.setitem(INTERRUPT, "at", None)
    run_dir = runner.run_experiment(TINY, out_root=tmp_path / "results", data_path=data)
    record = json.loads((run_dir / "metrics.json").read_text())
    [fold] = record["folds"]
    assert fold["resumed_from_epoch"] == 2  # epoch 1 was checkpointed, the kill came in epoch 2
    assert record["train_seconds"] > seconds_before_the_kill > 0
