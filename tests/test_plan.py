"""The plan before long work: a probe of the training speed, the estimate, and a budget that chooses how many of
the protocol's repeats or folds fit (at least two) or starts nothing."""
import json

import pytest

import papers
from common.harness.cli import main
from common.harness.run import plan
from common.harness.run.plan import Plan, Probe, parse_budget
from common.harness.run.runner import run_experiment
from tests.test_runner import SMALL_CNN


def test_a_budget_reads_as_a_duration():
    assert parse_budget("90m") == 5400 and parse_budget("2h") == 7200 and parse_budget("1h30m") == 5400
    assert parse_budget("600") == 600 and parse_budget("45s") == 45
    for wrong in ("", "ninety", "90x"):
        with pytest.raises(ValueError, match="give a duration such as 90m"):
            parse_budget(wrong)


def test_the_budget_counts_repeats_folds_or_held_out_splits():
    measured = Probe(epoch_seconds=4.0, fold_overhead=20.0, images_per_epoch=1400, wall=30.0)
    repeats = Plan.of({"epochs": 300, "protocol": {"kind": "random_split", "repeats": 15}}, 15, measured)
    assert (repeats.unit, repeats.most, repeats.seconds_per_run()) == ("repeat", 15, 1220.0)
    assert repeats.fit_budget(3600) == 2 and repeats.fit_budget(10 * 3600) == 15  # never more than the protocol's
    assert repeats.with_units(2)["protocol"] == {"kind": "random_split", "repeats": 2}
    with pytest.raises(ValueError, match="2 repeats of the per-run recipe need about 41 min.*--budget 42m"):
        repeats.fit_budget(1800)
    folds = Plan.of({"epochs": 300, "protocol": {"kind": "subject_kfold", "k": 10}}, 10, measured)
    assert folds.unit == "fold" and folds.with_units(3)["protocol"]["folds_to_run"] == 3
    held_out = Plan.of({"epochs": 100, "protocol": {"kind": "holdout_then_kfold", "k": 3}}, 3, measured)
    assert (held_out.unit, held_out.per_unit) == ("repeat", 3)  # a repeat is a new held-out split and its k folds
    assert held_out.fit_budget(5 * 3 * 420 + 30) == 5  # more splits than the paper's one: a larger sample


def test_a_budget_too_small_for_two_runs_says_what_fits_and_starts_nothing(tmp_path, capsys):
    """The real probe, on sdl_stn's synthetic CK+: one line, and no run or work folder."""
    with pytest.raises(SystemExit) as stopped:
        main(["sdl_stn", "smoke", "-e", "ckplus_image_split", "--budget", "1s", "--repeats", "6", "--epochs", "3",
              "--out", str(tmp_path)], papers)
    message = str(stopped.value)
    assert "\n" not in message and "2 repeats of the per-run recipe need about" in message
    assert "Nothing started: give --budget" in message
    assert "Probing the training speed of sdl_stn/ckplus_image_split" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_budget_chooses_the_repeats_that_fit_and_the_plan_comes_first(tmp_path, monkeypatch, capsys):
    measured = Probe(epoch_seconds=10.0, fold_overhead=5.0, images_per_epoch=100, wall=1.0)
    monkeypatch.setattr(plan, "probe", lambda *args: measured)
    run_dir = run_experiment(SMALL_CNN, smoke=True, out_root=tmp_path, budget=81,  # 25 s a repeat: 3 fit
                             overrides={"epochs": 2, "protocol": {"repeats": 6}})
    assert json.loads((run_dir / "metrics.json").read_text())["protocol"]["repeats"] == 3
    err = capsys.readouterr().err
    assert "Budget 81 s: 3 of the protocol's repeats fit" in err
    assert "Plan for toy/small_cnn: 3 repeats x 2 epochs x 100 images per epoch" in err
    assert "25 s per repeat, 75 s in all; the protocol's 6 repeats would take 2 min" in err
    assert err.index("Plan for") < err.index("/6 [")  # before the progress bar, so before training


def test_ablations_run_the_printed_recipe_and_each_change_and_tabulate_what_learned(tmp_path, monkeypatch):
    import dataclasses
    from types import SimpleNamespace

    import datasets
    from common.harness.cli import run_ablations
    monkeypatch.setattr(plan, "probe", lambda *args: Probe(1.0, 1.0, 100, 0.0))  # the plan is tested above
    data = datasets.write_synthetic("fer2013", tmp_path / "data", seed=0)
    toy = dataclasses.replace(SMALL_CNN, ablations={"one epoch more": {"epochs": 3}})
    run_ablations([toy], [{"epochs": 2}], tmp_path / "results", SimpleNamespace(data_dir=None, data_path=str(data)))
    table = (tmp_path / "results" / "toy" / "ablations-small_cnn.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| none (the printed recipe)", "| one epoch more"]
    for row in rows:
        link = row.rsplit("](", 1)[1].rstrip(") |")
        assert (tmp_path / "results" / "toy" / link).exists(), link
    assert len(list((tmp_path / "results" / "ablations" / "toy" / "small_cnn").glob("*/metrics.json"))) == 2


def test_a_resumed_run_does_not_probe_again(tmp_path, monkeypatch, capsys):
    """The plan and its probe come before a run's first epoch; the rerun that resumes it trains on at once."""
    import dataclasses

    import datasets
    from common.harness.run import runner
    monkeypatch.setattr(runner, "WORK", tmp_path / "work")
    probes = []
    monkeypatch.setattr(plan, "probe", lambda *args: probes.append(1) or Probe(1.0, 1.0, 100, 0.0))
    data = datasets.write_synthetic("fer2013", tmp_path / "data", seed=0)

    def killed(epochs_done):
        raise KeyboardInterrupt  # right after the first epoch's checkpoint

    def killed_after_one_epoch(fold, config, ctx):
        from common.toolkit.train import fit as training
        with monkeypatch.context() as patch:
            patch.setattr(training, "EPOCH_LISTENERS", [killed])
            return SMALL_CNN.train_and_evaluate(fold, config, ctx)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(dataclasses.replace(SMALL_CNN, train_and_evaluate=killed_after_one_epoch), data_path=data,
                       out_root=tmp_path / "results", overrides={"epochs": 2})
    assert probes == [1] and "Plan for toy/small_cnn" in capsys.readouterr().err
    run_dir = run_experiment(SMALL_CNN, data_path=data, out_root=tmp_path / "results", overrides={"epochs": 2})
    err = capsys.readouterr().err
    assert probes == [1] and "Plan for" not in err  # no second probe
    assert "an interrupted run of this configuration resumes; its plan was printed when it started" in err
    assert f"Resuming the interrupted run {run_dir}" in err and (run_dir / "metrics.json").exists()


def test_the_eta_of_a_resumed_run_counts_only_the_epochs_it_trains(capsys):
    """A run resumed at epoch 40 of 50, then training an epoch per 0.2 s: 5 epochs/s, not the 40 epochs of its
    checkpoint taken as trained in no time (which read as 54 epochs/s here, and an ETA of seconds for hours)."""
    import time
    from types import SimpleNamespace

    from common.harness.run.runner import _protocol_progress
    from common.toolkit.train.fit import EPOCH_LISTENERS
    exp = SimpleNamespace(paper="toy", name="resumed")
    with _protocol_progress(exp, folds=[None, None], config={"epochs": 50}):
        for epochs_done in (40, 41, 42, 43):  # the first epoch after the resume counts the checkpoint's 39 too
            time.sleep(0.2)
            for listener in EPOCH_LISTENERS:
                listener(epochs_done)
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    rate = float(last.split("epoch/s")[0].split(", ")[-1])
    assert 2 < rate < 10, last
