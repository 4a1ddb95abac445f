"""A plan and a time budget before long work.

Before a run trains, `probe` measures its training speed on this machine: the experiment's
own training of its first fold for two epochs, in a scratch folder (nothing of it is
kept; a rerun that resumes an interrupted run does not probe again). `Plan` turns that
into what the run will do, runs x epochs x images per epoch, and how long it will take
here, and says so before the first real epoch. With a budget
(`--budget 90m`), `Plan.fit_budget` chooses how many of the protocol's repeats or folds fit,
at least two (a sample of the protocol at its per-run recipe, judged on a wider interval:
common/harness/judge/verdicts.py); when two do not fit, nothing starts and the message says what would.
"""
from __future__ import annotations

import dataclasses
import math
import re
import tempfile
import time
from pathlib import Path

import keras

from common.toolkit.experiment import RunContext, deep_merge
from common.toolkit.train.fit import Checkpoint, set_seed

PROBE_EPOCHS = 2
# A protocol that holds one held-out split repeats it on new splits (new test items) when a budget allows
# more than the paper's one; at most this many.
MOST_REPEATS = 20


def parse_budget(text):
    """Seconds in '90m', '2h', '1h30m', '45s' or a plain number of seconds; ValueError otherwise."""
    parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text or "")
    if not parts or not any(parts.groups()):
        raise ValueError(f"--budget {text!r}: give a duration such as 90m, 2h, 1h30m or 600 (seconds)")
    hours, minutes, seconds = (float(p or 0) for p in parts.groups())
    return 3600 * hours + 60 * minutes + seconds


def duration(seconds):
    """'45 s', '19 min', '4.7 h' or '2.3 days'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@dataclasses.dataclass
class Probe:
    """What two epochs of the first fold measured: seconds of one epoch once compiled (all the fold's
    trainings, e.g. a model and its baseline), the fold's other seconds (loading, building and compiling,
    predicting), images per epoch, and the probe's own wall time."""
    epoch_seconds: float
    fold_overhead: float
    images_per_epoch: float
    wall: float


def probe(exp, fold, config, smoke=False):
    """Train `fold` as the run would, for PROBE_EPOCHS epochs in a scratch folder, and time it."""
    short = deep_merge(config, _epoch_keys(config, PROBE_EPOCHS))
    with tempfile.TemporaryDirectory(prefix="probe-") as scratch:
        keras.backend.clear_session()
        set_seed(fold.seed)
        start = time.perf_counter()
        result = exp.train_and_evaluate(fold, short, RunContext(Path(scratch) / "probe", Path(scratch), smoke))
        wall = time.perf_counter() - start
        states = [Checkpoint.read_state(path.parent) for path in Path(scratch).rglob("state.json")]
    steady = sum(state["epoch_seconds"][-1] for state in states)
    return Probe(steady, max(0.0, wall - PROBE_EPOCHS * steady), result.train_images / max(result.epochs, 1), wall)


def _epoch_keys(config, epochs):
    """{every key named like *epochs, at any depth: epochs} (a model's, its baseline's, a stage's)."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            inner = _epoch_keys(value, epochs)
            if inner:
                out[key] = inner
        elif key.endswith("epochs") and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[key] = min(value, epochs)
    return out


@dataclasses.dataclass
class Plan:
    """How many runs (repeats or folds) a config trains, and what each costs here."""
    config: dict
    runs: int  # folds the config's protocol trains
    measured: Probe
    unit: str  # "repeat" or "fold": what the budget chooses the number of
    most: int  # the most of them the protocol allows

    @classmethod
    def of(cls, config, runs, measured):
        protocol = config["protocol"]
        kind, repeats = protocol["kind"], protocol.get("repeats", 1)
        if kind in ("stratified_kfold", "subject_kfold") and repeats == 1:
            return cls(config, runs, measured, "fold", protocol.get("k", runs))
        if kind == "holdout_then_kfold":
            return cls(config, runs, measured, "repeat", max(repeats, MOST_REPEATS))
        return cls(config, runs, measured, "repeat", repeats)

    @property
    def per_unit(self):
        """Folds in one repeat (a held-out split's k folds) or 1."""
        return max(1, self.runs // self.units)

    @property
    def units(self):
        protocol = self.config["protocol"]
        if self.unit == "fold":
            return protocol.get("folds_to_run") or self.runs
        return protocol.get("repeats", 1)

    def seconds_per_run(self):
        return self.measured.fold_overhead + self.config["epochs"] * self.measured.epoch_seconds

    def seconds(self, units=None):
        return (self.units if units is None else units) * self.per_unit * self.seconds_per_run()

    def describe(self, name, device):
        length, bound = f"{self.config['epochs']} epochs", ""
        if self.config.get("early_stopping_patience"):
            length = f"at most {length} (it stops once validation accuracy has not improved for " \
                     f"{self.config['early_stopping_patience']})"
            bound = "; at most: the length rule usually stops sooner"
        unit_text = f"{self.units} {self.unit}{'s' if self.units != 1 else ''}"
        if self.per_unit > 1:
            unit_text += f" x {self.per_unit} folds"
        estimate = (f"{duration(self.seconds_per_run())} per {'fold' if self.per_unit > 1 else self.unit}, "
                    f"{duration(self.seconds())} in all")
        if self.units < self.most:
            estimate += f"; {self.most_units} would take {duration(self.seconds(self.most))}"
        images_per_s = self.measured.images_per_epoch / max(self.measured.epoch_seconds, 1e-9)
        return (f"Plan for {name}: {unit_text} x {length} x {self.measured.images_per_epoch:,.0f} images per epoch.\n"
                f"Probe ({PROBE_EPOCHS} epochs of the first fold, {duration(self.measured.wall)}): "
                f"{self.measured.epoch_seconds:.2f} s per epoch once compiled (every training of a fold), "
                f"{images_per_s:,.0f} images/s.\n"
                f"Estimated on this machine ({device}{bound}): {estimate}.")

    @property
    def most_units(self):
        """The largest number of units, in words: the protocol's, or the most held-out splits a budget adds."""
        if self.config["protocol"]["kind"] == "holdout_then_kfold":
            return f"{self.most} held-out splits, the most a budget adds,"
        return f"the protocol's {self.most} {self.unit}s"

    def fit_budget(self, budget_seconds):
        """The number of units that fit the budget (the probe's time counted in), at least 2; ValueError
        saying what would fit when 2 do not."""
        each = self.seconds(1)
        n = min(self.most, math.floor((budget_seconds - self.measured.wall) / each))
        if n < 2:
            raise ValueError(f"--budget {duration(budget_seconds)}: 2 {self.unit}s of the per-run recipe need about "
                             f"{duration(2 * each + self.measured.wall)} here (one takes {duration(each)}), and one "
                             f"{self.unit} is not a sample. Nothing started: give --budget "
                             f"{math.ceil((2 * each + self.measured.wall) / 60)}m or more, or cut the recipe down "
                             "(--epochs N), which makes the run not comparable.")
        return n

    def with_units(self, n):
        """The config that trains n units (repeats, or the first n folds)."""
        key = "folds_to_run" if self.unit == "fold" else "repeats"
        return deep_merge(self.config, {"protocol": {key: n}})
