"""Where the suite writes.

In a source checkout, beside the code, as always: results/ (the committed reports), runs/
(scratch: smoke, demo and bench runs) and cache/ (the work folders of unfinished runs, face
and clip caches, the synthetic datasets of smoke runs). An installed suite (`pip install .`)
writes its reports only under the `--out` root the user names, and its caches in the per-user
cache folder that platformdirs chooses (~/.cache/fer-reproductions on Linux): never into
site-packages.
"""
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import platformdirs

from datasets.paths import CHECKOUT

RESULTS = CHECKOUT / "results" if CHECKOUT else None  # reproduce's default --out; None: --out is needed
RUNS = CHECKOUT / "runs" if CHECKOUT else None  # scratch roots runs/<smoke|demo|bench>; None: --out is needed
SCRATCH = {name: RUNS / name if RUNS else None for name in ("smoke", "demo", "bench")}  # their default --out
CACHE = CHECKOUT / "cache" if CHECKOUT else Path(platformdirs.user_cache_dir("fer-reproductions", appauthor=False))
DAMAGED = "-damaged-"  # in the name of state set aside as damaged (`set_aside`)
ABLATIONS = "ablations"  # inside a results root, the results root of the `ablate` runs


def out_root(given, default, command):
    """The results root: `given` (--out), else `default`; SystemExit with one line when an installed suite
    has no default (it writes nowhere the user did not name), or when nothing can be written there."""
    if not given and default is None:
        raise SystemExit(f"{command}: an installed suite needs --out DIR, the folder its reports go to "
                         "(only a source checkout has results/ and runs/ beside the code)")
    root = Path(given or default)
    _check_writable(root, command)
    return root


def _check_writable(root, command):
    """Write and remove a file under `root`, and the folders made for it: a results root that cannot be written
    is found before any training, and a user's mistake leaves no folder behind."""
    made = [p for p in [root, *root.parents] if not p.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / ".write-check").write_text("")
        (root / ".write-check").unlink()
    except OSError as error:
        raise SystemExit(f"{command}: cannot write to the results folder {root} ({error.strerror})") from None
    finally:
        for folder in made:  # deepest first
            if folder.exists():
                folder.rmdir()


def set_aside(path):
    """Rename damaged state (a file or folder) to <name>-damaged-<time> beside it, where nothing reads it again
    and `python -m papers cleanup` lists it; returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside, taken = path.with_name(f"{path.name}{DAMAGED}{stamp}"), 1
    while aside.exists():
        taken += 1
        aside = path.with_name(f"{path.name}{DAMAGED}{stamp}-{taken}")
    path.rename(aside)
    return aside


def read_arrays(file, names=None):
    """{name: array} of the .npz cache or checkpoint `file` (`names`, or all of them), or None when it is absent
    or damaged: a damaged file is named on stderr and set aside, and what it held is computed again."""
    file = Path(file)
    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as stored:
            return {name: stored[name] for name in (stored.files if names is None else names)}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        aside = set_aside(file)
        print(f"WARNING: damaged file {file} ({type(error).__name__}: {error}), set aside as {aside.name}; "
              "computing it again.", file=sys.stderr)
        return None
