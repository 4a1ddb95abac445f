"""The run record: everything one run measured and how it was made, written as metrics.json.

The report, the scoreboard and the runs index are renderings of these records and
never a second source of truth. A record holds the run's recipe beside the paper's
(epochs, repeats, folds, optimizer, learning rate, batch size, training images,
protocol, dataset), so whether a run can judge a claim is decided from data, and
its provenance (code revision, command line, a hash of the data read).
"""
from __future__ import annotations

import dataclasses
import json
import string
import time
from pathlib import Path

import numpy as np

from common.harness.judge.evaluation import metric_range
from common.harness.judge.intervals import Z95, wilson
from common.harness.judge.verdicts import (
    SAMPLED,
    comparability_reasons,
    degenerate_reasons,
    judged_claims,
    recipe_differences,
)
from common.harness.run import provenance

# Recipe fields a run is compared on, and where each sits in an experiment's config.
RECIPE_PATHS = {"epochs": "epochs", "repeats": "protocol.repeats", "folds": "protocol.k",
                "protocol": "protocol.kind", "optimizer": "optimizer", "learning_rate": "learning_rate",
                "batch_size": "batch_size", "train_images": "max_train_images",
                "patience": "early_stopping_patience", "plateau_patience": "reduce_lr.patience"}
RECIPE_DEFAULTS = {"repeats": 1}
UNFINISHED = "UNFINISHED"  # the marker a run folder holds until its report is written
RESUME = "resume"  # in an unfinished run folder: identity.json and <fold>.pkl of each finished fold


def carried(run_dir):
    """(finished folds, git state) an unfinished run folder carries in resume/: the git state is {"commit", "dirty"}
    from its identity.json, {} where none was recorded, None where identity.json cannot be read."""
    folds = len(list((Path(run_dir) / RESUME).glob("*.pkl")))
    try:
        identity = json.loads((Path(run_dir) / RESUME / "identity.json").read_text())
    except (OSError, ValueError):
        return folds, None
    return folds, (identity.get("git") or {}) if isinstance(identity, dict) else None


@dataclasses.dataclass
class RunRecord:
    paper: str
    experiment: str
    title: str
    run_id: str
    smoke: bool
    dataset: str  # the dataset the run read ("synthetic" for a smoke run)
    dataset_summary: dict
    protocol: dict
    recipe: list[dict]  # [{"label", "run", "target", "source": "paper" | "suite"}]
    metrics: dict  # name -> {"mean", "std", "ci95", "n", "se_test", "method"}
    per_class: dict
    confusion_matrix: list
    class_names: list
    test_items: int  # distinct test items (each counted once in the confusion matrix)
    folds: list[dict]
    degenerate: dict  # fold -> reasons; empty when every fold's predictions carry information
    deviations: list[str]
    config: dict
    environment: dict
    provenance: dict
    backend: str = ""
    device: str = ""
    epochs: int = 0  # epochs the config asked for
    epochs_per_fold: list = dataclasses.field(default_factory=list)  # epochs each fold trained
    train_seconds: float = 0.0
    config_hash: str = ""
    written: str = ""
    skipped: list = dataclasses.field(default_factory=list)
    claims: list = dataclasses.field(default_factory=list)  # filled by the verdict code when written

    @property
    def faithfulness(self):
        """How closely the run follows the recipe, for picking which run speaks for a claim. Real data first;
        then a run that is comparable (the paper's per-run recipe, perhaps on a sample of its runs), whether it
        learned or failed (then its failure is the finding); among other runs, one that learned before one that
        did not, then the fewest departures other than length. Last the largest share of the recipe's length,
        where more repeats or folds count for more even beyond the protocol's, then the newest."""
        comparable = not self.smoke and not comparability_reasons({"dataset": self.dataset}, self)
        other = sum(category == "other recipe" for category, _ in recipe_differences(self.recipe))
        share = 1.0
        for field in self.recipe:
            if field["label"] in ("epochs", *SAMPLED) and field["target"] and field["run"]:
                ratio = field["run"] / field["target"]
                share *= ratio if field["label"] in SAMPLED else min(1.0, ratio)
        return (not self.smoke, comparable, comparable or not self.degenerate, -other, share, self.written)

    def write(self, run_dir):
        Path(run_dir, "metrics.json").write_text(json.dumps(dataclasses.asdict(self), indent=1, default=_json))

    @classmethod
    def read(cls, run_dir):
        data = json.loads(Path(run_dir, "metrics.json").read_text())
        if "recipe" not in data:
            data = _from_first_format(data)
        if data.get("provenance", {}).get("command"):
            data["provenance"]["command"] = provenance.as_typed(data["provenance"]["command"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def build(exp, config, key, smoke, dataset_summary, folds, results, evaluation, class_names, data_path):
    """The record of a finished run, its claims judged."""
    from common.toolkit.train.fit import environment
    env = environment()
    metrics = evaluation["metrics"]
    per_class = {c: {k: metrics[f"per_class.{c}.{k}"]["mean"] for k in ("precision", "recall", "f1")}
                 for c in class_names if f"per_class.{c}.precision" in metrics}
    recipe = recipe_fields(exp, config, [r.epochs for r in results.values()])
    resumed = {name: r.resumed_from_epoch for name, r in results.items() if getattr(r, "resumed_from_epoch", None)}
    deviations = derive_deviations(exp, config, recipe, smoke, dataset_summary, len(dataset_summary["skipped"]),
                                   resumed)
    record = RunRecord(
        paper=exp.paper, experiment=exp.name, title=exp.title, run_id="", smoke=smoke,
        dataset="synthetic" if smoke else exp.dataset,
        dataset_summary={k: v for k, v in dataset_summary.items() if k != "skipped"},
        skipped=dataset_summary["skipped"][:1000], protocol=config["protocol"], recipe=recipe,
        metrics=metrics, per_class=per_class, confusion_matrix=evaluation["confusion_matrix"],
        class_names=list(class_names), test_items=evaluation["test_items"],
        folds=[{"name": f.name, "train": len(f.train), "val": len(f.val), "test": len(f.test),
                "accuracy": evaluation["per_fold"][f.name]["accuracy"], "epochs": results[f.name].epochs,
                "resumed_from_epoch": resumed.get(f.name), "extra": evaluation["per_fold"][f.name]["extra"]}
               for f in folds],
        degenerate=evaluation["degenerate"], deviations=deviations, config=config, environment=env,
        provenance={"git": provenance.git_state(), "code_version": provenance.code_version(),
                    "command": provenance.command_line(),
                    "data_sha256": None if smoke else provenance.file_hash(data_path)},
        backend=env["backend"], device=env["device"], epochs=config.get("epochs", 0),
        epochs_per_fold=[r.epochs for r in results.values()],
        train_seconds=float(sum(r.train_seconds for r in results.values())), config_hash=key,
        written=time.strftime("%Y-%m-%d %H:%M:%S"))
    record.claims = judged_claims(record)
    return record


def rederive(record, exp):
    """What a record derives from its experiment and the rules, derived again with today's (rereport, after a
    claim or a rule is corrected): recipe, deviations and verdicts. The measured numbers are not touched."""
    record.recipe = recipe_fields(exp, record.config, record.epochs_per_fold)
    resumed = {f["name"]: f["resumed_from_epoch"] for f in record.folds if f.get("resumed_from_epoch")}
    record.deviations = derive_deviations(exp, record.config, record.recipe, record.smoke, record.dataset_summary,
                                          len(record.skipped), resumed)
    record.claims = judged_claims(record)
    return record


def derive_deviations(exp, config, recipe, smoke, dataset_summary, skipped, resumed):
    """Every departure from the paper's protocol: those the recipe shows, those the experiment knows of
    (templates whose {fields} name the run's config values, so the text states the values the run used), the
    data actually read and any interruption."""
    deviations = ([f"Smoke run on synthetic data written in the {exp.dataset} layout: numbers check the "
                   "pipeline, not the paper."] if smoke else [])
    deviations += [f"{category.capitalize()}: {text}." for category, text in recipe_differences(recipe)]
    deviations += [fill(text, config) for text in exp.deviations]
    deviations.append(f"Data read: {dataset_summary['total']} items from {dataset_summary['path']}"
                      f"{f', {skipped} skipped (listed in metrics.json)' if skipped else ''}.")
    if resumed:
        deviations.append("Interrupted and resumed: " + ", ".join(f"{fold} from epoch {epoch}"
                                                                  for fold, epoch in resumed.items())
                          + " (the training time counts every attempt).")
    return deviations


class _ConfigText(string.Formatter):
    """str.format over a config, where a field the config lacks (a run recorded before the key existed) reads
    as such instead of failing."""

    def get_field(self, field_name, args, kwargs):
        try:
            return super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, TypeError):
            return _Missing(field_name), field_name

    def format_field(self, value, format_spec):
        return str(value) if isinstance(value, _Missing) else super().format_field(value, format_spec)


class _Missing(str):
    def __new__(cls, field_name):
        return super().__new__(cls, f"({field_name}: not in this run's config)")


def fill(text, config):
    """A deviation template filled with the run's config values: "batch size ({batch_size})" -> "batch size (64)"."""
    return _ConfigText().vformat(text, (), config)


def recipe_fields(exp, config, epochs_per_fold=()):
    """The run's value of each recipe field beside the value it is judged against: the paper's where
    the paper states it, else the experiment's own full config (the suite's choice).

    Where the paper gives no training length, the suite's full recipe is a rule (`length_rule`): a run
    whose every fold stopped by that rule before its epoch cap trained at full length, whatever the cap."""
    fields = []
    for label, path in RECIPE_PATHS.items():
        run, full = _lookup(config, path), _lookup(exp.config, path)
        if label in exp.paper_recipe and exp.paper_recipe[label] is not None:
            target, source = exp.paper_recipe[label], "paper"
            if run is None and label not in RECIPE_DEFAULTS:
                run = target  # fixed in the code, as the paper says (e.g. sdl_stn's AdamW)
        else:
            target, source = full, "suite"
        run = RECIPE_DEFAULTS.get(label) if run is None else run
        target = RECIPE_DEFAULTS.get(label) if target is None else target
        if run is None and target is None:
            continue
        field = {"label": label, "run": run, "target": target, "source": source}
        rule = length_rule(exp.config) if label == "epochs" and source == "suite" else None
        if rule:
            field["rule"] = rule
            stopped_by_rule = epochs_per_fold and all(e < run for e in epochs_per_fold)
            if stopped_by_rule and config.get("early_stopping_patience") == exp.config["early_stopping_patience"]:
                field["run"] = target  # the cap never bound: the run trained as long as the full recipe would
        fields.append(field)
    k = _lookup(config, "protocol.k")
    if k is not None:  # the first n of the run's k folds (fewer is a sample; another k is another recipe: `folds`)
        fields.append({"label": "folds trained", "run": _lookup(config, "protocol.folds_to_run") or k, "target": k,
                       "source": "suite"})
    return fields


def length_rule(config):
    """Our full recipe's training length where the paper gives none, in words (None: a fixed count)."""
    if not config.get("early_stopping_patience"):
        return None
    return (f"until the validation accuracy has not improved for {config['early_stopping_patience']} epochs, "
            f"at most {config['epochs']}")


def _lookup(config, path):
    node = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _from_first_format(data):
    """A metrics.json written before run records (2026-11): its intervals recomputed from the sample
    sizes it kept, its confusion matrix counted once per test item, its collapse detected from that
    matrix. The recipe is filled in by `rederive`, which knows the experiment."""
    folds = data["folds"]
    disjoint = data["protocol"].get("kind") in ("stratified_kfold", "subject_kfold")
    cm = np.asarray(data["confusion_matrix"], dtype=float)
    if not disjoint:
        cm = cm / len(folds)  # the runs tested the same items: mean over runs
    unique = int(round(cm.sum()))
    names = data["class_names"]
    metrics = {}
    for name, s in data["metrics"].items():
        trials = _first_format_trials(name, cm, names, unique, folds)
        se = float(np.sqrt(max(s["mean"] * (1 - s["mean"]), 0.0) / trials)) if trials and s["mean"] is not None else None
        if s["n"] > 1:
            ci, method = _widen(s, se, metric_range(name)), "runs" if se is None else "runs + test items"
        elif se is not None:
            ci, method = wilson(s["mean"] * trials, trials)["ci95"], "test items (Wilson)"
        else:
            ci, method = [None, None], "single run without per-item data: no interval"
        metrics[name] = {"mean": s["mean"], "std": s["std"], "n": s["n"], "ci95": ci, "se_test": se, "method": method}
    counts = np.round(cm).astype(int)  # one (true, predicted) pair per test item, rebuilt from the matrix
    y_true = np.concatenate([np.full(counts[i].sum(), i) for i in range(len(names))])
    y_pred = np.concatenate([np.full(v, j) for row in counts for j, v in enumerate(row)])
    degenerate = degenerate_reasons(y_true, y_pred, names)
    data.update(metrics=metrics, confusion_matrix=cm.tolist(), test_items=unique,
                degenerate={"all runs": degenerate} if degenerate else {},
                recipe=[], provenance={"git": None, "code_version": None, "command": None, "data_sha256": None,
                                       "note": "written before provenance was recorded"})
    data["dataset"] = "synthetic" if data.get("smoke") else data["dataset"]
    data["epochs"] = data.get("config", {}).get("epochs", data.get("epochs", 0))
    return data


def _first_format_trials(name, cm, names, unique, folds):
    if name == "accuracy":
        return unique
    if name in ("train_accuracy", "val_accuracy"):
        return float(np.mean([f["train" if name == "train_accuracy" else "val"] for f in folds]))
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "per_class" and parts[1] in names:
        c = names.index(parts[1])
        support, predicted = cm[c].sum(), cm[:, c].sum()
        return {"recall": support, "precision": predicted, "specificity": cm.sum() - support}.get(parts[2]) or None
    return None


def _widen(summary, se, value_range):
    """The t-interval over runs widened by the test-sampling error, as `combine` does."""
    from scipy import stats
    n, std, mean = summary["n"], summary["std"] or 0.0, summary["mean"]
    half = float(np.hypot(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n), Z95 * (se or 0.0)))
    return [float(v) for v in np.clip([mean - half, mean + half], *value_range)]
