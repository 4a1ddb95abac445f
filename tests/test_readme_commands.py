"""Every command shown in a code block of README.md and papers/*/README.md that starts with
`python -m papers`, `.venv/bin/python -m papers` or `make` still works, so the examples cannot rot.

What "works" means, per kind (training is what makes a command expensive):
- `python -m papers <paper> reproduce|smoke ...` and `demo`: the whole command line runs up to
  the training: arguments parsed, experiments chosen, every --epochs/--repeats/--folds/--seed/--set
  checked against the experiment's config. Training itself is not run here; every experiment's
  training runs on synthetic data in tests/test_registry.py, and an installed `smoke` command
  runs end to end in tests/test_install.py.
- `python -m papers list`: runs. `audit`, `bench`, `scoreboard`, `rereport` (they rewrite
  results/): arguments parsed.
- `python -m papers.<module> ...` (the webcam app): parsed by that module's `parser()`.
- `make <target> ...`: `make -n` (dry run) knows the target, and the `python -m papers` command
  its recipe would run is checked as above.
"""
import importlib
import re
import shlex
import subprocess
from pathlib import Path

import pytest

import common.harness.cli
import common.harness.report.run
import papers

REPO = Path(__file__).resolve().parents[1]
READMES = [REPO / "README.md", *sorted(REPO.glob("papers/*/README.md"))]
PYTHON = re.compile(r"^(\.venv/bin/)?python -m papers\b")


def documented_commands():
    """(readme, command) for each matching command in a ```code block```, continuation lines joined."""
    found = []
    for readme in READMES:
        blocks = re.findall(r"^```[^\n]*\n(.*?)^```", readme.read_text(), flags=re.S | re.M)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                for command in line.split("&&"):
                    command = command.strip()
                    if PYTHON.match(command) or command.startswith("make"):
                        found.append((readme.relative_to(REPO), " ".join(shlex.split(command, comments=True))))
    return found


COMMANDS = documented_commands()


def check_papers_command(argv, monkeypatch, capsys):
    """Run `python -m papers <argv>` up to (not including) any training; fail on any error."""
    parser = common.harness.cli.build_parser(papers)
    args = parser.parse_args(argv)
    if args.command in ("audit", "bench", "scoreboard", "rereport") or getattr(args, "action", None) == "audit":
        return  # they rewrite results/: parsing is the check
    planned = []
    monkeypatch.setattr(common.harness.cli, "run_all", lambda runs, **options: planned.extend(runs) or [])
    monkeypatch.setattr(common.harness.report.run, "write_ablations", lambda *table: "")  # nothing ran to tabulate
    monkeypatch.setattr(common.harness.cli, "check_data", lambda *where: None)  # a README's data paths are examples
    assert common.harness.cli.main(argv, papers) == 0
    if args.command != "list":
        assert planned, f"{argv} would train nothing"
    capsys.readouterr()


def test_the_readmes_show_commands():
    assert len(COMMANDS) >= 10 and any(c.startswith("make") for _, c in COMMANDS)


@pytest.mark.parametrize("readme,command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_documented_command_works(readme, command, monkeypatch, capsys):
    words = shlex.split(command)
    if words[0] == "make":
        done = subprocess.run(["make", "-n", *words[1:]], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{readme}: {command}: {done.stderr}"
        lines = done.stdout.replace("\\\n", " ").splitlines()  # recipes continue lines with a backslash
        recipe = [shlex.split(line) for line in lines if PYTHON.match(line.strip())]
        for line in recipe:
            check_papers_command(line[3:], monkeypatch, capsys)
        return
    module = words[2]
    if module == "papers":
        check_papers_command(words[3:], monkeypatch, capsys)
    else:  # python -m papers.<paper>.<tool>
        importlib.import_module(module).parser().parse_args(words[3:])
