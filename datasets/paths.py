"""Where the datasets lie: the default data dir and each dataset's sub-path under it.

The one home of these paths: the command line, the runner, the benchmarks and the
tests all read them here. The rule is `<data dir>/<dataset>/<name as distributed>`;
`--data-dir` (make: `DATA_DIR=`) moves the whole tree, `--data-path` names one
dataset's file or folder directly. Without `--data-dir` the data dir is the environment
variable FER_SUITE_DATA_DIR, else, in a source checkout, ../shared/datasets beside it; an
installed suite (`pip install .`) has no other default, so it says how to set one.
"""
import os
from pathlib import Path

DATA_DIR_VARIABLE = "FER_SUITE_DATA_DIR"
_ROOT = Path(__file__).resolve().parents[1]
# The source checkout the suite runs from (an editable install is one too), or None when it is installed:
# only a checkout has setup.cfg and pyproject.toml beside its packages, and folders of its own around them.
CHECKOUT = _ROOT if (_ROOT / "setup.cfg").is_file() and (_ROOT / "pyproject.toml").is_file() else None
# None: an installed suite without FER_SUITE_DATA_DIR (the suite never ships or downloads data).
DEFAULT_DATA_DIR = (Path(os.environ[DATA_DIR_VARIABLE]) if os.environ.get(DATA_DIR_VARIABLE)
                    else CHECKOUT.parent / "shared" / "datasets" if CHECKOUT else None)

SUBPATHS = {
    "fer2013": "fer2013/fer2013.csv.xz",  # the Kaggle CSV, xz-packed (a plain .csv reads too, via --data-path)
    "ckplus": "ckplus/CK+48",
    "ferg": "ferg/FERG_DB_256",
    "samm": "samm/SAMM",
    "mevie": "mevie/MEVIEW",
    "sasefe": "sasefe/SASE-FE",
    "oulu": "oulu/Oulu-CASIA",
}


def default_path(dataset, data_dir=None):
    """The file or folder of `dataset` under `data_dir` (default: DEFAULT_DATA_DIR); ValueError saying how
    to name a data dir when there is none."""
    if dataset not in SUBPATHS:
        raise KeyError(f"no default path for dataset {dataset!r}; known: {', '.join(SUBPATHS)}")
    data_dir = data_dir or DEFAULT_DATA_DIR
    if data_dir is None:
        raise ValueError(f"no data directory for {dataset}: pass --data-dir DIR or set {DATA_DIR_VARIABLE}=DIR, "
                         f"DIR holding {SUBPATHS[dataset]} (or --data-path to the dataset itself)")
    return Path(data_dir) / SUBPATHS[dataset]
