"""The compiled JAX step of a group of replicas and the state it passes along (Flax / big_vision style): every
replica's weights, optimizer slots, augmentation seeds, best epoch and bookkeeping as one explicit pytree, saved
and loaded as one npz. `common.toolkit.train.replicas` builds the groups and calls it."""
from __future__ import annotations

import dataclasses
import json
import sys
import time

import keras
import numpy as np

from common.toolkit import places
from common.toolkit.data.pipeline import oversample_indices
from common.toolkit.train.losses import cross_entropy, cross_entropy_np
from common.toolkit.train.recipe import EVAL_BATCH, precision
from common.toolkit.train.selection import improves, worst


@dataclasses.dataclass
class Replica:
    """One fold's model, augmentation and data, built under the fold's seed."""
    fold: object
    model: keras.Model
    augment: keras.layers.Layer | None
    train_items: np.ndarray  # indices into fold.train of one epoch's items (oversampled where asked)
    signature: str  # the model's (and augmentation's) config without seeds: equal = the same function

    @classmethod
    def build(cls, recipe, fold, config):
        fold = recipe.trained_fold(fold, config)
        keras.backend.clear_session(free_memory=False)  # Keras' layer-name counters restart: every replica's
        keras.utils.set_random_seed(fold.seed)          # model gets the same names, so equal models group
        with precision(config):
            model = recipe.build_model(fold, config)
        augment = recipe.augment(config, fold.seed) if recipe.augment else None
        if augment is not None:
            augment.build((None, *recipe.inputs(fold.train, config).shape[1:], 1))
        items = (oversample_indices(fold.train.labels, fold.seed) if config.get("oversample")
                 else np.arange(len(fold.train)))
        configs = [model.get_config(), augment.get_config() if augment is not None else None]
        return cls(fold, model, augment, items, json.dumps(_without_seeds(configs), sort_keys=True, default=str))


def _without_seeds(node):
    if isinstance(node, dict):
        return {k: _without_seeds(v) for k, v in node.items() if k != "seed"}
    if isinstance(node, (list, tuple)):
        return [_without_seeds(v) for v in node]
    return node


class ImagePool:
    """The distinct images of all replicas' folds, once, and each part's indices into them."""

    def __init__(self):
        self.rows, self.images = {}, []

    def add(self, images):
        if images.dtype != np.uint8:  # converted to [0, 1] on the device, as common.toolkit.data.pipeline.to_float
            raise ValueError(f"the engine pools uint8 images; the recipe's inputs gave {images.dtype}")
        index = np.empty(len(images), np.int32)
        for i, image in enumerate(images):
            index[i] = self.rows.setdefault(image.tobytes(), len(self.rows))
            if index[i] == len(self.images):
                self.images.append(image)
        return index

    def array(self):
        return np.stack(self.images)


def _padded(rows, fill=0):
    """(R, max length) array of ragged rows, and the (R, max length) mask of real entries."""
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), fill, np.int32)
    mask = np.zeros((len(rows), width), bool)
    for i, r in enumerate(rows):
        out[i, :len(r)], mask[i, :len(r)] = r, True
    return out, mask


class Engine:
    """The compiled functions of one group of replicas, and the state they pass along."""

    def __init__(self, recipe, replicas, config):
        import jax
        import jax.numpy as jnp

        self.recipe, self.replicas, self.config = recipe, replicas, config
        self.batch, self.epochs = config["batch_size"], config["epochs"]
        self.patience = config.get("early_stopping_patience")
        # Pad the replica axis to a multiple of the device count (copies of the last replica, discarded).
        devices = jax.devices()
        padded = replicas + [replicas[-1]] * (-len(replicas) % len(devices))
        self.n = len(padded)
        self.model, self.augment = replicas[0].model, replicas[0].augment
        self.optimizer = recipe.build_optimizer(config)
        self.optimizer.build(self.model.trainable_variables)
        rate_slots = [i for i, v in enumerate(self.optimizer.variables) if v.path.endswith("/learning_rate")]
        if len(rate_slots) != 1:
            raise ValueError(f"{type(self.optimizer).__name__}: build_optimizer must give a float learning rate "
                             "(the engine sets it every epoch from recipe.learning_rate), not a schedule")
        self.rate_slot = rate_slots[0]

        pool = ImagePool()
        parts = {name: [pool.add(recipe.inputs(getattr(r.fold, name), config)) for r in padded]
                 for name in ("train", "val", "test")}
        too_small = [r.fold.name for r in replicas if len(r.train_items) < self.batch]
        if too_small:
            raise ValueError(f"folds {too_small}: fewer training items than one batch of {self.batch}")
        train_index, _ = _padded([parts["train"][i][r.train_items] for i, r in enumerate(padded)])
        train_labels, _ = _padded([r.fold.train.labels[r.train_items] for r in padded])
        self.train_lengths = np.array([len(r.train_items) for r in padded])
        self.steps = self.train_lengths // self.batch
        self.seeds = [r.fold.seed for r in padded]
        self.eval_index = {name: self._eval_layout(parts[name]) for name in ("val", "test")}
        self.labels = {name: [getattr(r.fold, name).labels for r in padded] for name in ("val", "test")}

        if len(devices) > 1:
            from jax.sharding import Mesh, NamedSharding, PartitionSpec
            mesh = Mesh(np.array(devices), ("replica",))
            self.split, self.whole = NamedSharding(mesh, PartitionSpec("replica")), NamedSharding(mesh, PartitionSpec())
        else:
            self.split = self.whole = devices[0]
        self.pool = jax.device_put(pool.array(), self.whole)  # uint8, uploaded once
        self.train_index = jax.device_put(train_index, self.split)
        self.train_labels = jax.device_put(train_labels, self.split)

        model, augment, optimizer = self.model, self.augment, self.optimizer
        from_logits, loss_kind = recipe.from_logits, recipe.loss
        rate_slot = self.rate_slot

        def images_at(pool, index):
            return pool[index].astype(jnp.float32)[..., None] / 255.0  # as common.toolkit.data.pipeline.to_float

        def replica_step(variables, positions, active, rate, pool, train_index, train_labels):
            trainable, non_trainable, slots, augment_state = variables
            images, labels = images_at(pool, train_index[positions]), train_labels[positions]
            new_augment_state = augment_state
            if augment is not None:
                images, new_augment_state = augment.stateless_call([], augment_state, images, training=True)

            def loss_of(trainable):
                scores, new_non_trainable, penalties = model.stateless_call(
                    trainable, non_trainable, images, training=True, return_losses=True)
                loss = cross_entropy(labels, scores, from_logits, loss_kind)
                correct = jnp.mean(jnp.argmax(scores, -1) == labels)
                return loss + sum(penalties), (new_non_trainable, correct)

            (loss, (new_non_trainable, correct)), grads = jax.value_and_grad(loss_of, has_aux=True)(trainable)
            slots = [rate.astype(s.dtype) if i == rate_slot else s for i, s in enumerate(slots)]
            new_trainable, new_slots = optimizer.stateless_apply(slots, grads, trainable)
            new = (new_trainable, new_non_trainable, new_slots, new_augment_state)
            # A replica whose epoch is shorter (or that stopped early) keeps its state on padded steps.
            kept = jax.tree_util.tree_map(lambda n, o: jnp.where(active, n, o), new, variables)
            return kept, (loss, correct)

        step = over_replicas(replica_step, self.n, in_axes=(0, 0, 0, 0, None, 0, 0))

        def train_epoch(variables, positions, active, rate, pool, train_index, train_labels):
            # positions (R, S, B), active (R, S): scan over the S steps
            def body(variables, xs):
                return step(variables, xs[0], xs[1], rate, pool, train_index, train_labels)
            variables, (loss, correct) = jax.lax.scan(body, variables, (positions.swapaxes(0, 1), active.swapaxes(0, 1)))
            return variables, loss.T, correct.T

        def replica_scores(trainable, non_trainable, index, pool):
            # index (chunks, EVAL_BATCH) into the pool -> (chunks, EVAL_BATCH, classes)
            def chunk(index):
                scores, _ = model.stateless_call(trainable, non_trainable, images_at(pool, index), training=False)
                return scores.astype(jnp.float32)
            return jax.lax.map(chunk, index)

        def keep_best(best, current, improved):
            return jax.tree_util.tree_map(
                lambda b, c: jnp.where(improved.reshape((-1,) + (1,) * (c.ndim - 1)), c, b), best, current)

        if jax.default_backend() == "cpu":
            # XLA's CPU convolutions ran 10x slower inside a compiled loop (lax.scan) than at the top
            # level (sdl_stn: 20 s against 2 s a step), so on a CPU the epoch loops over a compiled step.
            one_step = jax.jit(step)

            def step_by_step(variables, positions, active, rate, pool, train_index, train_labels):
                losses, corrects = [], []
                for s in range(positions.shape[1]):
                    variables, (loss, correct) = one_step(variables, positions[:, s], active[:, s], rate, pool,
                                                          train_index, train_labels)
                    losses.append(loss)
                    corrects.append(correct)
                return variables, jnp.stack(losses, axis=1), jnp.stack(corrects, axis=1)
            self.train_epoch = step_by_step
        else:  # the old weights are not needed once an epoch is done
            self.train_epoch = jax.jit(train_epoch, donate_argnums=0)
        self.scores = jax.jit(over_replicas(replica_scores, self.n, in_axes=(0, 0, 0, None)))
        self.keep_best = jax.jit(keep_best)
        self.replica_step = replica_step  # for the benchmark's FLOP count

    def _eval_layout(self, index_rows):
        """Per-replica pool indices padded to whole chunks of EVAL_BATCH: (R, chunks, EVAL_BATCH), and the mask."""
        index, mask = _padded(index_rows)
        width = -(-index.shape[1] // EVAL_BATCH) * EVAL_BATCH
        index = np.pad(index, ((0, 0), (0, width - index.shape[1])))
        mask = np.pad(mask, ((0, 0), (0, width - mask.shape[1])))
        return index.reshape(len(index_rows), -1, EVAL_BATCH), mask

    # ---- the state ----------------------------------------------------------------------------

    def initial_state(self):
        """Every replica's starting point, stacked on a leading replica axis, plus the bookkeeping."""
        def stacked(values_of):
            return [np.stack(column) for column in zip(*values_of)]
        models = [r.model for r in self.replicas] + [self.replicas[-1].model] * (self.n - len(self.replicas))
        augments = [r.augment for r in self.replicas] + [self.replicas[-1].augment] * (self.n - len(self.replicas))
        trainable = stacked([[np.asarray(v.value) for v in m.trainable_variables] for m in models])
        non_trainable = stacked([[np.asarray(v.value) for v in m.non_trainable_variables] for m in models])
        slots = [np.repeat(np.asarray(v.value)[None], self.n, axis=0) for v in self.optimizer.variables]
        augment = stacked([[np.asarray(v.value) for v in a.non_trainable_variables] for a in augments]) \
            if self.augment is not None else []
        return {
            "variables": (trainable, non_trainable, slots, augment),
            "best": ([np.copy(v) for v in trainable], [np.copy(v) for v in non_trainable]),
            "epoch": np.array(0), "best_score": np.full(self.n, worst(self.recipe.monitor)),
            "best_epoch": np.zeros(self.n, np.int64),
            "since_best": np.zeros(self.n, np.int64), "stopped": np.zeros(self.n, bool),
            "train_seconds": np.array(0.0), "train_images": np.zeros(self.n, np.int64),
            "history": {k: np.zeros((0, self.n)) for k in ("loss", "accuracy", "val_loss", "val_accuracy",
                                                            "learning_rate")},
        }

    def _to_device(self, state):
        import jax
        on_device = jax.device_put((state["variables"], state["best"]), self.split)
        return {**state, "variables": on_device[0], "best": on_device[1]}

    def save(self, state, folder):
        """The whole state as one npz (written aside, then renamed: a kill never leaves half a checkpoint)."""
        import jax
        leaves, _ = jax.tree_util.tree_flatten_with_path(state)
        arrays = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "state.partial.npz"
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
        partial.replace(folder / "state.npz")

    def load(self, folder, like):
        """The saved state, checked against a fresh one's structure; None when there is none."""
        import jax
        path = folder / "state.npz"
        saved = places.read_arrays(path)  # None: none yet, or damaged (set aside: training restarts)
        if saved is None:
            return None
        leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
        names = [jax.tree_util.keystr(p) for p, _ in leaves]
        if sorted(names) != sorted(saved):
            raise ValueError(f"{path}: checkpoint does not match this model and recipe "
                             f"(delete it to train afresh)")
        return jax.tree_util.tree_unflatten(treedef, [saved[name] for name in names])

    # ---- training ---------------------------------------------------------------------------

    def epoch_order(self, epoch, stopped):
        """Each replica's batches of this epoch (positions in its train items), drawn from (seed, epoch)."""
        positions = np.zeros((self.n, self.steps.max(), self.batch), np.int32)
        active = np.zeros((self.n, self.steps.max()), bool)
        for i, (seed, length, steps) in enumerate(zip(self.seeds, self.train_lengths, self.steps)):
            order = np.random.default_rng([seed, epoch]).permutation(length)
            positions[i, :steps] = order[:steps * self.batch].reshape(steps, self.batch)
            active[i, :steps] = not stopped[i]
        return positions, active

    def evaluate(self, variables, part):
        """Per replica: scores (list of (n, classes)), mean loss and accuracy on `part` (val or test)."""
        import jax
        index, mask = self.eval_index[part]
        scores = np.asarray(self.scores(variables[0], variables[1], jax.device_put(index, self.split), self.pool))
        scores = scores.reshape(self.n, -1, scores.shape[-1])
        per_replica = [s[m] for s, m in zip(scores, mask)]
        losses = [float(np.mean(cross_entropy_np(y, s, self.recipe.from_logits, self.recipe.loss)))
                  for y, s in zip(self.labels[part], per_replica)]
        accuracy = [float(np.mean(np.argmax(s, -1) == y)) for y, s in zip(self.labels[part], per_replica)]
        return per_replica, np.array(losses), np.array(accuracy)

    def train(self, folder, checkpoint_every=5):
        """Train until every replica has run its epochs (or stopped early); checkpoint on the way."""
        import jax
        fresh = self.initial_state()
        state = self._to_device(self.load(folder, fresh) or fresh)
        if int(state["epoch"]) > 0:
            print(f"engine: resuming {len(self.replicas)} replicas at epoch {int(state['epoch'])} from {folder}",
                  file=sys.stderr)
        saved_at = time.perf_counter()
        while int(state["epoch"]) < self.epochs and not state["stopped"][:len(self.replicas)].all():
            epoch = int(state["epoch"])
            positions, active = self.epoch_order(epoch, state["stopped"])
            rate = self.recipe.learning_rate(self.config, epoch)
            start = time.perf_counter()
            variables, loss, correct = self.train_epoch(
                state["variables"], jax.device_put(positions, self.split), jax.device_put(active, self.split),
                jax.device_put(np.full(self.n, rate, np.float32), self.split), self.pool,
                self.train_index, self.train_labels)
            loss, correct = np.asarray(loss), np.asarray(correct)
            seconds = time.perf_counter() - start
            steps = active.sum(axis=1)
            _, val_loss, val_accuracy = self.evaluate(variables, "val")
            state = self._after_epoch(state, variables, active, steps, loss, correct, val_loss, val_accuracy, rate,
                                      seconds)
            print(f"engine epoch {epoch + 1}/{self.epochs}: {seconds:.1f}s, loss "
                  f"{np.nanmean(state['history']['loss'][-1]):.4f}, val_accuracy {np.round(val_accuracy, 4).tolist()}",
                  file=sys.stderr, flush=True)
            done = int(state["epoch"]) >= self.epochs or state["stopped"][:len(self.replicas)].all()
            if done or int(state["epoch"]) % checkpoint_every == 0 or time.perf_counter() - saved_at > 120:
                self.save(state, folder)
                saved_at = time.perf_counter()
        return state

    def _after_epoch(self, state, variables, active, steps, loss, correct, val_loss, val_accuracy, rate, seconds):
        """Bookkeeping of one epoch: history, best epoch by the monitored validation metric, early stopping."""
        trained = ~state["stopped"]
        score = val_accuracy if self.recipe.monitor == "val_accuracy" else val_loss
        improved = improves(score, state["best_score"], self.recipe.monitor) & trained
        since_best = np.where(improved, 0, state["since_best"] + trained)
        stopped = state["stopped"] | (trained & (since_best >= self.patience) if self.patience else state["stopped"])
        mean = lambda values: np.where(trained, (values * active).sum(axis=1) / np.maximum(steps, 1), np.nan)
        row = {"loss": mean(loss), "accuracy": mean(correct), "val_loss": np.where(trained, val_loss, np.nan),
               "val_accuracy": np.where(trained, val_accuracy, np.nan), "learning_rate": np.full(self.n, rate)}
        history = {k: np.concatenate([v, row[k][None]]) for k, v in state["history"].items()}
        return {
            "variables": variables, "best": self.keep_best(state["best"], variables[:2], improved),
            "epoch": np.array(int(state["epoch"]) + 1), "best_score": np.where(improved, score, state["best_score"]),
            "best_epoch": np.where(improved, int(state["epoch"]), state["best_epoch"]),
            "since_best": since_best, "stopped": stopped,
            "train_seconds": np.array(float(state["train_seconds"]) + seconds),
            "train_images": state["train_images"] + steps * self.batch, "history": history,
        }

    def fold_result(self, state, i, test_scores, ctx):
        """Replica i's FoldResult: test scores of its best epoch, its history, its extra metrics."""
        replica = self.replicas[i]
        trained = ~np.isnan(state["history"]["loss"][:, i])
        history = {k: v[trained, i].tolist() for k, v in state["history"].items()}
        for variable, value in zip(self.model.trainable_variables, state["best"][0]):
            variable.assign(np.asarray(value[i]))
        for variable, value in zip(self.model.non_trainable_variables, state["best"][1]):
            variable.assign(np.asarray(value[i]))
        return self.recipe.fold_result(self.model, replica.fold, self.config, ctx, history, test_scores[i],
                                       float(state["train_seconds"]), int(state["train_images"][i]))


def over_replicas(function, n, in_axes):
    """`function` of one replica mapped over the leading replica axis: jax.vmap, except for a
    single replica, which runs unbatched (XLA's CPU convolutions are slower batched, even over 1)."""
    import jax
    if n > 1:
        return jax.vmap(function, in_axes=in_axes)

    def single(*args):
        first = [a if axis is None else jax.tree_util.tree_map(lambda x: x[0], a) for a, axis in zip(args, in_axes)]
        return jax.tree_util.tree_map(lambda x: x[None], function(*first))
    return single
