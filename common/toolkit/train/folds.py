"""The per-fold loop every training path runs: the runner's folds through Keras fit, the stages of several-stage
experiments, and the replica engine's folds (trained together when the loop reaches the first untrained one).

Resume lives here once: a fold whose result is stored in its work folder is read back, not trained; a new
result is checked against the fold and stored there, so a killed run resumes at the fold it was in (and,
inside that fold, from its training checkpoint).

One checkpoint meaning, two formats: a checkpoint is the whole training state at the end of an epoch (every
variable, optimizer slot and random-generator state, the best epoch's weights by `selection`, the callbacks'
counters, the history), written atomically; a resume finds it in the fold's work folder and goes on from the
epoch after it. Keras fit writes it every epoch (`common.toolkit.train.fit.Checkpoint`: state.json beside npz
files); the replica engine, whose state is one pytree for a group of folds, every few epochs and at the end
(`common.toolkit.train.engine.Engine.save`: one state.npz under work_root/engine-<hash of the folds>/).
"""
from __future__ import annotations

import sys
from pathlib import Path

import keras

from common.toolkit.experiment import FOLD_RESULT, RunContext, store_fold_result, stored_fold_result
from common.toolkit.train.fit import distribution_scope, resumed_from_epoch, set_seed


def train_folds(folds, work_dir_of, train, figure_dir, smoke=False, on_fold_done=None):
    """{fold.name: FoldResult} of every fold, in order.

    work_dir_of(fold) -> the fold's work folder. train(fold, ctx) -> FoldResult, called for a fold without a
    stored result, under the fold's seed in a fresh Keras session (mirrored over several GPUs where
    TensorFlow sees them). on_fold_done(fold), if given, after each fold (the runner's progress bar).
    """
    results = {}
    for fold in folds:
        work_dir = Path(work_dir_of(fold))
        results[fold.name] = stored_result(work_dir)
        if results[fold.name] is None:
            work_dir.mkdir(parents=True, exist_ok=True)
            keras.backend.clear_session()
            set_seed(fold.seed)
            with distribution_scope():
                result = train(fold, fold_context(fold, work_dir, figure_dir, smoke))
            check_result(result, fold)
            if result.resumed_from_epoch is None:
                result.resumed_from_epoch = resumed_from_epoch(work_dir)
            store_fold_result(work_dir, result)
            results[fold.name] = result
        if on_fold_done is not None:
            on_fold_done(fold)
    return results


def fold_context(fold, work_dir, figure_dir, smoke=False):
    """Where a fold trains and what it draws: the run's figures come from its first fold."""
    return RunContext(Path(work_dir), Path(figure_dir), smoke, first_fold=fold.index == 0)


def stored_result(work_dir):
    """The FoldResult stored in work_dir (said on stderr: a rerun reads it, not trains again), or None."""
    result = stored_fold_result(work_dir)
    if result is not None:
        print(f"{work_dir} was trained before: its result is read from {FOLD_RESULT}", file=sys.stderr)
    return result


def check_result(result, fold):
    """A FoldResult must score every test item of its fold over the fold's classes."""
    expected = (len(fold.test), len(fold.test.class_names))
    if len(result.y_true) != len(fold.test) or result.y_prob.shape != expected:
        raise ValueError(f"{fold.name}: predictions {result.y_prob.shape} do not match {expected[0]} test items x "
                         f"{expected[1]} classes")
