"""The command line: `python -m papers ...` (the Makefile calls it).

    python -m papers list                          papers and their experiments
    python -m papers sdl_stn --help                a paper's experiments, datasets and options
    python -m papers sdl_stn reproduce             the paper's default experiments on real data
    python -m papers sdl_stn reproduce --experiment ckplus_subject_10fold --epochs 5
    python -m papers sdl_stn smoke                 every experiment on synthetic data, tiny
    python -m papers audit [paper]                 recompute what the printed numbers imply
    python -m papers demo                          one experiment per paper on synthetic data (a few minutes)
    python -m papers demo --all                    every paper's default experiments on synthetic data
    python -m papers bench [--quick]               benchmarks -> results/bench/
    python -m papers scoreboard                    rewrite results/README.md
    python -m papers rereport                      re-render reports after a claims fix

The paper registry is passed in by `papers/__main__.py`, so `common` never imports `papers`.
Keras and TensorFlow are imported by the commands that need them, never for --help.
Options are checked before anything runs or any folder is made (`common.harness.options`): a user's mistake
is one line that names it and the fix, never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from common.harness.options import COUNT_KEYS, budget, check_data, count, key_value, override_pairs, overrides_for
from common.toolkit import places
from datasets.base import DatasetError
from datasets.paths import CHECKOUT, DATA_DIR_VARIABLE, DEFAULT_DATA_DIR, SUBPATHS

ABLATION_EPOCHS = 20  # a collapse shows well within them
PAPER_ACTIONS = {
    "reproduce": "the paper's default experiments (or --experiment) on real data -> results/",
    "smoke": "every experiment (or --experiment) on synthetic data with a tiny config -> runs/smoke/",
    "audit": "recompute what the paper's printed numbers imply (no training)",
    "ablate": f"the printed recipe and each of its ablations (one part changed), {ABLATION_EPOCHS} epochs of the "
              "first repeat or fold each unless --epochs says otherwise, on real data -> results/ablations/",
}

# The suite's own commands (the others are the papers' names). Each imports Keras, `list` too (it reads the
# experiments); only --help does without.
SUITE_COMMANDS = {
    "list": "list papers and experiments",
    "audit": "check every paper's printed numbers against each other",
    "demo": "one experiment per paper on synthetic data, a few minutes (--all: every paper's default experiments)",
    "bench": "run the benchmarks, write runs/bench/*.json (--out results/bench: the committed figures)",
    "scoreboard": "rewrite results/README.md from the newest runs",
    "rereport": "re-render every report under results/ (and results/ablations/) with the current claims and verdict "
                "rules",
    "cleanup": "list (--remove: delete) unfinished run folders and work folders of killed runs",
}


def data_dir_default():
    """What --data-dir is when it is not given, in words (an installed suite has no default folder)."""
    if os.environ.get(DATA_DIR_VARIABLE):
        return f"${DATA_DIR_VARIABLE}, now {DEFAULT_DATA_DIR}"
    if CHECKOUT:
        return f"${DATA_DIR_VARIABLE}, else {DEFAULT_DATA_DIR} beside the checkout"
    return f"${DATA_DIR_VARIABLE}, which is not set: set it or pass --data-dir"


def experiments_epilog(index, default_experiments):
    """The paper's experiments and the datasets they read, for `python -m papers <paper> --help`."""
    width = max(map(len, index)) + 1
    lines = ["experiments (* = run by `reproduce` without --experiment):"]
    for name, (dataset, title) in index.items():
        mark = "*" if name in default_experiments else " "
        lines.append(f"  {name + mark:{width}s} {dataset:8s} {title}")
    used = dict.fromkeys(dataset for dataset, _ in index.values())
    lines += ["", f"datasets, under --data-dir (default: {data_dir_default()}):"]
    lines += [f"  {dataset:8s} {SUBPATHS[dataset]}" for dataset in used]
    return "\n".join(lines)


def build_parser(registry, experiments_of=None):
    """The command line. experiments_of: the papers whose experiments it lists and accepts (default all;
    `main` passes only the paper its command line names: reading them imports Keras, which the suite's own
    commands and the top-level --help do without)."""
    experiments_of = registry.PAPERS if experiments_of is None else experiments_of
    parser = argparse.ArgumentParser(prog="python -m papers", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n\n")[1:2]))
    sub = parser.add_subparsers(dest="command", required=True, metavar="command",
                                help="a paper (see `python -m papers <paper> --help`) or one of the suite's commands")
    for name, title in registry.PAPERS.items():
        index = registry.experiment_index(name) if name in experiments_of else {}
        epilog = experiments_epilog(index, registry.paper_module(name).DEFAULT_EXPERIMENTS) if index else None
        paper = sub.add_parser(name, help=title, description=f"{name}: {title}", epilog=epilog,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        paper.add_argument("action", choices=list(PAPER_ACTIONS), metavar="action",
                           help="; ".join(f"{a}: {what}" for a, what in PAPER_ACTIONS.items()))
        paper.add_argument("--experiment", "-e", action="append", choices=list(index),
                           metavar="NAME", help="experiment name (repeatable, listed below); default: the paper's "
                           "default experiments (reproduce) or all of them (smoke)")
        paper.add_argument("--dataset", choices=sorted({d for d, _ in index.values()}),
                           help="run the experiments on this dataset")
        paper.add_argument("--data-dir", help="folder holding the datasets in their usual sub-paths "
                                              f"(default: {data_dir_default()})")
        paper.add_argument("--data-path", help="the dataset file or folder itself (overrides --data-dir)")
        paper.add_argument("--epochs", type=count(COUNT_KEYS["epochs"]), help="override the number of training epochs")
        paper.add_argument("--repeats", type=count(COUNT_KEYS["protocol.repeats"]),
                           help="override the number of repeated runs")
        paper.add_argument("--folds", type=count(COUNT_KEYS["protocol.k"]), help="override k of a k-fold protocol")
        paper.add_argument("--folds-to-run", type=count(COUNT_KEYS["protocol.folds_to_run"]),
                           help="train and test only the first N of the k folds (a sample of the protocol at the "
                                "paper's k, judged on a wider interval when N >= 2)")
        paper.add_argument("--budget", type=budget, metavar="DURATION",
                           help="e.g. 90m or 2h: train as many of the protocol's repeats or folds as fit in it "
                                "(at least 2, a sample of the protocol), estimated from a short probe; if 2 do "
                                "not fit, say what would and start nothing")
        paper.add_argument("--seed", type=count(COUNT_KEYS["seed"]),
                           help="override the seed of splits, initialisation and shuffling")
        paper.add_argument("--set", action="append", default=[], type=key_value, metavar="KEY=VALUE",
                           help="override a config value, e.g. --set batch_size=64 --set protocol.k=5 "
                                "(an unknown key is an error that lists the known ones)")
        paper.add_argument("--out", help="results root (default in a source checkout: results/, smoke: "
                                          "runs/smoke/; an installed suite needs it)")
    suite = {name: sub.add_parser(name, help=what) for name, what in SUITE_COMMANDS.items()}
    suite["audit"].add_argument("paper", nargs="?", choices=list(registry.PAPERS))
    suite["audit"].add_argument("--out", type=Path, default=None,
                                help="folder for audit.md and audit.json (default: results/)")
    suite["demo"].add_argument("--all", action="store_true",
                               help="every paper's default experiments (about 12 min on 2 cores)")
    suite["demo"].add_argument("--out", help="results root (default in a source checkout: runs/demo/)")
    suite["bench"].add_argument("--quick", action="store_true", help="small inputs (for CI)")
    suite["bench"].add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    suite["bench"].add_argument("--out", help="folder of the JSON files (default in a source checkout: runs/bench/)")
    suite["cleanup"].add_argument("--out", action="append",
                                  help="results root to scan (repeatable; default: results/ and runs/*)")
    suite["cleanup"].add_argument("--remove", action="store_true",
                                  help="delete them (those runs can no longer resume)")
    return parser


def main(argv, registry):
    args = build_parser(registry, [a for a in argv[:1] if a in registry.PAPERS]).parse_args(argv)
    if args.command == "list":
        for name, title in registry.PAPERS.items():
            module = registry.paper_module(name)
            print(f"{name}: {title}")
            for exp_name, (dataset, exp_title) in registry.experiment_index(name).items():
                default = " (default)" if exp_name in module.DEFAULT_EXPERIMENTS else ""
                print(f"    {exp_name:28s} {dataset:9s} {exp_title}{default}")
        return 0
    if args.command == "audit" or getattr(args, "action", None) == "audit":
        one = args.command if args.command != "audit" else args.paper  # `<paper> audit` or `audit [paper]`
        return run_audit([one] if one else list(registry.PAPERS), registry, getattr(args, "out", None))
    if args.command in ("rereport", "scoreboard") and places.RESULTS is None:
        raise SystemExit(f"{args.command}: works on a source checkout's results/; an installed suite writes the "
                         "scoreboard of each --out root beside its reports")
    if args.command == "rereport":
        from common.harness.report.run import write_run
        from common.harness.report.scoreboard import write_scoreboard
        from common.harness.run.record import RunRecord, rederive
        from common.harness.run.runner import DEFAULT_OUT
        for root in (DEFAULT_OUT, DEFAULT_OUT / places.ABLATIONS):  # the ablation runs have a scoreboard of their own
            for path in sorted(root.glob("*/*/*/metrics.json")):
                record = RunRecord.read(path.parent)
                write_run(path.parent, rederive(record, registry.experiments(record.paper)[record.experiment]))
                print(f"re-rendered {path.parent}")
            if root.is_dir():
                print(write_scoreboard(root))
        return 0
    if args.command == "cleanup":
        from common.harness.run.runner import cleanup
        cleanup(args.out, remove=args.remove)
        return 0
    if args.command == "scoreboard":
        from common.harness.report.scoreboard import write_scoreboard
        from common.harness.run.runner import DEFAULT_OUT
        print(write_scoreboard(DEFAULT_OUT))
        return 0
    if args.command == "bench":
        from common.harness.bench import SHARED_BENCHMARKS, run_benchmarks
        benchmarks = dict(SHARED_BENCHMARKS)
        benchmarks |= {f"{p}/{n}": f for p in registry.PAPERS
                      for n, f in getattr(registry.paper_module(p), "BENCHMARKS", {}).items()}
        unknown = sorted(set(args.only or ()) - set(benchmarks))
        if unknown:
            raise SystemExit(f"bench --only: no benchmark {', '.join(unknown)}; known: {', '.join(benchmarks)}")
        chosen = {name: f for name, f in benchmarks.items() if not args.only or name in args.only}
        out = places.out_root(args.out, places.SCRATCH["bench"], "bench")
        records = run_benchmarks(chosen, quick=args.quick, out_dir=out)
        return 1 if any(r["status"] == "failed" for r in records) else 0  # "skipped" (e.g. no `fer`) is not a failure
    if args.command == "demo":
        return run_demo(registry, places.out_root(args.out, places.SCRATCH["demo"], "demo"), every_default=args.all)
    return run_paper(registry, args)


def run_paper(registry, args):
    module = registry.paper_module(args.command)
    smoke = args.action == "smoke"
    index = registry.experiment_index(args.command)
    names = args.experiment or (list(index) if smoke else module.DEFAULT_EXPERIMENTS)
    if args.dataset:
        names = [n for n, (dataset, _) in index.items() if dataset == args.dataset and
                 (not args.experiment or n in args.experiment)]
        if not names:
            raise SystemExit(f"{args.command}: no experiment {args.experiment} on dataset {args.dataset!r}")
    out = places.out_root(args.out, places.SCRATCH["smoke"] if smoke else places.RESULTS,
                          f"{args.command} {args.action}")
    if not smoke:
        for name in names:
            check_data(f"{args.command}/{name}", index[name][0], args.data_dir, args.data_path)
    experiments = [module.EXPERIMENTS[name] for name in names]
    pairs = override_pairs(args)
    overrides = [overrides_for(exp, pairs, smoke) for exp in experiments]  # all checked before any trains
    if args.action == "ablate":
        return run_ablations(experiments, overrides, out, args)
    run_all(zip(experiments, overrides), smoke=smoke, out_root=out, data_dir=args.data_dir,
            data_path=args.data_path, budget=args.budget)
    return 0


def run_ablations(experiments, overrides, out_root, args):
    """Each experiment's printed recipe and each of its ablations, short runs of its first repeat or fold into
    <out>/ablations/, and a table of what each learned: results/<paper>/ablations-<experiment>.md."""
    from common.harness.report.run import write_ablations
    from common.toolkit.experiment import deep_merge
    for exp, user in zip(experiments, overrides):
        if not exp.ablations:
            raise SystemExit(f"{exp.paper}/{exp.name} has no ablations (an Experiment's `ablations`)")
        first_run = {"folds_to_run": 1} if "k" in exp.config["protocol"] else {"repeats": 1}
        short = deep_merge({"epochs": ABLATION_EPOCHS, "protocol": first_run}, user)
        changes = {"none (the printed recipe)": {}, **exp.ablations}
        run_dirs = run_all(((exp, deep_merge(short, change)) for change in changes.values()), smoke=False,
                           out_root=out_root / places.ABLATIONS, data_dir=args.data_dir, data_path=args.data_path)
        print(write_ablations(out_root / exp.paper / f"ablations-{exp.name}.md", exp, dict(zip(changes, run_dirs))))
    return 0


def run_demo(registry, out, every_default=False):
    """A first contact: one experiment per paper on synthetic data, the paper's DEMO_EXPERIMENT
    (default: its first default experiment); every_default: all its default experiments."""
    chosen = []
    for paper in registry.PAPERS:
        module = registry.paper_module(paper)
        demo = getattr(module, "DEMO_EXPERIMENT", module.DEFAULT_EXPERIMENTS[0])
        chosen += [(paper, name) for name in (module.DEFAULT_EXPERIMENTS if every_default else [demo])]
    print("demo on synthetic faces, tiny configs: " + ", ".join(f"{p}/{n}" for p, n in chosen))
    run_all(((registry.experiments(p)[n], {}) for p, n in chosen), smoke=True, out_root=out)
    print(f"reports and scoreboard: {out}/README.md")
    return 0


def run_all(experiments_and_overrides, *, smoke, out_root, data_dir=None, data_path=None, budget=None):
    """Run each experiment in turn, each fold's training output under a header naming it; their run folders."""
    from common.harness.run.runner import record_crash, run_experiment
    from common.toolkit.data.protocols import ProtocolError
    run_dirs = []
    for exp, overrides in experiments_and_overrides:
        print(f"\n=== {exp.paper} / {exp.name}: {exp.title}" + (" (synthetic data)" if smoke else ""), flush=True)
        try:
            run_dir = run_experiment(dataclasses.replace(exp, train_and_evaluate=announcing_folds(exp)), data_dir,
                                     smoke=smoke, out_root=out_root, overrides=overrides, data_path=data_path,
                                     budget=budget)
        except DatasetError as error:  # read before any folder is made: a user's mistake, not a crash
            raise SystemExit(f"{exp.paper}/{exp.name}: {error} (name the dataset with --data-path or --data-dir)") \
                from None
        except ProtocolError as error:  # found before any folder is made, as above
            raise SystemExit(f"{exp.paper}/{exp.name}: {error}") from None
        except Exception as error:
            record_crash(error)  # `cleanup` then says the run crashed, and why
            raise
        print_summary(run_dir)
        run_dirs.append(run_dir)
    return run_dirs


def announcing_folds(exp):
    """exp.train_and_evaluate, printing first which paper, experiment and fold the output below is of."""
    def train_and_evaluate(fold, config, ctx):
        print(f"\n--- {exp.paper} / {exp.name} / {fold.name}: {len(fold.train)} train, {len(fold.val)} val, "
              f"{len(fold.test)} test", flush=True)
        return exp.train_and_evaluate(fold, config, ctx)
    return train_and_evaluate


def print_summary(run_dir):
    from common.harness.report.cells import achieved
    from common.harness.run.record import RunRecord
    record = RunRecord.read(run_dir)
    print(f"{record.paper}/{record.experiment}: accuracy {achieved(record.metrics['accuracy'])} -> {run_dir}/report.md")
    if record.degenerate:
        print("    DEGENERATE RUN: " + "; ".join(f"{fold}: {', '.join(why)}" for fold, why in record.degenerate.items()))
    verdicts = {}
    for claim in record.claims:
        verdicts.setdefault(claim["verdict"], []).append(claim["id"])
    for verdict, ids in verdicts.items():
        print(f"    {verdict}: {len(ids)} claim(s) ({', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''})")


def run_audit(papers, registry, out_dir=None):
    """The shared checks on every paper's claims file, plus a paper's own (its module's AUDIT, where the
    paper prints something only it can check, such as acgrnn's Fig. 7 against its Table 1)."""
    from common.harness.audit import audit, summary_line, to_markdown
    from common.harness.judge.claims import claims_path, load_claims
    from common.harness.run.runner import DEFAULT_OUT
    out_dir = Path(out_dir) if out_dir else DEFAULT_OUT
    sections, notes, everything = [], [], {}
    for paper in papers:
        path = claims_path(paper)
        if not path.exists():
            sections.append(f"## {paper}: no claims file yet\n")
            continue
        claims = load_claims(path)
        own = getattr(registry.paper_module(paper), "AUDIT", lambda claims: [])(claims)
        for f in own:
            f.family = f.family or "the paper's own object"
        findings = audit(claims) + own
        everything[paper] = [vars(f) for f in findings]
        sections.append(to_markdown(paper, findings))
        notes.append(f"- [{paper}](#{paper}): {summary_line(findings)}")
    text = ("# Claims audit\n\nWhat each paper's own text and printed numbers imply, recomputed (no training): "
            "per paper, the findings worst first (*impossible*: no data could give the number; *inconsistent*: two "
            "things the paper prints cannot both be true; *implausible*: possible, but improbable), each with the "
            "quotes and the arithmetic, then every check.\n\n" + "\n".join(notes) + "\n\n" + "\n".join(sections))
    write = len(papers) > 1 and out_dir is not None  # an installed suite writes only where --out says
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "audit.md").write_text(text)
        (out_dir / "audit.json").write_text(json.dumps(everything, indent=1))
    print(text)
    print("\n".join(notes) + (f"\nwritten to {out_dir / 'audit.md'}" if write else ""))
    return 0
