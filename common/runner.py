"""Run one experiment of a paper end to end and write its report.

load -> prepare -> folds -> (seed, train, evaluate) per fold -> aggregate with 95% CI
-> compare with the claims -> results/<paper>/<experiment>/<run_id>/.

A fold that finished is saved under cache/train/<paper>/<experiment>/<config hash>/,
and training inside a fold is backed up every epoch, so a killed run started again
with the same config resumes where it stopped, into the same run folder. Once the
report is written that work folder is removed, so a later run trains afresh.
"""
from __future__ import annotations

import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
from tqdm.auto import tqdm

import datasets
from common import record as run_record
from common import report
from common.evaluation import aggregate
from common.experiment import RunContext, config_hash
from common.protocols import make_folds
from common.training import distribution_scope, set_seed
from datasets.paths import default_path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "results"
CACHE = REPO / "cache"


def run_experiment(exp, data_dir=None, *, smoke=False, out_root=None, overrides=None, data_path=None):
    """Train and evaluate `exp` over its protocol's folds; return the run folder.

    smoke: write synthetic data in the dataset's own layout and use `exp.smoke_config`.
    data_path: the dataset file/folder itself (otherwise its sub-path under data_dir, datasets.paths).
    """
    config = exp.resolved_config(smoke, overrides)
    key = config_hash({"paper": exp.paper, "experiment": exp.name, "config": config, "smoke": smoke})
    out_root = Path(out_root or DEFAULT_OUT).resolve()
    # The same command run again finds its work folder and resumes; the same config
    # written to another results root (a test's temporary folder) gets its own.
    work_root = CACHE / "train" / exp.paper / exp.name / f"{key}-{config_hash(str(out_root))[:6]}"
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as synthetic_root:
        if smoke:
            data_path = datasets.write_synthetic(exp.dataset, synthetic_root, seed=config["seed"],
                                                 **config.get("synthetic", {}))
        elif data_path is None:
            data_path = default_path(exp.dataset, data_dir)
        ds = datasets.load(exp.dataset, data_path, **exp.loader_options)
    dataset_summary = ds.summary()
    if exp.prepare is not None:
        ds = exp.prepare(ds, config)
    folds = make_folds(ds, config["protocol"], seed=config["seed"])

    run_dir = _new_run_dir(out_root / exp.paper / exp.name, work_root, key)
    results = {}
    for fold in tqdm(folds, desc=f"{exp.paper}/{exp.name}", unit="fold", file=sys.stderr):
        results[fold.name] = _run_fold(exp, fold, config, work_root / fold.name, run_dir, smoke)
    evaluation = aggregate(results, folds, ds.class_names)
    record = run_record.build(exp, config, key, smoke, dataset_summary, folds, results, evaluation,
                              ds.class_names, data_path)
    report.write_run(run_dir, record, results)
    shutil.rmtree(work_root, ignore_errors=True)
    return run_dir


def _new_run_dir(experiment_dir, work_root, key):
    """A new folder (time + config hash), or the folder of the interrupted run this one resumes."""
    stored = work_root / "run_id"
    if not stored.exists():
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{key}"
        taken = 1
        while (experiment_dir / run_id).exists():  # the same config twice within a second
            taken += 1
            run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{key}-{taken}"
        stored.write_text(run_id)
    run_dir = experiment_dir / stored.read_text().strip()
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _run_fold(exp, fold, config, work_dir, run_dir, smoke):
    finished = work_dir / "fold_result.pkl"
    if finished.exists():
        return pickle.loads(finished.read_bytes())
    work_dir.mkdir(parents=True, exist_ok=True)
    keras.backend.clear_session()
    set_seed(fold.seed)
    with distribution_scope():  # mirrored over several GPUs where TensorFlow sees them; nothing otherwise
        result = exp.train_and_evaluate(fold, config, RunContext(work_dir, run_dir, smoke))
    if len(result.y_true) != len(fold.test) or result.y_prob.shape != (len(fold.test), len(fold.test.class_names)):
        raise ValueError(f"{exp.paper}/{exp.name} {fold.name}: predictions {result.y_prob.shape} do not match "
                         f"{len(fold.test)} test items x {len(fold.test.class_names)} classes")
    finished.write_bytes(pickle.dumps(result))
    return result
