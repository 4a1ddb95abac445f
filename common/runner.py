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
import numpy as np
from tqdm.auto import tqdm

import datasets
from common import report
from common.engine import train_replicas, use_engine
from common.experiment import RunContext, config_hash
from common.metrics import classification_metrics
from common.protocols import make_folds, summarize
from common.training import distribution_scope, set_seed

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "datasets"
DEFAULT_OUT = REPO / "results"
CACHE = REPO / "cache"


def run_experiment(exp, data_dir=None, *, smoke=False, out_root=None, overrides=None, data_path=None):
    """Train and evaluate `exp` over its protocol's folds; return the run folder.

    smoke: write synthetic data in the dataset's own layout and use `exp.smoke_config`.
    data_path: the dataset file/folder itself (otherwise data_dir / exp.data_subpath).
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
            data_path = Path(data_dir or DEFAULT_DATA_DIR) / exp.data_subpath
        ds = datasets.load(exp.dataset, data_path, **exp.loader_options)
    dataset_summary = ds.summary()
    if exp.prepare is not None:
        ds = exp.prepare(ds, config)
    folds = make_folds(ds, config["protocol"], seed=config["seed"])

    run_dir = _new_run_dir(out_root / exp.paper / exp.name, work_root, key)
    if use_engine(exp):  # JAX: every fold a replica of one compiled step (common/engine.py)
        results = train_replicas(exp.replica_recipe, folds, config, work_root, run_dir, smoke)
    else:
        results = {}
        for fold in tqdm(folds, desc=f"{exp.paper}/{exp.name}", unit="fold", file=sys.stderr):
            results[fold.name] = _run_fold(exp, fold, config, work_root / fold.name, run_dir, smoke)
    summary = aggregate(results, ds.class_names)
    report.write_run(run_dir, exp, config, key, smoke, dataset_summary, ds, folds, results, summary)
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


def aggregate(results, class_names):
    """Per-fold metrics, and their mean / std / 95% CI over folds or repeats."""
    per_fold = {}
    for name, r in results.items():
        m = classification_metrics(r.y_true, r.y_prob, class_names)
        m["extra"] = dict(r.extra)
        if r.train_seconds > 0 and r.train_images > 0:
            m["extra"]["throughput_images_per_s"] = r.train_images / r.train_seconds
        per_fold[name] = m
    scalars = {}
    for m in per_fold.values():
        for k, v in m.items():
            if isinstance(v, (int, float)) or v is None:
                scalars.setdefault(k, []).append(v)
        for k, v in m["extra"].items():
            scalars.setdefault(k, []).append(v)
        for cls, values in m["per_class"].items():
            for k, v in values.items():
                if k != "support":
                    scalars.setdefault(f"per_class.{cls}.{k}", []).append(v)
    confusion = np.sum([m["confusion_matrix"] for m in per_fold.values()], axis=0)
    return {"per_fold": per_fold, "metrics": {k: summarize(v) for k, v in scalars.items()},
            "confusion_matrix": confusion.tolist()}
