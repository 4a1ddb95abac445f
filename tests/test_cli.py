"""The command line: help and listing without Keras, the index of experiments it lists, and
options that are checked before anything trains."""
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import datasets
import papers
from common.harness.cli import announcing_folds, build_parser, main
from common.harness.options import override_pairs, overrides_for
from datasets.__main__ import main as datasets_main
from datasets.paths import SUBPATHS

REPO = Path(__file__).resolve().parents[1]


def test_the_top_level_help_imports_no_keras():
    """`--help` and a wrong command need no paper's experiments (Keras costs 5-20 s to import); `<paper> --help`
    and `list` read them from the papers' EXPERIMENTS, the one index there is."""
    script = ("import contextlib, io, sys, papers\n"
              "from common.harness.cli import main\n"
              "for argv in (['--help'], ['no_such_command']):\n"
              "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \\\n"
              "            contextlib.suppress(SystemExit):\n"
              "        main(argv, papers)\n"
              "print(sorted({'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_dataset_has_a_default_place():
    assert set(datasets.LOADERS) <= set(SUBPATHS)


@pytest.mark.parametrize("paper", list(papers.PAPERS))
def test_the_defaults_are_experiments_of_the_paper(paper):
    module = papers.paper_module(paper)
    assert set(module.DEFAULT_EXPERIMENTS) <= set(module.EXPERIMENTS)
    assert getattr(module, "DEMO_EXPERIMENT", module.DEFAULT_EXPERIMENTS[0]) in module.DEFAULT_EXPERIMENTS


@pytest.mark.parametrize("paper", list(papers.PAPERS))
def test_paper_help_lists_its_experiments_and_datasets(paper, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([paper, "--help"], papers)
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "reproduce:" in text and "smoke:" in text and "--seed" in text  # the positional has help
    for name, (dataset, _) in papers.experiment_index(paper).items():
        assert name in text and SUBPATHS[dataset] in text


@pytest.mark.parametrize("options", [["--epochs", "0"], ["--repeats", "0"], ["--epochs", "-3"], ["--folds", "1"],
                                     ["--folds-to-run", "0"], ["--seed", "-1"], ["--epochs", "two"], ["--set", "epochs"],
                                     ["--experiment", "ckplus_subject"]])
def test_bad_options_are_refused(options, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser(papers).parse_args(["sdl_stn", "reproduce", *options])
    assert exit_.value.code == 2
    assert options[0] in capsys.readouterr().err


def test_unknown_config_key_is_an_error_that_lists_the_known_ones():
    with pytest.raises(SystemExit) as exit_:
        main(["sdl_stn", "smoke", "--set", "epochz=3", "--set", "batch_sise=8"], papers)
    message = str(exit_.value.code)
    assert "--set epochz=3" in message and "'epochz'" in message
    assert "batch_size" in message and "model.fc_units" in message  # the known keys
    with pytest.raises(SystemExit, match="--folds: sdl_stn/fer2013 has no config key 'protocol.k'"):
        main(["sdl_stn", "reproduce", "--folds", "3"], papers)  # the official split has no folds
    with pytest.raises(SystemExit, match="ckplus_subject_10fold: folds_to_run must be an integer from 1 to k=3"):
        main(["sdl_stn", "reproduce", "-e", "ckplus_subject_10fold", "--folds", "3", "--folds-to-run", "4"], papers)


@pytest.mark.parametrize("setting", ["epochs=0", "epochs=2.5", "protocol.repeats=-1", "seed=true"])
def test_counts_set_by_key_are_checked_too(setting):
    with pytest.raises(SystemExit, match=f"--set {setting}: .* must be an integer of at least"):
        main(["sdl_stn", "reproduce", "--set", setting], papers)


def test_known_keys_become_nested_overrides():
    args = build_parser(papers).parse_args(["sdl_stn", "reproduce", "--epochs", "2", "--seed", "7", "--folds", "3",
                                            "--folds-to-run", "1", "--set", "model.fc_units=16",
                                            "--set", "protocol.val_fraction=0.2"])
    exp = papers.experiments("sdl_stn")["ckplus_subject_10fold"]
    assert overrides_for(exp, override_pairs(args), smoke=False) == {
        "epochs": 2, "seed": 7, "model": {"fc_units": 16}, "protocol": {"k": 3, "folds_to_run": 1, "val_fraction": 0.2}}
    # repeats is read with a default by every protocol, so it can be set where the config leaves it out
    assert overrides_for(exp, [("--repeats", "protocol.repeats", 2)], smoke=False) == {"protocol": {"repeats": 2}}


def test_each_fold_says_whose_output_follows(capsys):
    exp = SimpleNamespace(paper="sdl_stn", name="fer2013", train_and_evaluate=lambda fold, config, ctx: "trained")
    fold = SimpleNamespace(name="repeat1", train=[0] * 3, val=[0], test=[0] * 2)
    assert announcing_folds(exp)(fold, {}, None) == "trained"
    assert "--- sdl_stn / fer2013 / repeat1: 3 train, 1 val, 2 test" in capsys.readouterr().out


def test_datasets_command_reads_the_default_place_without_a_path(tmp_path, monkeypatch, capsys):
    datasets.write_synthetic("ckplus", tmp_path / SUBPATHS["ckplus"], n_subjects=2, sequences_per_class=1)
    monkeypatch.setattr(datasets.paths, "DEFAULT_DATA_DIR", tmp_path)
    assert datasets_main(["ckplus"]) == 0
    assert f"ckplus: {tmp_path / SUBPATHS['ckplus']}" in capsys.readouterr().out


def test_bench_writes_to_a_scratch_folder_unless_told_to_update_the_committed_figures(tmp_path, monkeypatch,
                                                                                        capsys):
    from common.toolkit import places
    monkeypatch.setitem(places.SCRATCH, "bench", tmp_path / "runs" / "bench")
    committed = sorted((REPO / "results" / "bench").iterdir())
    before = [path.read_bytes() for path in committed]
    assert main(["bench", "--quick", "--only", "common/metrics"], papers) == 0
    record = json.loads((tmp_path / "runs" / "bench" / "common__metrics.json").read_text())
    assert record["status"] == "ok" and record["device"] and f"written to {tmp_path / 'runs' / 'bench'}" in \
        capsys.readouterr().out
    assert [path.read_bytes() for path in committed] == before  # results/bench/ untouched
    assert main(["bench", "--quick", "--only", "common/metrics", "--out", str(tmp_path / "commit")], papers) == 0
    assert (tmp_path / "commit" / "common__metrics.json").exists()
