"""Every run at once: results/README.md (the scoreboard: each claim judged on the run that speaks for it)
and results/<paper>/RUNS.md (each paper's runs index)."""
from __future__ import annotations

import json
from pathlib import Path

from common.harness.judge.claims import RATE_UNITS, claims_of
from common.harness.judge.verdicts import (
    ABOVE,
    BELOW,
    DEGENERATE,
    INCONCLUSIVE,
    MEANINGS,
    NOT_CHECKABLE,
    OPEN_SETTINGS_RULE,
    REPRODUCED,
    SAMPLE_RULE,
    claim_fields,
    judge,
    runs_alone,
)
from common.harness.report.cells import achieved, plain, reported, verdict_text
from common.harness.report.run import standing
from common.harness.run.provenance import changes_since
from common.harness.run.record import RESUME, UNFINISHED, RunRecord, carried
from common.toolkit.eval.plots import claims_forest

FIGURE = "scoreboard.png"
VERDICT_COLORS = {REPRODUCED: "tab:green", BELOW: "tab:red", ABOVE: "tab:purple", INCONCLUSIVE: "tab:orange",
                  DEGENERATE: "tab:grey"}  # the verdicts that decide a claim (or show the recipe failed)


def finished_runs(root):
    """{(paper, experiment): [RunRecord, ...]} of the finished runs under a results root (a folder without
    metrics.json, or still marked unfinished by the runner, is left out)."""
    runs = {}
    for path in sorted(Path(root).glob("*/*/*/metrics.json")):
        if (path.parent / UNFINISHED).exists():  # killed while its report was being written
            continue
        record = RunRecord.read(path.parent)
        runs.setdefault((record.paper, record.experiment), []).append(record)
    return runs


def speaking_run(records):
    """The most faithful finished run (then the newest among equals): a cut-down or smoke run never
    displaces a more faithful one."""
    return max(records, key=lambda r: r.faithfulness) if records else None


def write_scoreboard(root):
    """results/README.md: every claim of every paper with runs here, judged on the run that speaks for it;
    and results/<paper>/RUNS.md, every run with its faithfulness."""
    root = Path(root)
    runs = finished_runs(root)
    papers = sorted({paper for paper, _ in runs})
    lines = ["# Scoreboard", "",
             "Every claim of each paper, judged on the most faithful finished run of its experiment (then the "
             "newest). Every run, cut-down and smoke runs included, is listed in each paper's runs index. Written "
             "by the suite after every run (`python -m papers scoreboard`); the audit of the papers' own numbers: "
             "[audit.md](audit.md).", "", "Verdicts:", ""]
    lines += [f"- *{verdict}*: {meaning}" for verdict, meaning in MEANINGS.items()]
    lines += ["", SAMPLE_RULE, "", OPEN_SETTINGS_RULE]
    lines += ["", "Reported and achieved are in one unit (rates as percentages, losses and counts as numbers); "
              "achieved is the mean [95% interval] over runs and test items. One section per paper (a paper's "
              "README links its own)."]
    counts, decided = {}, []
    for paper in papers:
        claims = claims_of(paper) or {"claims": []}
        rows = []
        for claim in claims["claims"]:
            run = speaking_run(runs.get((paper, claim["experiment"]), []))
            verdict, why = judge(claim, run)
            rows.append((claim["experiment"] or "-", {**claim_fields(claim), "verdict": verdict, "why": why,
                                                      "achieved": run.metrics.get(claim["metric"]) if run else None},
                         run))
            counts.setdefault(paper, {}).setdefault(verdict, 0)
            counts[paper][verdict] += 1
        for (p, experiment), records in sorted(runs.items()):
            if p == paper and experiment not in {c["experiment"] for c in claims["claims"]}:
                run = speaking_run(records)
                rows.append((experiment, {"id": "accuracy (no claim)", "measures": "test", "metric": "accuracy",
                                          "reported": None, "unit": "fraction", "achieved": run.metrics.get("accuracy"),
                                          "verdict": "-", "why": ""}, run))
        for experiment, row, _ in rows:
            if row["verdict"] in VERDICT_COLORS and row["unit"] in RATE_UNITS and row["achieved"]:
                point = {**row, "label": f"{paper} {experiment}: {row['id']}", **row["achieved"]}
                if runs_alone(row, row["achieved"]):  # too narrow to draw: the mean alone
                    point |= {"ci95": [None, None], "label": point["label"] + " (no interval)"}
                decided.append(point)
        # the claims a run can speak to first, those nothing here can check last
        rows.sort(key=lambda row: row[1]["verdict"] == NOT_CHECKABLE)
        lines += ["", f"## {paper}", "", f"Its runs: [{paper}/RUNS.md]({paper}/RUNS.md).", "",
                  "| experiment | claim | measures | reported | achieved [95% interval] | verdict | epochs run/paper "
                  "| repeats run/paper | dataset run/paper | device | run |", "|---" * 11 + "|"]
        lines += [_scoreboard_row(experiment, row, run) for experiment, row, run in rows]
        write_runs_index(root, paper, {e: r for (p, e), r in runs.items() if p == paper})
    findings = audit_counts(root)
    summary = ["", "| paper | " + " | ".join(MEANINGS) + " | audit findings |", "|---" * (len(MEANINGS) + 2) + "|"]
    summary += [f"| [{paper}](#{paper}) | " + " | ".join(str(counts.get(paper, {}).get(v, 0)) for v in MEANINGS)
                + f" | [{findings.get(paper, '-')}](audit.md#{paper}) |" for paper in papers]
    if decided:
        claims_forest(decided, VERDICT_COLORS, root / FIGURE)
        summary += ["", f"![The decided claims: the paper's number beside ours]({FIGURE})"]
    else:
        (root / FIGURE).unlink(missing_ok=True)  # no claim is decided: no figure, not a stale one
    at = lines.index("Verdicts:")
    lines[at:at] = ["Claims per verdict:", *summary, ""]
    (root / "README.md").write_text("\n".join(lines) + "\n")
    return root / "README.md"


def audit_counts(root):
    """Findings per paper in results/audit.json (`make audit`, no training): the papers' own numbers that fail."""
    path = Path(root) / "audit.json"
    if not path.exists():
        return {}
    return {paper: sum(not f["consistent"] for f in findings) for paper, findings in json.loads(path.read_text()).items()}


def _scoreboard_row(experiment, row, run):
    shown = reported(row) if row["reported"] is not None else "-"
    verdict = verdict_text(row) if row["verdict"] != "-" else "-"
    if run is None:
        return (f"| {experiment} | {row['id']} | {row['measures']} | {shown} | - | {verdict} | - | - | "
                f"- / {row.get('dataset', '-')} | - | - |")
    link = Path(run.paper) / run.experiment / run.run_id / "report.md"
    return (f"| {experiment} | {row['id']} | {row['measures']} | {shown} | "
            f"{achieved(row['achieved'], row['unit'])} | {verdict} | {_epochs(run)} | "
            f"{_runs(run, 'run')} / {_runs(run, 'target')} | {run.dataset} / {row.get('dataset', run.dataset)} | {run.device} | "
            f"[{run.run_id}]({link}) |")


def _epochs(run):
    """'70 / 300' epochs run / the paper's; where the paper gives no length, '100 / none (ours 100)'."""
    fields = {f["label"]: f for f in run.recipe}
    if "epochs" not in fields:
        return "- / -"
    field = fields["epochs"]
    paper = plain(field["target"]) if field["source"] == "paper" else f"none (ours {plain(field['target'])})"
    return f"{plain(field['run'])} / {paper}"


def _runs(run, side):
    """'15' repeats, or '1 x 10 folds': the run's or the judged-against recipe's number of runs."""
    fields = {f["label"]: f for f in run.recipe}
    repeats = plain(fields["repeats"][side]) if "repeats" in fields else "-"
    folds = fields.get("folds trained" if side == "run" else "folds")
    if folds and folds[side] and (side == "run" or folds["source"] == "paper"):
        return f"{repeats} × {folds[side]} folds"
    return repeats


def _code(record):
    git = record.provenance.get("git")
    made = git["commit"][:7] if git else "not recorded"
    before = [commit for commit, _, _ in changes_since(record)]
    return made + (f"; before {', '.join(before)} (today's code gives other numbers)" if before else "")


def under_way(paper_dir):
    """RUNS.md's lines on the unfinished run folders that carry their resume state (committed at the end of a
    session, say): what each has finished and the commit the same command resumes it at. Empty when none."""
    rows = []
    for identity_file in sorted(paper_dir.glob(f"*/*/{RESUME}/identity.json")):
        run_dir = identity_file.parent.parent
        if not (run_dir / UNFINISHED).exists():
            continue
        folds, git = carried(run_dir)
        commit = "unreadable identity.json" if git is None else (git.get("commit") or "not recorded")[:10]
        rows.append(f"| {run_dir.parent.name} | {run_dir.name} | {folds} | {commit} |")
    if not rows:
        return []
    return ["", "## Under way", "", "Unfinished runs, not judged: each run folder carries its finished folds "
            "(`resume/`), and the same command at the same commit resumes it (the fold that was training starts "
            "again unless its work folder was kept).", "",
            "| experiment | run | finished folds | commit |", "|---|---|---|---|", *rows]


def write_runs_index(root, paper, runs_by_experiment):
    """results/<paper>/RUNS.md: every finished run, how faithful it is, and which one speaks."""
    lines = [f"# {paper}: every run", "", "Each experiment's runs, newest first. *Speaks* marks the run the "
             "scoreboard judges claims on (the most faithful, then the newest). Unfinished runs (a folder without "
             "metrics.json) are not judged; those that can resume are listed last, under way. *Code*: the commit "
             "whose code made the run (its report gives the command); a run made before a change that alters results "
             "reproduces only at its own code.", "",
             "| experiment | run | speaks | faithfulness | accuracy [95% interval] | epochs | device | written | code |",
             "|---|---|---|---|---|---|---|---|---|"]
    for experiment, records in sorted(runs_by_experiment.items()):
        speaking = speaking_run(records)
        for r in sorted(records, key=lambda r: r.written, reverse=True):
            kind, why = standing(r)
            status = {"smoke": "smoke run (synthetic data)", "faithful": "the paper's recipe"}.get(kind, f"{kind}: {why}")
            lines.append(f"| {experiment} | [{r.run_id}]({experiment}/{r.run_id}/report.md) | "
                         f"{'**yes**' if r is speaking else ''} | {status} | {achieved(r.metrics.get('accuracy'))} | "
                         f"{r.epochs_per_fold and max(r.epochs_per_fold)} | {r.device} | {r.written} | {_code(r)} |")
    lines += under_way(Path(root) / paper)
    path = Path(root) / paper / "RUNS.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
