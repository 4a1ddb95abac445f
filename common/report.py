"""Reports: results/<paper>/<experiment>/<run_id>/ and the scoreboard results/README.md.

A run folder holds report.md (claims table: reported, achieved mean and 95% CI,
difference, verdict), metrics.json (fields fixed in SPEC.md), the config, the
environment, plots and the deviations from the paper's protocol.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from common import plots
from common.claims import NOT_CHECKABLE, load_claims, verdict
from common.training import environment

PAPERS_DIR = Path(__file__).resolve().parents[1] / "papers"


def claims_path(paper):
    return PAPERS_DIR / paper / "claims.yaml"


def compare_claims(paper, experiment, metrics, smoke):
    """Each claim this experiment checks, with the achieved summary and a verdict."""
    path = claims_path(paper)
    if not path.exists():
        return []
    rows = []
    for claim in load_claims(path)["claims"]:
        if claim.get("experiment") != experiment:
            continue
        achieved = metrics.get(claim["metric"])
        row = {"id": claim["id"], "source": claim["source"], "metric": claim["metric"], "unit": claim.get("unit", "fraction"),
               "printed": claim["printed"], "reported": claim["reported"], "achieved": achieved}
        if smoke:
            row["verdict"], row["why"] = NOT_CHECKABLE, "synthetic data (smoke run)"
        elif achieved is None or achieved.get("mean") is None:
            row["verdict"], row["why"] = NOT_CHECKABLE, f"this run produced no {claim['metric']}"
        else:
            row["verdict"] = verdict(claim["reported"], achieved, claim.get("tolerance"), row["unit"])
            row["difference"] = achieved["mean"] - claim["reported"]
        rows.append(row)
    return rows


def automatic_deviations(exp, config, dataset_summary):
    """Deviations the runner can see: overridden settings and the data actually read."""
    found = []
    for key, value in _flatten(config).items():
        paper_value = _flatten(exp.config).get(key)
        if key in _flatten(exp.config) and paper_value != value:
            found.append(f"`{key}` = {value} in this run; the experiment's paper recipe says {paper_value}.")
    skipped = len(dataset_summary["skipped"])
    found.append(f"Data read: {dataset_summary['total']} items from {dataset_summary['path']}"
                 f"{f', {skipped} skipped (see metrics.json)' if skipped else ''}.")
    return found


def _flatten(d, prefix=""):
    flat = {}
    for k, v in d.items():
        if isinstance(v, dict):
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def write_run(run_dir, exp, config, key, smoke, dataset_summary, ds, folds, results, summary):
    run_dir = Path(run_dir)
    metrics = summary["metrics"]
    env = environment()
    claims = compare_claims(exp.paper, exp.name, metrics, smoke)
    deviations = ([f"Smoke run on synthetic data written in the {exp.dataset} layout: "
                   "numbers check the pipeline, not the paper."] if smoke else [])
    deviations += list(exp.deviations) + automatic_deviations(exp, config, dataset_summary)
    first = next(iter(results.values()))
    epochs = [r.epochs for r in results.values()]
    train_seconds = float(sum(r.train_seconds for r in results.values()))
    per_class = {c: {k: metrics[f"per_class.{c}.{k}"]["mean"] for k in ("precision", "recall", "f1")}
                 for c in ds.class_names if f"per_class.{c}.precision" in metrics}
    record = {
        "paper": exp.paper, "experiment": exp.name, "title": exp.title, "run_id": run_dir.name,
        "config_hash": key, "smoke": smoke, "written": time.strftime("%Y-%m-%d %H:%M:%S"),
        "dataset": exp.dataset, "dataset_summary": {k: v for k, v in dataset_summary.items() if k != "skipped"},
        "skipped": dataset_summary["skipped"][:1000], "protocol": config["protocol"],
        "backend": env["backend"], "device": env["device"], "epochs": max(epochs) if epochs else 0,
        "epochs_per_fold": epochs, "train_seconds": train_seconds,
        "metrics": metrics, "per_class": per_class, "confusion_matrix": summary["confusion_matrix"],
        "class_names": list(ds.class_names),
        "folds": [{"name": f.name, "train": len(f.train), "val": len(f.val), "test": len(f.test),
                   "accuracy": summary["per_fold"][f.name]["accuracy"]} for f in folds],
        "claims": [{k: row.get(k) for k in ("id", "metric", "reported", "printed", "unit", "achieved", "verdict", "why")}
                   for row in claims],
        "deviations": deviations, "config": config, "environment": env,
    }
    (run_dir / "metrics.json").write_text(json.dumps(record, indent=1, default=_json_default))
    (run_dir / "config.json").write_text(json.dumps(config, indent=1))
    (run_dir / "environment.json").write_text(json.dumps(env, indent=1))
    _write_plots(run_dir, ds.class_names, results, summary)
    (run_dir / "report.md").write_text(_markdown(record, exp, claims, run_dir))
    write_scoreboard(run_dir.parents[2])


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _write_plots(run_dir, class_names, results, summary):
    plots.confusion(summary["confusion_matrix"], class_names, run_dir / "confusion_matrix.png",
                    title=f"Test confusion, summed over {len(results)} fold(s)/run(s)")
    y_true = np.concatenate([r.y_true for r in results.values()])
    y_score = np.concatenate([r.y_prob for r in results.values()])
    plots.roc_pr(y_true, y_score, class_names, run_dir / "roc.png", run_dir / "pr.png")
    histories = {name: r.history for name, r in results.items() if r.history}
    if histories:
        plots.training_curves(histories, run_dir / "training_curves.png")
    trained = [r for r in results.values() if r.train_y_true is not None]
    if trained:
        from common.metrics import confusion_matrix
        cm = np.sum([confusion_matrix(r.train_y_true, r.train_y_prob.argmax(1), len(class_names)) for r in trained], 0)
        plots.confusion(cm, class_names, run_dir / "train_confusion_matrix.png", title="Training-set confusion")


def _fmt(value, unit="fraction"):
    """Fractions as percentages; counts, losses and rates as plain numbers."""
    if value is None:
        return "-"
    if unit != "fraction" or abs(value) > 1.5:
        if float(value).is_integer():
            return f"{value:,.0f}"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"
    return f"{100 * value:.2f}%"


def _achieved(summary, unit="fraction"):
    if not summary or summary.get("mean") is None:
        return "-"
    lo, hi = summary["ci95"]
    if summary["n"] <= 1:
        return f"{_fmt(summary['mean'], unit)} (1 run)"
    return f"{_fmt(summary['mean'], unit)} [{_fmt(lo, unit)}, {_fmt(hi, unit)}] (n={summary['n']})"


def _metric_unit(name, summary):
    """A metric without a claim: losses are plain numbers; anything in 0..1.5 is a fraction."""
    return "plain" if "loss" in name or abs(summary["mean"]) > 1.5 else "fraction"


def _markdown(record, exp, claims, run_dir):
    m = record["metrics"]
    ds = record["dataset_summary"]
    lines = [f"# {exp.title}", "",
             f"Paper `{exp.paper}`, experiment `{exp.name}`, run `{record['run_id']}`"
             f"{' (SMOKE RUN on synthetic data)' if record['smoke'] else ''}.", "",
             f"- Dataset: `{record['dataset']}` at `{ds['path']}`: {ds['total']} items read"
             f" ({len(record['skipped'])} skipped); splits {ds['splits']}.",
             f"- Protocol: `{json.dumps(record['protocol'])}`; folds/runs: {len(record['folds'])}.",
             f"- Device: {record['device']}, backend {record['backend']}; epochs per fold {record['epochs_per_fold']};"
             f" training time {record['train_seconds']:.0f} s.",
             ]
    if "throughput_images_per_s" in m:
        lines.append(f"- Training throughput: {m['throughput_images_per_s']['mean']:.1f} images/s on this device.")
    lines += ["", "## Claims: reported vs achieved", "",
              "Achieved: mean [95% CI] over folds/runs. Verdict: *reproduced* when the reported value lies in the "
              "achieved 95% CI (or within the stated tolerance of a single run).", "",
              "| claim | source | metric | reported | achieved | difference | verdict |", "|---|---|---|---|---|---|---|"]
    for row in claims:
        diff = row.get("difference")
        shown = "-" if diff is None else f"{100 * diff:+.2f} pts" if row["unit"] == "fraction" else f"{diff:+.3g}"
        lines.append(f"| {row['id']} | {row['source']} | {row['metric']} | {row['printed']} | "
                     f"{_achieved(row['achieved'], row['unit'])} | {shown} | "
                     f"{row['verdict']}{' (' + row['why'] + ')' if row.get('why') else ''} |")
    if not claims:
        lines.append("| (no claim of the paper is checked by this experiment) | | | | | | |")
    lines += ["", "## All metrics", "", "| metric | mean | std | 95% CI | n |", "|---|---|---|---|---|"]
    for name, s in m.items():
        if name.startswith("per_class.") or s["mean"] is None:
            continue
        unit = _metric_unit(name, s)
        ci = f"[{_fmt(s['ci95'][0], unit)}, {_fmt(s['ci95'][1], unit)}]" if s["n"] > 1 else "- (1 run)"
        lines.append(f"| {name} | {_fmt(s['mean'], unit)} | {_fmt(s['std'], unit)} | {ci} | {s['n']} |")
    lines += ["", "## Per class (mean over folds/runs)", "", "| class | precision | recall | specificity | F1 | ROC AUC | PR AP |",
              "|---|---|---|---|---|---|---|"]
    for c in record["class_names"]:
        get = lambda k: _fmt((m.get(f"per_class.{c}.{k}") or {}).get("mean"))
        lines.append(f"| {c} | {get('precision')} | {get('recall')} | {get('specificity')} | {get('f1')} | "
                     f"{get('roc_auc')} | {get('pr_ap')} |")
    lines += _paper_per_class_tables(exp, record)
    names = record["class_names"]
    lines += ["", "## Confusion matrix (test, summed over folds/runs; rows true, columns predicted)", "",
              "| true \\ predicted | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, row in zip(names, record["confusion_matrix"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "## Figures", ""]
    lines += [f"![{p.stem}]({p.name})" for p in sorted(run_dir.glob("*.png"))]
    lines += ["", "## Deviations from the paper's protocol", ""] + [f"- {d}" for d in record["deviations"]]
    lines += ["", "## Per fold / run", "", "| fold | train | val | test | accuracy |", "|---|---|---|---|---|"]
    lines += [f"| {f['name']} | {f['train']} | {f['val']} | {f['test']} | {_fmt(f['accuracy'])} |" for f in record["folds"]]
    lines += ["", "## Environment", "", "```", json.dumps(record["environment"], indent=1), "```",
              "", "Config: `config.json`; every number above: `metrics.json`.", ""]
    return "\n".join(lines)


def _paper_per_class_tables(exp, record):
    """The paper's printed per-class table for this dataset, beside ours."""
    path = claims_path(exp.paper)
    if not path.exists():
        return []
    lines = []
    for table in load_claims(path)["per_class_tables"]:
        if table.get("dataset") != exp.dataset:
            continue
        lines += ["", f"### Beside the paper's {table['source']} ({table['id']})", "",
                  "| class | paper P | ours P | paper R | ours R | paper F1 | ours F1 | paper support | our test support |",
                  "|---|---|---|---|---|---|---|---|---|"]
        supports = dict(zip(record["class_names"], np.sum(record["confusion_matrix"], axis=1).tolist()))
        for cls, row in table["rows"].items():
            ours = record["per_class"].get(cls, {})
            lines.append(f"| {cls} | {_fmt(row.get('precision'))} | {_fmt(ours.get('precision'))} | "
                         f"{_fmt(row.get('recall'))} | {_fmt(ours.get('recall'))} | {_fmt(row.get('f1'))} | "
                         f"{_fmt(ours.get('f1'))} | {row.get('support', '-')} | {supports.get(cls, '-')} |")
    return lines


def rewrite_run(run_dir, exp):
    """Re-render a run's report from its metrics.json with the current claims file and verdict
    rules (after a claim is corrected, say): the measured numbers are not touched."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "metrics.json").read_text())
    claims = compare_claims(exp.paper, exp.name, record["metrics"], record["smoke"])
    record["claims"] = [{k: row.get(k) for k in ("id", "metric", "reported", "printed", "unit", "achieved", "verdict", "why")}
                        for row in claims]
    (run_dir / "metrics.json").write_text(json.dumps(record, indent=1, default=_json_default))
    (run_dir / "report.md").write_text(_markdown(record, exp, claims, run_dir))


def latest_runs(root):
    """{(paper, experiment): metrics.json of its newest run} under a results root."""
    newest = {}
    for path in sorted(Path(root).glob("*/*/*/metrics.json")):
        record = json.loads(path.read_text())
        newest[(record["paper"], record["experiment"])] = (path.parent, record)
    return newest


def write_scoreboard(root):
    """results/README.md: every paper's claims with the verdict of its newest run."""
    root = Path(root)
    lines = ["# Scoreboard", "", "The newest run of each experiment; each row is one claim of the paper. "
             "Written by the suite after every run (`python -m papers scoreboard`).", "",
             "Verdicts: *reproduced* = the paper's number lies in our 95% CI (or within the claim's tolerance of a "
             "single run); *not reproduced (below/above)* = ours is below/above it; *inconclusive* = our CI is wider "
             "than +-10 points, so it decides nothing; *not checkable* = data or detail unavailable. The audit of the "
             "papers' own numbers: [audit.md](audit.md).", "",
             "| paper | experiment | claim | reported | achieved (95% CI) | verdict | run |", "|---|---|---|---|---|---|---|"]
    for (paper, experiment), (run_dir, record) in sorted(latest_runs(root).items()):
        link = run_dir.relative_to(root) / "report.md"
        smoke = " (smoke)" if record.get("smoke") else ""
        if not record["claims"]:
            acc = record["metrics"].get("accuracy")
            lines.append(f"| {paper} | {experiment}{smoke} | accuracy (no claim) | - | {_achieved(acc)} | - | [{record['run_id']}]({link}) |")
        for c in record["claims"]:
            lines.append(f"| {paper} | {experiment}{smoke} | {c['id']} | {c.get('printed', c['reported'])} | {_achieved(c['achieved'], c.get('unit', 'fraction'))} | "
                         f"{c['verdict']} | [{record['run_id']}]({link}) |")
    (root / "README.md").write_text("\n".join(lines) + "\n")
    return root / "README.md"
