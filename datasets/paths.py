"""Where the datasets lie: the default data dir and each dataset's sub-path under it.

The one home of these paths: the command line, the runner, the benchmarks and the
tests all read them here. The rule is `<data dir>/<dataset>/<name as distributed>`;
`--data-dir` (make: `DATA_DIR=`) moves the whole tree, `--data-path` names one
dataset's file or folder directly.
"""
from pathlib import Path

# ../shared/datasets beside the checkout (the suite never ships or downloads data).
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"

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
    """The file or folder of `dataset` under `data_dir` (default: DEFAULT_DATA_DIR)."""
    if dataset not in SUBPATHS:
        raise KeyError(f"no default path for dataset {dataset!r}; known: {', '.join(SUBPATHS)}")
    return Path(data_dir or DEFAULT_DATA_DIR) / SUBPATHS[dataset]
