"""The runner end to end: a small CNN on synthetic FER2013-layout faces, through the real loader."""
import json

import keras
import numpy as np

import datasets
from common.harness.run import runner
from common.harness.run.runner import run_experiment
from common.toolkit.data.pipeline import make_pipeline, to_float
from common.toolkit.experiment import Experiment, FoldResult
from common.toolkit.train.fit import fit, predict

SPEC_FIELDS = {"paper", "experiment", "dataset", "protocol", "backend", "device", "epochs", "train_seconds",
               "metrics", "per_class", "confusion_matrix", "class_names", "claims", "deviations"}


def small_cnn_train_and_evaluate(fold, config, ctx):
    """A deliberately small CNN: if this does not beat chance, the synthetic faces are not learnable."""
    n_classes = len(fold.train.class_names)
    model = keras.Sequential([
        keras.Input((48, 48, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3),
        keras.layers.Dense(n_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train = make_pipeline(to_float(fold.train.images), fold.train.labels, batch_size=32, training=True, seed=fold.seed)
    val = make_pipeline(to_float(fold.val.images), fold.val.labels)
    history, seconds = fit(model, train, val, epochs=config["epochs"], work_dir=ctx.work_dir, verbose=0)
    scores = predict(model, make_pipeline(to_float(fold.test.images)))
    return FoldResult(fold.test.labels, scores, history, train_seconds=seconds, epochs=len(history["loss"]),
                      train_images=len(fold.train) * len(history["loss"]))


SMALL_CNN = Experiment(
    paper="toy", name="small_cnn", title="A small CNN on synthetic FER2013-layout faces", dataset="fer2013",
    train_and_evaluate=small_cnn_train_and_evaluate,
    config={"seed": 0, "epochs": 12, "protocol": {"kind": "official", "train": "Training", "val": "PublicTest",
                                                   "test": "PrivateTest"}})


def test_small_cnn_beats_chance_and_the_report_is_complete(tmp_path):
    run_dir = run_experiment(SMALL_CNN, smoke=True, out_root=tmp_path)
    record = json.loads((run_dir / "metrics.json").read_text())
    assert SPEC_FIELDS <= set(record)
    accuracy = record["metrics"]["accuracy"]["mean"]
    print(f"small CNN on synthetic 7-class faces: test accuracy {accuracy:.3f} (chance {1 / 7:.3f})")
    assert accuracy > 3 / 7, accuracy  # chance is 1/7
    assert np.sum(record["confusion_matrix"]) == record["dataset_summary"]["splits"]["PrivateTest"]
    for name in ("report.md", "confusion_matrix.png", "roc.png", "pr.png", "training_curves.png", "config.json"):
        assert (run_dir / name).exists(), name
    report = (run_dir / "report.md").read_text()
    assert "Deviations" in report and "synthetic" in report
    # the scoreboard and the runs index count the run that just finished (they were once written before its
    # UNFINISHED marker went, and so lagged one run behind)
    assert "## toy" in (tmp_path / "README.md").read_text() and run_dir.name in (tmp_path / "README.md").read_text()
    assert run_dir.name in (tmp_path / "toy" / "RUNS.md").read_text()


def test_smoke_runs_read_one_synthetic_copy_per_seed_and_options(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "SYNTHETIC", tmp_path / "synthetic")
    options = {"n_train": 14, "n_public": 7, "n_private": 7}
    first = runner.synthetic_copy("fer2013", 0, options)
    written = first.stat().st_mtime_ns
    assert runner.synthetic_copy("fer2013", 0, options) == first and first.stat().st_mtime_ns == written  # read again
    other = runner.synthetic_copy("fer2013", 1, options)
    assert other != first and len(list((tmp_path / "synthetic").iterdir())) == 2  # no half-written copy left
    fresh = datasets.write_synthetic("fer2013", tmp_path / "fresh", seed=0, **options)
    assert first.read_bytes() == fresh.read_bytes()  # the copy is what the dataset's own writer writes
    (first.parent.parent / "data_path.txt").unlink()  # a copy changed by hand is written again
    assert runner.synthetic_copy("fer2013", 0, options).read_bytes() == fresh.read_bytes()


def test_runs_never_overwrite_each_other_and_overrides_are_deviations(tmp_path):
    first = run_experiment(SMALL_CNN, smoke=True, out_root=tmp_path, overrides={"epochs": 1})
    second = run_experiment(SMALL_CNN, smoke=True, out_root=tmp_path, overrides={"epochs": 2})
    assert first != second and (first / "metrics.json").exists() and (second / "metrics.json").exists()
    deviations = json.loads((second / "metrics.json").read_text())["deviations"]
    assert any(d.startswith("Cut-down: 2/12 epochs") for d in deviations), deviations


def test_a_run_records_its_command_as_a_user_types_it():
    """Under `python -m papers` Python names the program __main__.py; the record says `python -m papers`, and a
    record written before that reads so too."""
    from common.harness.run.provenance import as_typed, command_line
    main = "/repo/papers/__main__.py"
    assert command_line([main, "sdl_stn", "reproduce", "-e", "fer2013", "--set", "model.note=a b"]) == \
        "python -m papers sdl_stn reproduce -e fer2013 --set 'model.note=a b'"
    assert command_line(["/venv/bin/papers", "sdl_stn", "smoke"]) == "papers sdl_stn smoke"
    assert as_typed("__main__.py crnn_candide reproduce -e crnn") == "python -m papers crnn_candide reproduce -e crnn"


def test_a_run_of_older_code_is_labelled_by_the_git_history_not_by_when_it_finished():
    """A run started at an older checkout may finish after a result-changing commit: its recorded commit, not its
    date, says that today's code gives other numbers; and only runs the change touches (here: runs that augment)."""
    from types import SimpleNamespace

    from common.harness.run.provenance import changes_since

    def run(commit, augment, written="2026-12-07 00:00:00"):
        return SimpleNamespace(provenance={"git": {"commit": commit}}, written=written,
                               config={"augment": {"flip": True} if augment else None})
    older, newer = "a65a313", "47aee3a"  # before and at the commit that made augmentation one affine resampling
    assert [c[0] for c in changes_since(run(older, augment=True))] == ["47aee3a"]
    assert changes_since(run(older, augment=False)) == [] and changes_since(run(newer, augment=True)) == []
    unrecorded = SimpleNamespace(provenance={}, written="2026-12-06 00:00:00", config={"augment": {"flip": True}})
    assert [c[0] for c in changes_since(unrecorded)] == ["47aee3a"]  # no commit recorded: its date decides
