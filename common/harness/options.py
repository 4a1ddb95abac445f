"""What a user may pass on the command line, checked before anything runs or any folder is made: counts must
be positive, a `--set` key the experiment's config does not have is an error that lists the keys it has, a
`--set` value must have the type of the config's value and stay in its range, and the data must be there. A
user's mistake is one line that names it and the fix (SystemExit), never a traceback."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import yaml

from datasets.paths import DATA_DIR_VARIABLE, SUBPATHS, default_path

# Protocol keys that common.toolkit.data.protocols.make_folds reads with a default, by protocol kind:
# `--set protocol.<key>=...` may set them although the experiment's config leaves them out.
PROTOCOL_DEFAULTED_KEYS = {
    "official": {"repeats"},
    "random_split": {"repeats", "fractions"},
    "stratified_kfold": {"repeats", "k", "val_fraction", "folds_to_run"},
    "subject_kfold": {"repeats", "k", "val_fraction", "folds_to_run"},
    "holdout_then_kfold": {"repeats", "k", "test_fraction", "folds_to_run"},
}
# Counts and their least value, whether set by their own option or by --set.
COUNT_KEYS = {"epochs": 1, "protocol.repeats": 1, "protocol.k": 2, "protocol.folds_to_run": 1, "seed": 0}
# The range a --set number keeps, by the last part of its key; beside these, no number in a config is negative.
POSITIVE_KEYS = ("batch_size", "learning_rate", "min_lr", "lr_decay", "factor")  # above 0
SHARE_SUFFIXES = ("dropout", "fraction")  # keys ending so are shares: in [0, 1)


def count(minimum):
    """argparse type: an integer >= minimum (0 epochs or repeats would silently run the full recipe)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def key_value(text):
    """argparse type: 'key=value' -> (key, value parsed as YAML so 3 is an int and [1, 2] a list, the text).
    A number YAML leaves as text (1e-3, which YAML 1.1 reads only as 1.0e-3) is a float."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return key, parsed, text


def value_problem(key, value, current):
    """Why `value` cannot replace `current`, the config's value of `key` (None when it can): another type
    (a float key takes an int too; a key the config leaves None takes anything), or outside its range."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if current is not None:
        if isinstance(current, bool):
            kind, fits = "true or false", isinstance(value, bool)
        elif isinstance(current, int):
            kind, fits = "an integer", is_number and isinstance(value, int)
        elif isinstance(current, float):
            kind, fits = "a number", is_number
        else:
            kind, fits = f"a {type(current).__name__}", isinstance(value, type(current))
        if not fits:
            return f"must be {kind}, like the config's {current!r}"
    if not is_number:
        return None
    leaf = key.split(".")[-1]
    if not math.isfinite(value):
        return "must be a finite number"
    if leaf in POSITIVE_KEYS and value <= 0:
        return "must be above 0"
    if leaf.endswith(SHARE_SUFFIXES) and not 0 <= value < 1:
        return "must be at least 0 and below 1"
    if value < 0:
        return "must not be negative"
    return None


def budget(text):
    """--budget's seconds (an argparse type)."""
    from common.harness.run.plan import parse_budget
    try:
        return parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def override_pairs(args):
    """[(the option it came from, dotted key, value)] of --epochs, --repeats, --folds, --folds-to-run, --seed
    and --set."""
    pairs = [(f"--{option.replace('_', '-')}", key, getattr(args, option))
             for option, key in (("epochs", "epochs"), ("repeats", "protocol.repeats"), ("folds", "protocol.k"),
                                 ("folds_to_run", "protocol.folds_to_run"), ("seed", "seed"))
             if getattr(args, option) is not None]
    return pairs + [(f"--set {text}", key, value) for key, value, text in args.set]


def config_keys(config, prefix=""):
    """Every dotted key of a nested config, branches and leaves ('model', 'model.fc_units', ...)."""
    keys = []
    for key, value in config.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += config_keys(value, f"{prefix}{key}.")
    return keys


def value_at(config, key):
    """The config's value at a dotted key, None where it has none."""
    node = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def overrides_for(exp, pairs, smoke):
    """The nested overrides dict of `pairs` for `exp`; SystemExit naming the option when a key is unknown."""
    config = exp.resolved_config(smoke)
    known = set(config_keys(config))
    known |= {f"protocol.{k}" for k in PROTOCOL_DEFAULTED_KEYS.get(config["protocol"]["kind"], ())}
    overrides = {}
    for option, key, value in pairs:
        if key not in known:
            raise SystemExit(f"{option}: {exp.paper}/{exp.name} has no config key {key!r} "
                             f"(protocol: {config['protocol']['kind']}). Known keys: {', '.join(sorted(known))}")
        least = COUNT_KEYS.get(key)
        if least is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise SystemExit(f"{option}: {key} must be an integer of at least {least}, got {value!r}")
        problem = value_problem(key, value, value_at(config, key))
        if problem:
            raise SystemExit(f"{option}: {key} {problem}, got {value!r}")
        node = overrides
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    from common.toolkit.data.protocols import check_protocol
    try:
        check_protocol(exp.resolved_config(smoke, overrides)["protocol"])
    except ValueError as error:
        raise SystemExit(f"{exp.paper}/{exp.name}: {error}") from None
    return overrides


def check_data(what, dataset, data_dir, data_path):
    """SystemExit with one line naming the path and how to name the right one, when there is no data dir or
    nothing at the dataset's path (what a loader finds wrong inside it, run_all says)."""
    if data_path:
        path, named_by = Path(data_path), "--data-path"
    else:
        try:
            path = default_path(dataset, data_dir)
        except ValueError as error:
            raise SystemExit(f"{what}: {error}") from None
        named_by = "--data-dir" if data_dir else f"${DATA_DIR_VARIABLE}" if os.environ.get(DATA_DIR_VARIABLE) \
            else "the default data dir"
    if not path.exists():
        raise SystemExit(f"{what}: no {dataset} data at {path} (from {named_by}); pass --data-dir DIR (make: "
                         f"DATA_DIR=DIR) with DIR holding {SUBPATHS[dataset]}, or --data-path to the dataset itself")
