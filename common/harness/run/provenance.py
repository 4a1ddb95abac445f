"""Where a number came from: the code revision, the command line and the data read.

Every run record carries these, so that a result can be traced to what produced it,
and a checkpoint can refuse to resume a run that differs in any of them.
"""
from __future__ import annotations

import functools
import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]  # the checkout (or site-packages): common/harness/run/ is three down
SOURCE_PACKAGES = ("common", "datasets", "papers")

# Changes to the code after which a run's own command gives other numbers: (commit, date, what changed, which runs
# it changes, by their config). A run made before one reproduces only at its own code (its recorded commit).
RESULT_CHANGES = [
    ("2520fce", "2026-12-02 04:39:07", "the training data order became a pure function of (seed, epoch), for "
                                       "exact resume", lambda config: True),
    ("47aee3a", "2026-12-06 11:59:06", "the geometric augmentation became one affine resampling (flip, rotation, "
                                       "translation and zoom drawn anew)", lambda config: bool(config.get("augment"))),
]


def git_state():
    """{"commit", "dirty"} of the checkout, or None outside a git checkout (an installed wheel)."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", *SOURCE_PACKAGES],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def code_version(packages=SOURCE_PACKAGES):
    """A hash of the suite's Python sources (or of `packages`'): changes whenever the code that trains and scores
    changes, with or without git."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def file_hash(path):
    """sha256 of a data file, or of a folder's files (names and bytes, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def array_hash(*arrays):
    """sha256 of numpy arrays' bytes and shapes: the identity of the data a run trained on."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            continue
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(memoryview(array).cast("B") if array.flags.c_contiguous else array.tobytes())
    return digest.hexdigest()


def changes_since(record):
    """The result-changing code changes (`RESULT_CHANGES`) that alter `record`'s numbers and that its code lacks."""
    return [(commit, date, what) for commit, date, what, alters in RESULT_CHANGES
            if alters(record.config) and _predates(record, commit, date)]


def _predates(record, commit, date):
    """Whether the run's code lacks `commit`: by the git history where the run's commit is known (a run of an older
    checkout may finish after the change), else by the date the run was written."""
    git = record.provenance.get("git")
    lacks = _lacks(git["commit"], commit) if git else None
    return record.written < date if lacks is None else lacks


@functools.lru_cache(maxsize=None)
def _lacks(run_commit, change_commit):
    """True or False; None where git cannot tell (an installed suite, a commit this checkout does not have)."""
    try:
        done = subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor", change_commit, run_commit],
                              capture_output=True)
    except OSError:
        return None
    return {0: False, 1: True}.get(done.returncode)


def reproduced_by(record):
    """How a run's numbers are reproduced, in words: its recorded command at its recorded commit; and, for a run
    made before a result-changing change (`RESULT_CHANGES`), that today's code gives other numbers."""
    git, command = record.provenance.get("git"), record.provenance.get("command")
    how = (f"`{command}` at commit {git['commit'][:10]}" if git and command else
           "its command and commit were not recorded (written before provenance was)")
    before = [f"{what} ({commit}, {date[:10]})" for commit, date, what in changes_since(record)]
    return how + (f"; written before {'; '.join(before)}: today's code gives other numbers" if before else "")


def command_line(argv=None):
    """The command that made this run, as a user types it (arguments quoted where a shell needs it)."""
    argv = sys.argv if argv is None else argv
    return as_typed(shlex.join([Path(argv[0]).name, *argv[1:]])) if argv and argv[0] else ""


def as_typed(command):
    """A recorded command as a user types it: under `python -m papers` Python names the program `__main__.py` (and
    the run records written before 2026-12-07 kept that name)."""
    program, _, arguments = command.partition(" ")
    return f"python -m papers {arguments}".strip() if program == "__main__.py" else command
