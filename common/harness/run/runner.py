"""Run one experiment of a paper end to end and write its report.

load -> prepare -> folds -> (seed, train, evaluate) per fold -> aggregate with 95% CI
-> compare with the claims -> results/<paper>/<experiment>/<run_id>/.

Resume. A run's work folder, cache/train/<paper>/<experiment>/<run key>/, holds each
finished fold's result and the checkpoint of the fold in training
(`common.toolkit.train.fit.Checkpoint`), so a killed run started again with the same command
resumes where it stopped, into the same run folder, and ends with exactly the numbers
of an uninterrupted run (on CPU). The run key covers everything that defines the run:
paper, experiment, config (protocol included), smoke or not, the prepared data's hash
(images, labels, splits, subjects, class names), the code version and the results root.
A rerun that differs in any of them does not resume: it starts afresh under its own
key, and says which interrupted run it did not resume and why. Once the report is
written the work folder is removed, so a later run trains afresh, into a new folder.

Until then the run folder holds an UNFINISHED file; the scoreboard reads only run
folders with a metrics.json, and `python -m papers cleanup` lists (and with --remove
deletes) unfinished run folders and leftover work folders.

The unfinished run folder also carries what a resume needs besides the checkpoints: in
resume/, the run's identity and each finished fold's result (of the per-fold loop; the replica
engine's folds resume from the work folder only). A run folder copied (or committed) to a
machine without the work folder (a fresh clone, a new machine, a cleaned cache) resumes there
at its first unfinished fold, under the same command and code, wherever the clone is; only the
fold that was training starts again.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import datasets
from common.harness.judge.evaluation import aggregate
from common.harness.report.run import write_run
from common.harness.report.scoreboard import write_scoreboard
from common.harness.run import plan
from common.harness.run import record as run_record
from common.harness.run.provenance import array_hash, code_version, git_state
from common.harness.run.record import RESUME
from common.toolkit import places
from common.toolkit.data.protocols import make_folds
from common.toolkit.experiment import FOLD_RESULT, config_hash
from common.toolkit.train.fit import Checkpoint, device_name, epoch_listener
from common.toolkit.train.folds import train_folds
from common.toolkit.train.replicas import train_replicas, use_engine
from datasets.paths import default_path

DEFAULT_OUT = places.RESULTS
WORK = places.CACHE / "train"
SYNTHETIC = places.CACHE / "synthetic"


def run_experiment(exp, data_dir=None, *, smoke=False, out_root=None, overrides=None, data_path=None, budget=None):
    """Train and evaluate `exp` over its protocol's folds; return the run folder.

    smoke: read synthetic data in the dataset's own layout (`synthetic_copy`) and use `exp.smoke_config`.
    data_path: the dataset file/folder itself (otherwise its sub-path under data_dir, datasets.paths).
    budget: seconds; train as many of the protocol's repeats or folds as fit (at least 2, `common.harness.run.plan`).
    A real run (or one with a budget) prints its plan and estimated time before it trains.
    """
    config = exp.resolved_config(smoke, overrides)
    key = config_hash({"paper": exp.paper, "experiment": exp.name, "config": config, "smoke": smoke})
    out_root = places.out_root(out_root, DEFAULT_OUT, f"{exp.paper} {exp.name}").resolve()
    if smoke:
        data_path = synthetic_copy(exp.dataset, config["seed"], config.get("synthetic", {}))
    elif data_path is None:
        data_path = default_path(exp.dataset, data_dir)
    ds = datasets.load(exp.dataset, data_path, **exp.loader_options)
    dataset_summary = ds.summary()
    if exp.prepare is not None:
        ds = exp.prepare(ds, config)
    folds = make_folds(ds, config["protocol"], seed=config["seed"])
    data, code = data_identity(ds), code_version()  # both hash bytes: once per run

    def identity(config):  # what a run is, as its run.json stores it
        return json.loads(json.dumps({"paper": exp.paper, "experiment": exp.name, "config": config, "smoke": smoke,
                                      "data": data, "code": code, "results": str(out_root)}, default=str))
    if budget is None and not smoke and _run_or_set_aside(_work_root(identity(config)) / "run.json"):
        print(f"{exp.paper}/{exp.name}: an interrupted run of this configuration resumes; its plan was printed when "
              "it started, and the progress bar's ETA counts what is left.", file=sys.stderr)  # no second probe
    elif budget is not None or not smoke:
        config, folds = _plan(exp, ds, config, folds, smoke, budget)
    work_root, run_dir = _work_and_run_folders(identity(config), out_root / exp.paper / exp.name, key)
    if exp.train_stages is not None:  # earlier stages of every fold (e.g. backbones), before the per-fold loop
        exp.train_stages(folds, config, work_root, run_dir, smoke)
    if use_engine(exp):  # JAX: every fold a replica of one compiled step (common/toolkit/train/engine.py)
        results = train_replicas(exp.replica_recipe, folds, config, work_root, run_dir, smoke)
    else:
        with _protocol_progress(exp, folds, config) as progress:
            def fold_done(fold):
                _carry_fold_result(work_root / fold.name, run_dir)
                progress(fold)
            results = train_folds(folds, lambda fold: work_root / fold.name,
                                  lambda fold, ctx: exp.train_and_evaluate(fold, config, ctx), run_dir, smoke, fold_done)
    evaluation = aggregate(results, folds, ds.class_names)
    record = run_record.build(exp, config, key, smoke, dataset_summary, folds, results, evaluation,
                              ds.class_names, data_path)
    write_run(run_dir, record, results)
    shutil.rmtree(run_dir / RESUME, ignore_errors=True)
    (run_dir / run_record.UNFINISHED).unlink(missing_ok=True)
    write_scoreboard(out_root)  # after the marker goes, so that the scoreboard counts this run
    shutil.rmtree(work_root, ignore_errors=True)
    return run_dir


def _plan(exp, ds, config, folds, smoke, budget):
    """Print the run's plan and estimated time (from a short probe of its training); with a budget, the
    (config, folds) of as many repeats or folds as fit. SystemExit, before anything is written, when two
    do not fit."""
    if exp.train_stages is not None or use_engine(exp):
        if budget is not None:
            raise SystemExit(f"--budget: {exp.paper}/{exp.name} trains in stages or on the replica engine, which "
                             "the plan's probe cannot time; run it without --budget.")
        return config, folds
    print(f"Probing the training speed of {exp.paper}/{exp.name} ({plan.PROBE_EPOCHS} epochs of {folds[0].name})...",
          file=sys.stderr)
    schedule = plan.Plan.of(config, len(folds), plan.probe(exp, folds[0], config, smoke))
    if budget is not None:
        try:
            units = schedule.fit_budget(budget)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        config = schedule.with_units(units)
        folds = make_folds(ds, config["protocol"], seed=config["seed"])
        schedule = dataclasses.replace(schedule, config=config, runs=len(folds))
        print(f"Budget {plan.duration(budget)}: {units} of the protocol's {schedule.unit}s fit; running those "
              f"(a sample of the protocol, judged on its wider interval).", file=sys.stderr)
    print(schedule.describe(f"{exp.paper}/{exp.name}", device_name()), file=sys.stderr)
    return config, folds


@contextlib.contextmanager
def _protocol_progress(exp, folds, config):
    """One progress bar over a run's every fold and epoch, with an ETA. Yields fold_done(fold): a fold that
    stops early, or was trained before, jumps to its end; a resumed one starts at its checkpoint's epoch.
    A jump is work not trained now: it counts as done before (tqdm's `initial`), so the speed and the ETA
    come from the epochs this process trains (else a resumed run's ETA reads minutes for hours of work)."""
    epochs = max(1, config.get("epochs", 1))
    bar = tqdm(total=len(folds) * epochs, desc=f"{exp.paper}/{exp.name}", unit="epoch", file=sys.stderr,
               dynamic_ncols=True)
    finished = 0

    def advance_to(n):  # never back: a fold's second training (e.g. a baseline) counts its epochs again
        if n == bar.n + 1:
            bar.update(1)
        elif n > bar.n:
            bar.initial += n - bar.n
            bar.n = bar.last_print_n = n
            bar.refresh()

    def fold_done(fold):
        nonlocal finished
        finished += 1
        advance_to(finished * epochs)
    try:
        with epoch_listener(lambda epochs_done: advance_to(finished * epochs + min(epochs_done, epochs))):
            yield fold_done
    finally:
        bar.close()


def synthetic_copy(dataset, seed, options):
    """The path of the synthetic copy of `dataset` (in its own layout) that a smoke run reads. Each copy, one per
    (seed, options, code of the datasets package), is written once under cache/synthetic/: a paper's experiments
    smoke on the same copy, and rendering one takes seconds. It is written beside its place and renamed into it,
    so a run never reads half a copy, and of two runs writing it at once the first to finish keeps its copy."""
    key = config_hash({"seed": seed, "options": options, "code": code_version(("datasets",))})
    folder = SYNTHETIC / f"{dataset}-{key}"
    marker = folder / "data_path.txt"  # the data's path inside the copy, written last
    if folder.exists() and not marker.exists():  # changed by hand: written again
        shutil.rmtree(folder)
    if not folder.exists():
        SYNTHETIC.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-pid{os.getpid()}-", dir=SYNTHETIC))
        data_path = datasets.write_synthetic(dataset, partial / "data", seed=seed, **options)
        (partial / marker.name).write_text(str(Path(data_path).relative_to(partial)))
        try:
            partial.rename(folder)
        except OSError:  # another run's copy is in place
            shutil.rmtree(partial)
    return folder / marker.read_text()


def data_identity(ds):
    """sha256 of what a run trains and is scored on: the prepared images, labels, splits,
    subjects and class names (a different or cut-down dataset gives another hash)."""
    as_text = lambda a: None if a is None else np.asarray(a).astype(str)
    return array_hash(ds.images, ds.labels, as_text(ds.splits), as_text(ds.subjects), as_text(ds.class_names))


def _carry_fold_result(fold_work_dir, run_dir):
    """Copy a finished fold's result into the unfinished run folder (resume/<fold>.pkl), so that the run folder
    alone resumes the run."""
    carried = run_dir / RESUME / f"{fold_work_dir.name}.pkl"
    if not carried.exists() and (fold_work_dir / FOLD_RESULT).exists():
        temporary = carried.with_suffix(".tmp")
        shutil.copyfile(fold_work_dir / FOLD_RESULT, temporary)
        os.replace(temporary, carried)


def _carried_run(experiment_dir, identity, skip=()):
    """The unfinished run folder of the run `identity` defines that carries its resume state (resume/), or None;
    says which carried runs of the experiment differ and in what. skip: run folders whose work folder is here
    (in progress, or already said)."""
    for stored in sorted(experiment_dir.glob(f"*/{RESUME}/identity.json")):
        run_dir = stored.parent.parent
        if run_dir in skip or not (run_dir / run_record.UNFINISHED).exists():
            continue
        try:
            carried = json.loads(stored.read_text())
        except (OSError, ValueError):
            carried = None
        if not isinstance(carried, dict):
            print(f"WARNING: damaged {stored}: the unfinished run {run_dir} cannot resume from it.", file=sys.stderr)
            continue
        # A run folder under this results root belongs to it, wherever the root was when the run started (a clone
        # elsewhere, another machine's layout).
        differs = [k for k in IDENTITY_FIELDS if k != "results" and carried.get(k) != identity[k]]
        if not differs:
            return run_dir
        print(f"Not resuming the unfinished run {run_dir}: it differs from this run in {', '.join(differs)}"
              + (" (check out the code it was run with: its resume/identity.json's git commit)" if "code" in differs
                 else "") + ".", file=sys.stderr)
    return None


def _work_root(identity):
    """The work folder of the run `identity` defines (its checkpoints, and run.json while it is unfinished)."""
    return WORK / identity["paper"] / identity["experiment"] / config_hash(identity)


def _work_and_run_folders(identity, experiment_dir, key):
    """(work folder, run folder) of the run `identity` defines: the interrupted run's, or new ones.

    Says which run it resumes, and which interrupted runs of the experiment it does not
    resume and why. The run folder is marked UNFINISHED until its report is written.
    """
    work_root = _work_root(identity)
    experiment_work = work_root.parent
    stored = work_root / "run.json"
    run = _run_or_set_aside(stored)
    if run is not None:
        if _alive(run["pid"]):
            raise SystemExit(f"This run is already in progress (process {run['pid']}, run folder {run['run_dir']}); "
                             "wait for it to end, or stop it first.")
        run_dir = Path(run["run_dir"])
        print(f"Resuming the interrupted run {run_dir} (work folder {work_root}).", file=sys.stderr)
    else:
        with_work_folder = set()
        for other in sorted(experiment_work.glob("*/run.json")):
            previous = None if places.DAMAGED in other.parent.name else _run_or_set_aside(other)
            if previous is not None:
                with_work_folder.add(Path(previous["run_dir"]))
            if previous is None or _alive(previous["pid"]):
                continue
            differs = [k for k in IDENTITY_FIELDS if previous["identity"][k] != identity[k]]
            print(f"Not resuming the interrupted run {previous['run_dir']}: it differs from this run in "
                  f"{', '.join(differs)}. Starting afresh (`python -m papers cleanup` lists leftovers).",
                  file=sys.stderr)
        shutil.rmtree(work_root, ignore_errors=True)  # a start killed before it wrote run.json
        work_root.mkdir(parents=True)
        run_dir = _carried_run(experiment_dir, identity, skip=with_work_folder)
        if run_dir is not None:
            finished = sorted((run_dir / RESUME).glob("*.pkl"))
            for carried in finished:
                (work_root / carried.stem).mkdir()
                shutil.copyfile(carried, work_root / carried.stem / FOLD_RESULT)
            print(f"Resuming the interrupted run {run_dir} from the {len(finished)} finished fold(s) its run folder "
                  "carries (its work folder is not here: the fold that was training starts again).", file=sys.stderr)
        else:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{key}"
            taken = 1
            while (experiment_dir / run_id).exists():  # the same config twice within a second
                taken += 1
                run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{key}-{taken}"
            run_dir = experiment_dir / run_id
    (run_dir / RESUME).mkdir(parents=True, exist_ok=True)
    carried = run_dir / RESUME / "identity.json"
    if not carried.exists():  # with the commit to check out where the code differs
        _write_json(carried, {**identity, "git": git_state()})
    (run_dir / run_record.UNFINISHED).write_text(
        f"This run has not finished: it is training, or it was killed.\nRerun the same command to resume it "
        f"(work folder {work_root}; where that is gone, from the finished folds in {RESUME}/), or delete it with "
        "`python -m papers cleanup --remove`.\n")
    # pid: neither a second copy of this run nor `cleanup` touches it while its process lives
    _write_json(stored, {"run_dir": str(run_dir), "identity": identity, "pid": os.getpid()})
    return work_root, run_dir


def _write_json(path, data):
    """Write beside, then rename: a kill never leaves half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)


RUN_FIELDS = {"run_dir": str, "pid": int, "identity": dict}
IDENTITY_FIELDS = ("paper", "experiment", "config", "smoke", "data", "code", "results")


def _read_run(stored):
    """(the run.json of a work folder or None when it has none, None or what is wrong with it when damaged)."""
    if not stored.exists():
        return None, None
    try:
        run = json.loads(stored.read_text())
    except (OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"
    if not isinstance(run, dict) or any(not isinstance(run.get(k), kind) for k, kind in RUN_FIELDS.items()) \
            or any(k not in run["identity"] for k in IDENTITY_FIELDS):
        return None, f"not a run record (fields {', '.join(RUN_FIELDS)}, identity {', '.join(IDENTITY_FIELDS)})"
    return run, None


def _run_or_set_aside(stored):
    """The work folder's run.json, or None; a damaged one is named on stderr and its work folder set aside
    (`python -m papers cleanup` lists it), so that it never blocks a later run."""
    run, damage = _read_run(stored)
    if damage is not None:
        aside = places.set_aside(stored.parent)
        print(f"WARNING: damaged {stored} ({damage}); its work folder was set aside as {aside}, and the run it "
              "belonged to cannot resume.", file=sys.stderr)
    return run


def record_crash(error):
    """Write into the run.json of this process's runs the exception that escaped, so that `cleanup` tells a
    crashed run (a cause to fix first) from a killed one (the command line calls it)."""
    for stored in WORK.glob("*/*/*/run.json"):
        run, _ = _read_run(stored)
        if run is not None and run["pid"] == os.getpid():
            run["crashed"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            _write_json(stored, run)


def cleanup(out_roots=None, remove=False):
    """List (and with `remove`, delete) what killed runs left: run folders marked UNFINISHED,
    work folders under cache/train and half-written synthetic copies. A run whose process still lives is left alone;
    a folder without metrics.json and without the marker (kept by hand) is listed, never
    deleted. Returns the lines it printed."""
    live_runs, crashed, lines = set(), {}, []
    works = sorted(p for p in WORK.glob("*/*/*") if p.is_dir()) if WORK.exists() else []
    run_dirs = set()
    for work in works:
        run, damage = _read_run(work / "run.json")
        if places.DAMAGED in work.name:
            status, removable = "damaged, set aside by a later run", True
        elif damage is not None:
            status, removable = f"damaged run.json ({damage}): this run cannot resume", True
        elif run is None:
            status, removable = "stale: no run.json (an older version's, or killed at its start)", True
        elif _alive(run.get("pid")):
            status, removable = f"in progress (pid {run['pid']})", False
            live_runs.add(run["run_dir"])
        elif run["identity"]["code"] != code_version():
            status, removable = "stale: the code changed since, a rerun would start afresh", True
        elif run.get("crashed"):
            status, removable = f"crashed: {run['crashed']} (fix that, then rerun the same command to resume)", True
        else:
            status, removable = "interrupted: rerun the same command to resume it", True
        if run:
            run_dirs.add(Path(run["run_dir"]))
            if run.get("crashed"):
                crashed[run["run_dir"]] = run["crashed"]
        lines.append(f"work folder {work}: {status}" + (f" (run folder {run['run_dir']})" if run else "")
                     + f"; holds {_progress(work)}")
        if remove and removable:
            shutil.rmtree(work)
            lines[-1] += " -> removed"
    default_roots = [DEFAULT_OUT, *sorted(places.RUNS.glob("*"))] if places.RUNS else []  # installed: none
    roots = [Path(r) for r in out_roots] if out_roots else default_roots
    for root in roots:
        run_dirs |= {p for p in root.glob("*/*/*") if p.is_dir() and p.parts[-3] != places.ABLATIONS}
        run_dirs |= {p for p in (root / places.ABLATIONS).glob("*/*/*") if p.is_dir()}
    for run_dir in sorted(d for d in run_dirs if d.is_dir() and not (d / "metrics.json").exists()):
        if not (run_dir / run_record.UNFINISHED).exists():
            lines.append(f"run folder {run_dir}: no metrics.json and no {run_record.UNFINISHED} marker (kept by hand?): kept")
        elif str(run_dir) in live_runs:
            lines.append(f"run folder {run_dir}: in progress")
        else:
            how = f"crashed: {crashed[str(run_dir)]}" if str(run_dir) in crashed else "killed"
            folds, git = run_record.carried(run_dir)
            lines.append(f"run folder {run_dir}: unfinished ({how})" + (
                f", carries {folds} finished fold(s): the same command resumes it at {_commit_in_words(git)}"
                if folds else ""))
            if remove:
                shutil.rmtree(run_dir)
                lines[-1] += " -> removed"
    for partial in sorted(SYNTHETIC.glob(".*")) if SYNTHETIC.exists() else []:
        pid = partial.name.rpartition("-pid")[2].partition("-")[0]
        if pid.isdigit() and _alive(int(pid)):
            lines.append(f"synthetic copy {partial}: being written (pid {pid})")
            continue
        lines.append(f"synthetic copy {partial}: half-written by a smoke run that was killed")
        if remove:
            shutil.rmtree(partial)
            lines[-1] += " -> removed"
    if not lines:
        lines.append("nothing left over by killed runs")
    elif not remove:
        lines.append("`python -m papers cleanup --remove` deletes the unfinished run folders, the work folders "
                     "(those runs can then no longer resume) and half-written synthetic copies.")
    print("\n".join(lines))
    return lines


def _commit_in_words(git):
    """A carried run's git state (`record.carried`) in words."""
    if not git or not git.get("commit"):
        return "its code (no commit recorded)"
    return f"commit {git['commit'][:10]}" + (" (with changes not committed)" if git.get("dirty") else "")


def _progress(work):
    """What a work folder holds, in words: its finished folds and the epoch each training in progress reached
    (what removing it throws away)."""
    folds = sorted(p for p in work.iterdir() if p.is_dir())
    unfinished = [fold for fold in folds if not (fold / FOLD_RESULT).exists()]
    training = []
    for checkpoint in sorted(c for fold in unfinished for c in fold.rglob("checkpoint")):
        with contextlib.suppress(ValueError):  # a damaged checkpoint is named when its training restarts
            state = Checkpoint.read_state(checkpoint)
            if state:
                training.append(f"{checkpoint.parent.relative_to(work)} at epoch {state['epochs_done']}")
    return (f"{len(folds) - len(unfinished)} finished fold(s)"
            + (f", in training: {', '.join(training)}" if training else ""))


def _alive(pid):
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
