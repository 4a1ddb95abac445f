"""One run's report.md (and an ablation table): a rendering of its run record.

Nothing here measures or decides: the numbers come from the run record
(`common.harness.run.record`), the verdicts from `common.harness.judge.verdicts`, the paper's numbers from its
claims file (`common.harness.judge.claims`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common.harness.judge.claims import RATE_UNITS, claims_of
from common.harness.judge.verdicts import DEGENERATE, NOT_COMPARABLE, comparability_reasons
from common.harness.report.cells import (
    achieved,
    count,
    difference,
    fmt,
    interval,
    metric_unit,
    plain,
    quote,
    reported,
    verdict_text,
)
from common.harness.run.provenance import reproduced_by
from common.harness.run.record import RunRecord
from common.toolkit.eval import plots
from common.toolkit.eval.metrics import confusion_matrix

# ---- one run ---------------------------------------------------------------------------------------

def write_run(run_dir, record, results=None):
    """Write the record (judged already: `common.harness.run.record`) as metrics.json, its config, environment,
    figures and report.md. The scoreboard is the runner's to rewrite, once the run is marked finished."""
    run_dir = Path(run_dir)
    record.run_id = run_dir.name
    record.write(run_dir)
    (run_dir / "config.json").write_text(json.dumps(record.config, indent=1))
    (run_dir / "environment.json").write_text(json.dumps(record.environment, indent=1))
    if results is not None:
        _write_plots(run_dir, record, results)
    (run_dir / "report.md").write_text(markdown(record, run_dir))


def _write_plots(run_dir, record, results):
    names = record.class_names
    plots.confusion(np.asarray(record.confusion_matrix), names, run_dir / "confusion_matrix.png",
                    title=f"Test confusion, each of {record.test_items} test items once ({len(results)} run(s))")
    y_true = np.concatenate([r.y_true for r in results.values()])
    y_score = np.concatenate([r.y_prob for r in results.values()])
    plots.roc_pr(y_true, y_score, names, run_dir / "roc.png", run_dir / "pr.png")
    histories = {name: r.history for name, r in results.items() if r.history}
    if histories:
        plots.training_curves(histories, run_dir / "training_curves.png")
    trained = [r for r in results.values() if r.train_y_true is not None]
    if trained:
        cm = np.sum([confusion_matrix(r.train_y_true, r.train_y_prob.argmax(1), len(names)) for r in trained], 0)
        plots.confusion(cm, names, run_dir / "train_confusion_matrix.png", title="Training-set confusion")


def standing(record):
    """(kind, why) of a run as evidence: "smoke", DEGENERATE, NOT_COMPARABLE (with the reasons) or "faithful"."""
    if record.smoke:
        return "smoke", ""
    if record.degenerate:
        return DEGENERATE, "; ".join(f"{fold}: {', '.join(why)}" for fold, why in record.degenerate.items())
    differences = comparability_reasons({"dataset": record.dataset}, record)
    return (NOT_COMPARABLE, differences) if differences else ("faithful", "")


def banner(record):
    """The warning a report opens with when its numbers are not evidence for the paper."""
    kind, why = standing(record)
    if kind == "smoke":
        return ["> **Smoke run on synthetic data.** Its numbers check the pipeline; they say nothing about the "
                "paper.", ""]
    if kind == DEGENERATE:
        return ["> **Degenerate run: its predictions carry no information**, so none of its numbers is evidence "
                f"for or against the paper. {why}.", ""]
    if kind == NOT_COMPARABLE:
        return [f"> **Not the paper's protocol** ({why}). Its numbers are shown, not judged.", ""]
    return []


def markdown(record, run_dir):
    m = record.metrics
    ds = record.dataset_summary
    lines = [f"# {record.title}", "", *banner(record),
             f"Paper `{record.paper}`, experiment `{record.experiment}`, run `{record.run_id}`.", "",
             f"- Dataset: `{record.dataset}` at `{ds['path']}`: {ds['total']} items read ({len(record.skipped)} "
             f"skipped); splits {ds['splits']}; {record.test_items} distinct test items.",
             f"- Protocol: `{json.dumps(record.protocol)}`; folds/runs: {len(record.folds)}.",
             f"- Device: {record.device}, backend {record.backend}; epochs per fold {record.epochs_per_fold}; "
             f"training time {record.train_seconds:.0f} s.",
             f"- Provenance: {_provenance(record.provenance)}.",
             f"- Reproduced by: {reproduced_by(record)}.", "",
             "## Recipe: this run beside the paper's", "",
             "| field | this run | judged against | whose |", "|---|---|---|---|"]
    lines += [f"| {f['label']} | {plain(f['run'])} | {plain(f['target'])} | "
              f"{'the paper' if f['source'] == 'paper' else 'our full recipe (the paper gives none)'} |"
              for f in record.recipe]
    lines += ["", "## Claims: reported vs achieved", "",
              "Achieved: mean [95% interval] (`common/harness/judge/intervals.py`: Wilson or bootstrap over test "
              "items for one run, runs and test items combined for several). Verdicts as defined in "
              "[the scoreboard](../../../README.md).", "",
              "| claim | source | measures | reported | achieved | difference | verdict | quote |",
              "|---|---|---|---|---|---|---|---|"]
    for row in record.claims:
        lines.append(f"| {row['id']} | {row['source']} | {row['measures']} {row['metric']} | {reported(row)} | "
                     f"{achieved(row['achieved'], row['unit'])} | {difference(row)} | {verdict_text(row)} | "
                     f"{quote(row['printed'])} |")
    if not record.claims:
        lines.append("| (no claim of the paper is checked by this experiment) | | | | | | | |")
    lines += ["", "## All metrics", "", "| metric | mean | std | 95% interval | n runs | interval from |",
              "|---|---|---|---|---|---|"]
    for name, s in m.items():
        if name.startswith("per_class.") or s["mean"] is None:
            continue
        unit = metric_unit(name)
        lines.append(f"| {name} | {fmt(s['mean'], unit)} | {fmt(s['std'], unit)} | {interval(s, unit)} | {s['n']} | "
                     f"{s.get('method', '')} |")
    lines += ["", "## Per class (mean over folds/runs)", "",
              "| class | precision | recall | specificity | F1 | ROC AUC | PR AP |", "|---|---|---|---|---|---|---|"]
    for c in record.class_names:
        get = lambda k: fmt((m.get(f"per_class.{c}.{k}") or {}).get("mean"))
        lines.append(f"| {c} | {get('precision')} | {get('recall')} | {get('specificity')} | {get('f1')} | "
                     f"{get('roc_auc')} | {get('pr_ap')} |")
    lines += _paper_per_class_tables(record)
    names = record.class_names
    lines += ["", f"## Confusion matrix (test; each of the {record.test_items} distinct test items counted once, "
              "split over the runs that tested it; rows true, columns predicted)", "",
              "| true \\ predicted | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, row in zip(names, record.confusion_matrix):
        lines.append(f"| {name} | " + " | ".join(count(v) for v in row) + " |")
    lines += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in sorted(run_dir.glob("*.png"))]
    lines += ["", "## Deviations from the paper's protocol", ""] + [f"- {d}" for d in record.deviations]
    # each fold's own rates beside its accuracy (a run from before 2026-12-06 recorded none)
    rates = sorted({k for f in record.folds for k in f.get("extra", {})
                    if metric_unit(k) in RATE_UNITS})
    lines += ["", "## Per fold / run", "", "| fold | train | val | test | accuracy | " + " | ".join(rates)
              + (" | " if rates else "") + "epochs | resumed from epoch |", "|---" * (7 + len(rates)) + "|"]
    lines += [f"| {f['name']} | {f['train']} | {f['val']} | {f['test']} | {fmt(f['accuracy'])} | "
              + "".join(f"{fmt(f.get('extra', {}).get(k), metric_unit(k))} | " for k in rates)
              + f"{f.get('epochs', '-')} | {f.get('resumed_from_epoch') or '-'} |" for f in record.folds]
    lines += ["", "## Environment", "", "```", json.dumps(record.environment, indent=1), "```",
              "", "Config: `config.json`; every number above: `metrics.json`.", ""]
    return "\n".join(lines)


def _paper_per_class_tables(record):
    """The paper's printed per-class table for this dataset, beside ours."""
    claims = claims_of(record.paper)
    lines = []
    for table in (claims or {}).get("per_class_tables", []):
        if table.get("dataset") != record.dataset:
            continue
        lines += ["", f"### Beside the paper's {table['source']} ({table['id']})", "",
                  "| class | paper P | ours P | paper R | ours R | paper F1 | ours F1 | paper support | our test support |",
                  "|---|---|---|---|---|---|---|---|---|"]
        supports = dict(zip(record.class_names, np.sum(record.confusion_matrix, axis=1).tolist()))
        for cls, row in table["rows"].items():
            ours = record.per_class.get(cls, {})
            lines.append(f"| {cls} | {fmt(row.get('precision'))} | {fmt(ours.get('precision'))} | "
                         f"{fmt(row.get('recall'))} | {fmt(ours.get('recall'))} | {fmt(row.get('f1'))} | "
                         f"{fmt(ours.get('f1'))} | {row.get('support', '-')} | {count(supports.get(cls, 0))} |")
    return lines



def _provenance(p):
    git = p.get("git") or {}
    commit = f"commit {git['commit'][:10]}{' (dirty tree)' if git.get('dirty') else ''}" if git else "no git commit"
    data = f"data sha256 {p['data_sha256'][:12]}" if p.get("data_sha256") else "data hash not recorded"
    command = f"command `{p['command']}`" if p.get("command") else "command not recorded"
    return f"{commit}; {command}; {data}" + (f" ({p['note']})" if p.get("note") else "")


# ---- ablations: the printed recipe with one part changed at a time --------------------------------------------

def write_ablations(path, exp, run_dirs):
    """A table of short runs of `exp`'s printed recipe and of each ablation ({what changes: run folder}): which
    learned and which collapsed, so a report can say which part of the printed recipe makes it fail."""
    path = Path(path)
    records = {change: RunRecord.read(run_dir) for change, run_dir in run_dirs.items()}
    epochs = {r.epochs for r in records.values()}
    lines = [f"# Ablations of {exp.paper}/{exp.name}", "",
             f"Short runs ({', '.join(map(str, sorted(epochs)))} epochs of the first repeat or fold, so *not "
             "comparable* with the paper's numbers), each changing one part of the printed recipe. Where the "
             "printed recipe collapses and a change learns, that part of the recipe causes the collapse. Written "
             f"by `python -m papers {exp.paper} ablate -e {exp.name}`.", "",
             "| change | test accuracy [95% interval] | training accuracy | validation accuracy | share of the most "
             "predicted class | collapsed | run |", "|---|---|---|---|---|---|---|"]
    for change, record in records.items():
        predicted = np.asarray(record.confusion_matrix).sum(axis=0)
        metric = lambda name: fmt(record.metrics[name]["mean"]) if name in record.metrics else "-"
        collapsed = "; ".join(", ".join(why) for why in record.degenerate.values())
        link = os.path.relpath(Path(run_dirs[change]) / "report.md", path.parent)
        lines.append(f"| {change} | {achieved(record.metrics['accuracy'])} | {metric('train_accuracy')} | "
                     f"{metric('val_accuracy')} | {fmt(predicted.max() / predicted.sum())} | "
                     f"{'yes: ' + collapsed if collapsed else 'no'} | [{record.run_id}]({link}) |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
