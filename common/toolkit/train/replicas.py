"""The replica engine's entry points: every fold or repeat of a run trained as a replica of one compiled step.

Files by job: `recipe` (ReplicaRecipe: what a paper describes, and its TensorFlow path through Keras fit),
`replicas` (here: which path runs, the folds grouped into replicas, several-stage experiments),
`engine` (Replica and Engine: the compiled JAX step and its explicit state, checkpointed as one pytree),
`losses` (the cross-entropies, as Keras computes them).

A paper's experiment describes its training once, as a `ReplicaRecipe` (model
builder, optimizer, learning rate per epoch, augmentation, logits or
probabilities). Two ways run it:

- TensorFlow (the CPU default): `ReplicaRecipe.train_and_evaluate` trains one fold
  through Keras fit (`common.toolkit.train.fit.fit`); the runner calls it fold after fold.
- JAX: `train_replicas` trains all folds of the run together. Each fold is a
  replica with its own initial weights (built under its own seed), data order,
  augmentation stream, train / validation split, learning-rate state and best epoch
  on its own validation data. One step is `jax.vmap` over the Keras model's
  `stateless_call` and the optimizer's `stateless_apply`; on an accelerator an epoch is
  one compiled `lax.scan` over its steps (on a CPU a loop over the compiled step). The
  uint8 images are uploaded once (deduplicated over folds); batches are gathered,
  converted and augmented on the device. The host
  only draws each epoch's order (one small upload per epoch) and reads the
  validation scores.
- Several stages (a backbone trained first, whose features a second network reads):
  `train_stage` trains one stage of every fold, as replicas on JAX and fold after fold
  on TensorFlow, each fold's stage in its own work folder; an Experiment's
  `train_stages` hook calls it before the runner's per-fold loop.

In the Flax / big_vision style the whole training state (weights, BatchNorm
statistics and dropout seeds, optimizer slots, augmentation seeds, the best epoch's
weights, and the per-replica bookkeeping) is one explicit pytree. A checkpoint is
that pytree saved as npz every few epochs; a killed run, started again with the
same settings, loads it and ends exactly where an uninterrupted run ends.

With several devices the replica axis is sharded over them (a run of R replicas is
padded to a multiple of the device count); papers change nothing.

Choices (where the two paths differ):
- An epoch is floor(n / batch) full batches on JAX (every batch has the same shape;
  the order is reshuffled every epoch so no image is always left out); Keras fit
  also trains the last, partial batch.
- Replicas train together only if their models are the same function (their
  configs equal up to seeds). sdl_stn bakes each fold's pixel statistics into its
  model as constants, so folds of a k-fold protocol train in separate groups;
  the repeats of the official FER2013 split train together.
- On a CPU the default is one replica per step: XLA's CPU convolutions do not batch
  over replicas (2-4 replicas together ran at 10-11 images/s against 76 for one).
  `ENGINE_REPLICAS_PER_STEP=N` overrides it (results agree to float tolerance).
"""
from __future__ import annotations

import os
from pathlib import Path

import keras

from common.toolkit.experiment import config_hash, stored_fold_result
from common.toolkit.train.engine import Engine, Replica
from common.toolkit.train.folds import fold_context, train_folds


def use_engine(exp):
    """Whether the runner hands this experiment's folds to `train_replicas`: JAX and a recipe."""
    return getattr(exp, "replica_recipe", None) is not None and keras.backend.backend() == "jax"


def replicas_per_step():
    """Replicas in one compiled step: ENGINE_REPLICAS_PER_STEP, else all on an accelerator and 1 on a CPU."""
    import jax
    if os.environ.get("ENGINE_REPLICAS_PER_STEP"):
        return int(os.environ["ENGINE_REPLICAS_PER_STEP"])
    return 1 if jax.default_backend() == "cpu" else None


def train_stage(recipe, folds, config, work_root, figure_dir, smoke=False, *, stage):
    """{fold.name: FoldResult} of one stage of a several-stage experiment (e.g. a backbone whose features a
    second network reads), trained for every fold: on JAX as replicas (`train_replicas`), on TensorFlow fold
    after fold through Keras fit. Each fold's stage works in work_root/<fold>/<stage>/ (checkpoint, the
    recipe's `finish` outputs such as cached features, fold_result.pkl), so a killed run resumes there and a
    finished stage is read back, not trained again.
    """
    if keras.backend.backend() == "jax":
        return train_replicas(recipe, folds, config, work_root, figure_dir, smoke, stage=stage)
    return train_folds(folds, lambda fold: Path(work_root) / fold.name / stage,
                       lambda fold, ctx: recipe.train_and_evaluate(fold, config, ctx), figure_dir, smoke)


def train_replicas(recipe, folds, config, work_root, figure_dir, smoke=False, *, group_size=None,
                   checkpoint_every=5, stage=None):
    """{fold.name: FoldResult} of every fold, trained as replicas on JAX.

    The per-fold loop (`common.toolkit.train.folds.train_folds`) reads back each fold whose result is stored
    under work_root/<fold>[/<stage>]/; at the first fold it must train, every fold not trained before is
    built, grouped (same model function, at most `group_size` replicas per step, default
    `replicas_per_step()`) and trained. Each group checkpoints under work_root/engine-[<stage>-]<hash of its
    folds>/.
    """
    work_root = Path(work_root)
    work_dir_of = lambda fold: work_root / fold.name / stage if stage else work_root / fold.name
    trained = {}

    def train(fold, ctx):
        if not trained:  # the loop's first untrained fold: those before it were read back
            rest = folds[[f.name for f in folds].index(fold.name) + 1:]
            untrained = [fold] + [f for f in rest if stored_fold_result(work_dir_of(f)) is None]
            trained.update(_train_groups(recipe, untrained, config, work_root, work_dir_of, ctx.figure_dir, smoke,
                                         group_size, checkpoint_every, stage))
        return trained[fold.name]
    return train_folds(folds, work_dir_of, train, figure_dir, smoke)


def _train_groups(recipe, folds, config, work_root, work_dir_of, figure_dir, smoke, group_size, checkpoint_every,
                  stage):
    """{fold.name: FoldResult} of `folds`, each a replica, trained group by group."""
    replicas = [Replica.build(recipe, fold, config) for fold in folds]
    size = group_size or replicas_per_step() or len(replicas)
    groups, results = {}, {}
    for replica in replicas:
        groups.setdefault(replica.signature, []).append(replica)
    for same_model in groups.values():
        for start in range(0, len(same_model), size):
            group = same_model[start:start + size]
            names = [r.fold.name for r in group]
            engine = Engine(recipe, group, config)
            state = engine.train(work_root / f"engine-{stage + '-' if stage else ''}{config_hash(names)}",
                                 checkpoint_every)
            test_scores, _, _ = engine.evaluate(state["best"], "test")  # each replica's best epoch
            for i, replica in enumerate(group):
                ctx = fold_context(replica.fold, work_dir_of(replica.fold), figure_dir, smoke)
                ctx.work_dir.mkdir(parents=True, exist_ok=True)
                results[replica.fold.name] = engine.fold_result(state, i, test_scores, ctx)
    return results
