"""What a paper module hands the runner: experiments, folds and fold results.

An Experiment is one recipe of a paper: a dataset, a protocol, a plain-data
config (hashed into the run id) and a `train_and_evaluate` function that trains
on one fold and predicts its test part. Everything around it (loading, splitting,
repeating, aggregating, comparing with the claims, writing the report) is the
runner's job (`common.harness.run.runner`), the same for every paper.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from common.toolkit import places
from datasets.base import Dataset


@dataclasses.dataclass
class Fold:
    """One train/val/test partition; `name` is e.g. 'official', 'fold3', 'repeat2'."""
    name: str
    index: int
    seed: int
    train: Dataset
    val: Dataset
    test: Dataset
    test_index: np.ndarray | None = None  # the test items' indices in the prepared dataset (each counted once)


@dataclasses.dataclass
class RunContext:
    """Where a fold writes: `work_dir` is stable across reruns of the same config (so an
    interrupted training resumes from its backup); `figure_dir` is this run's output folder.
    `first_fold`: the run's first fold (fold.index 0), which draws the run's figures."""
    work_dir: Path
    figure_dir: Path
    smoke: bool = False
    first_fold: bool = False


@dataclasses.dataclass
class FoldResult:
    y_true: np.ndarray  # (N,) int labels of fold.test
    y_prob: np.ndarray  # (N, C) class scores (probabilities, or SVM margins)
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # per-epoch curves
    extra: dict[str, float] = dataclasses.field(default_factory=dict)  # more scalar metrics, aggregated with CI
    train_seconds: float = 0.0  # all of training, the sessions before an interruption included
    epochs: int = 0
    train_images: int = 0  # images seen in training (throughput = train_images / train_seconds)
    train_y_true: np.ndarray | None = None  # for the train confusion matrix, where a paper prints one
    train_y_prob: np.ndarray | None = None
    resumed_from_epoch: int | None = None  # the epoch (from 1) training restarted at after a kill; None if never
    # Per test item (in y_true's order), the values an extra metric measured on the test items is the mean of (a
    # baseline's correctness, a gain per item): its interval then counts the sampling of the test items.
    extra_per_item: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


FOLD_RESULT = "fold_result.pkl"  # a finished fold's (or stage's) FoldResult in its work folder


def stored_fold_result(work_dir):
    """The FoldResult stored in work_dir, or None when there is none or it is damaged (said on stderr, the file
    set aside: the fold is then evaluated again from its training checkpoint)."""
    stored = Path(work_dir) / FOLD_RESULT
    if not stored.exists():
        return None
    try:
        result = pickle.loads(stored.read_bytes())
        if isinstance(result, FoldResult):
            return result
        error = f"holds a {type(result).__name__}, not a FoldResult"
    except Exception as failure:  # unpickling damaged bytes can raise nearly any exception
        error = f"{type(failure).__name__}: {failure}"
    aside = places.set_aside(stored)
    print(f"WARNING: damaged fold result {stored} ({error}), set aside as {aside.name}; evaluating the fold again "
          "from its training checkpoint.", file=sys.stderr)
    return None


def store_fold_result(work_dir, result):
    """Write the FoldResult aside, then rename it: a kill never leaves half of it."""
    temporary = Path(work_dir) / (FOLD_RESULT + ".tmp")
    temporary.write_bytes(pickle.dumps(result))
    os.replace(temporary, Path(work_dir) / FOLD_RESULT)


@dataclasses.dataclass
class Experiment:
    paper: str
    name: str
    title: str
    dataset: str  # a name in datasets.LOADERS
    config: dict  # plain data: protocol, model, training; hashed into the run id
    train_and_evaluate: Callable[[Fold, dict, RunContext], FoldResult]
    prepare: Callable[[Dataset, dict], Dataset] | None = None  # paper-specific preprocessing
    smoke_config: dict = dataclasses.field(default_factory=dict)  # overrides for CI's synthetic run
    deviations: list[str] = dataclasses.field(default_factory=list)  # known departures from the paper
    loader_options: dict = dataclasses.field(default_factory=dict)  # datasets.load(dataset, path, **loader_options)
    # What the paper states of its recipe, by the labels of common.harness.run.record.RECIPE_PATHS (epochs,
    # repeats, folds, protocol, optimizer, learning_rate, batch_size, train_images, patience, plateau_patience);
    # a field the paper leaves open is judged against this experiment's own config.
    paper_recipe: dict = dataclasses.field(default_factory=dict)
    # common.toolkit.train.recipe.ReplicaRecipe: on JAX all folds train as replicas together
    replica_recipe: object | None = None
    # train_stages(folds, config, work_root, run_dir, smoke): the stages before train_and_evaluate's (e.g. backbones
    # whose features it reads), trained for all folds at once (common.toolkit.train.replicas.train_stage:
    # replicas on JAX) into work_root/<fold>/<stage>/, where train_and_evaluate finds them in ctx.work_dir / <stage>.
    train_stages: Callable | None = None
    # {what changes: config overrides}: the printed recipe with one part changed at a time, short runs that find
    # which part makes it fail (`python -m papers <paper> ablate`, common/harness/cli.py)
    ablations: dict = dataclasses.field(default_factory=dict)

    def resolved_config(self, smoke=False, overrides=None):
        return deep_merge(deep_merge(self.config, self.smoke_config if smoke else {}), overrides or {})


def first_fold_only(smoke_config: dict) -> dict:
    """A k-fold experiment's smoke config that trains only the first fold (protocol.folds_to_run): a paper's
    variants smoke one fold, its headline k-fold experiment (where CI can afford it) every fold."""
    return deep_merge(smoke_config, {"protocol": {"folds_to_run": 1}})


def deep_merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        merged[key] = deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def config_hash(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]
