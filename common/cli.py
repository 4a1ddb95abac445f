"""The command line: `python -m papers ...` (the Makefile calls it).

    python -m papers list                          papers and their experiments
    python -m papers sdl_stn reproduce             the paper's default experiments on real data
    python -m papers sdl_stn reproduce --experiment ckplus_subject --epochs 5
    python -m papers sdl_stn smoke                 every experiment on synthetic data, tiny
    python -m papers audit [paper]                 recompute what the printed numbers imply
    python -m papers demo                          every paper's default experiments, synthetic
    python -m papers bench [--quick]               benchmarks -> results/bench/
    python -m papers scoreboard                    rewrite results/README.md
    python -m papers rereport                      re-render reports after a claims fix

The paper registry is passed in by `papers/__main__.py`, so `common` never imports `papers`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from common.runner import DEFAULT_DATA_DIR, DEFAULT_OUT, REPO


def build_parser(paper_names):
    parser = argparse.ArgumentParser(prog="python -m papers", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n\n")[1:2]))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list papers and experiments")
    for name in paper_names:
        paper = sub.add_parser(name, help=f"run {name}'s experiments")
        paper.add_argument("action", choices=["reproduce", "smoke", "audit"])
        paper.add_argument("--experiment", "-e", action="append",
                           help="experiment name (repeatable); default: the paper's default experiments "
                                "(reproduce) or all of them (smoke)")
        paper.add_argument("--dataset", help="run the experiments on this dataset (a datasets loader name)")
        paper.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                           help="folder holding the datasets in their usual sub-paths (default: %(default)s)")
        paper.add_argument("--data-path", help="the dataset file or folder itself (overrides --data-dir)")
        paper.add_argument("--epochs", type=int, help="override the number of training epochs")
        paper.add_argument("--repeats", type=int, help="override the number of repeated runs")
        paper.add_argument("--folds", type=int, help="override k of a k-fold protocol")
        paper.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="override any config value, e.g. --set batch_size=64 --set protocol.k=5")
        paper.add_argument("--out", help="results root (default: results/, smoke: runs/smoke/)")
    audit = sub.add_parser("audit", help="check every paper's printed numbers against each other")
    audit.add_argument("paper", nargs="?", choices=paper_names)
    demo = sub.add_parser("demo", help="every paper's default experiments on synthetic data")
    demo.add_argument("--out", default=str(REPO / "runs" / "demo"))
    bench = sub.add_parser("bench", help="run the benchmarks, write results/bench/*.json")
    bench.add_argument("--quick", action="store_true", help="small inputs (for CI)")
    sub.add_parser("scoreboard", help="rewrite results/README.md from the newest runs")
    sub.add_parser("rereport", help="re-render every report under results/ with the current claims and verdict rules")
    cleanup = sub.add_parser("cleanup", help="list (--remove: delete) unfinished run folders and work folders of killed runs")
    cleanup.add_argument("--remove", action="store_true", help="delete them (those runs can no longer resume)")
    cleanup.add_argument("--out", action="append", help="results root to scan (repeatable; default: results/ and runs/*)")
    return parser


def overrides_from(args):
    overrides = {}
    pairs = [f"epochs={args.epochs}"] if args.epochs else []
    pairs += [f"protocol.repeats={args.repeats}"] if args.repeats else []
    pairs += [f"protocol.k={args.folds}"] if args.folds else []
    for pair in pairs + args.set:
        key, _, value = pair.partition("=")
        if not _:
            raise SystemExit(f"--set needs KEY=VALUE, got {pair!r}")
        node = overrides
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return overrides


def main(argv, registry):
    args = build_parser(list(registry.PAPERS)).parse_args(argv)
    if args.command == "list":
        for name, title in registry.PAPERS.items():
            module = registry.paper_module(name)
            print(f"{name}: {title}")
            for exp in module.EXPERIMENTS.values():
                default = " (default)" if exp.name in module.DEFAULT_EXPERIMENTS else ""
                print(f"    {exp.name:28s} {exp.dataset:9s} {exp.title}{default}")
        return 0
    if args.command == "audit" or getattr(args, "action", None) == "audit":
        return run_audit([args.paper] if getattr(args, "paper", None) else list(registry.PAPERS))
    if args.command == "rereport":
        from common.report import rewrite_run, write_scoreboard
        for path in sorted(DEFAULT_OUT.glob("*/*/*/metrics.json")):
            record = json.loads(path.read_text())
            rewrite_run(path.parent, registry.experiments(record["paper"])[record["experiment"]])
            print(f"re-rendered {path.parent}")
        print(write_scoreboard(DEFAULT_OUT))
        return 0
    if args.command == "cleanup":
        from common.runner import cleanup
        cleanup(args.out, remove=args.remove)
        return 0
    if args.command == "scoreboard":
        from common.report import write_scoreboard
        print(write_scoreboard(DEFAULT_OUT))
        return 0
    if args.command == "bench":
        from common.bench import SHARED_BENCHMARKS, run_benchmarks
        benchmarks = dict(SHARED_BENCHMARKS)
        benchmarks |= {f"{p}/{n}": f for p in registry.PAPERS
                      for n, f in getattr(registry.paper_module(p), "BENCHMARKS", {}).items()}
        records = run_benchmarks(benchmarks, quick=args.quick)
        return 1 if any(r["status"] == "failed" for r in records) else 0  # "skipped" (e.g. no `fer`) is not a failure
    if args.command == "demo":
        return run_demo(registry, Path(args.out))
    return run_paper(registry, args)


def run_paper(registry, args):
    from common.runner import run_experiment
    module = registry.paper_module(args.command)
    smoke = args.action == "smoke"
    names = args.experiment or (list(module.EXPERIMENTS) if smoke else module.DEFAULT_EXPERIMENTS)
    if args.dataset:
        names = [n for n in module.EXPERIMENTS if module.EXPERIMENTS[n].dataset == args.dataset and
                 (not args.experiment or n in args.experiment)]
        if not names:
            raise SystemExit(f"{args.command} has no experiment on dataset {args.dataset!r}")
    unknown = [n for n in names if n not in module.EXPERIMENTS]
    if unknown:
        raise SystemExit(f"unknown experiment(s) {unknown}; {args.command} has: {', '.join(module.EXPERIMENTS)}")
    out = args.out or (REPO / "runs" / "smoke" if smoke else DEFAULT_OUT)
    for name in names:
        run_dir = run_experiment(module.EXPERIMENTS[name], args.data_dir, smoke=smoke, out_root=out,
                                 overrides=overrides_from(args), data_path=args.data_path)
        print_summary(run_dir)
    return 0


def run_demo(registry, out):
    from common.runner import run_experiment
    for paper in registry.PAPERS:
        module = registry.paper_module(paper)
        for name in module.DEFAULT_EXPERIMENTS:
            print_summary(run_experiment(module.EXPERIMENTS[name], smoke=True, out_root=out))
    print(f"reports and scoreboard: {out}/README.md")
    return 0


def print_summary(run_dir):
    record = json.loads((Path(run_dir) / "metrics.json").read_text())
    acc = record["metrics"]["accuracy"]
    print(f"{record['paper']}/{record['experiment']}: accuracy {acc['mean']:.4f} "
          f"95% CI [{acc['ci95'][0]:.4f}, {acc['ci95'][1]:.4f}] n={acc['n']} -> {run_dir}/report.md")
    if record["smoke"]:  # synthetic data checks no claim: one line, not one per claim
        print(f"    {len(record['claims'])} claims: not checkable on synthetic data")
        return
    for claim in record["claims"]:
        print(f"    {claim['id']}: {claim['verdict']}")


def run_audit(papers):
    from common.audit import audit, to_markdown
    from common.claims import load_claims
    from common.report import claims_path
    sections, inconsistent, everything = [], 0, {}
    for paper in papers:
        path = claims_path(paper)
        if not path.exists():
            sections.append(f"## {paper}: no claims file yet\n")
            continue
        findings = audit(load_claims(path))
        inconsistent += sum(not f.consistent for f in findings)
        everything[paper] = [vars(f) for f in findings]
        sections.append(to_markdown(paper, findings))
    text = "# Claims audit\n\nEach row recomputes a number the paper printed from its other printed numbers.\n\n" + "\n".join(sections)
    out = DEFAULT_OUT / "audit.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(papers) > 1:
        out.write_text(text)
        (DEFAULT_OUT / "audit.json").write_text(json.dumps(everything, indent=1))
    print(text)
    print(f"{inconsistent} inconsistencies found" + (f"; written to {out}" if len(papers) > 1 else ""))
    return 0
