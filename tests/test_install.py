"""The package as users get it: a non-editable wheel, installed into a fresh virtual
environment and run from outside the checkout; and the suite's generic top-level names
(`common`, `datasets`: also Hugging Face's), which must stop with a clear message when
another package of that name comes first on the path.

The wheel test stays offline and fast: the wheel is built without build isolation, installed
with --no-deps, and the fresh environment then sees this environment's installed
dependencies through a .pth file (added after the install, so pip never touches them).
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}


def run(command, cwd, timeout=300, env=QUIET):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The python of a fresh venv holding the wheel built from a copy of the sources."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    for name in ("common", "datasets", "papers"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(tmp / "dist"), str(source)], cwd=tmp)
    wheel, = (tmp / "dist").glob("fer_reproductions-*.whl")
    venv.create(tmp / "env", with_pip=False)
    python = tmp / "env" / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
         str(wheel)], cwd=tmp)
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=tmp).strip())
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site_packages


def test_wheel_holds_every_package_and_the_paper_files(installed):
    python, site_packages = installed
    where = run([str(python), "-c", "import common, datasets, papers; print(common.__file__, datasets.__file__, "
                 "papers.__file__)"], cwd=python.parents[2])
    assert all(Path(path).is_relative_to(site_packages) for path in where.split())  # not the checkout's
    for paper in ("sdl_stn", "crnn_candide", "cnn_webcam"):
        assert (site_packages / "papers" / paper / "claims.yaml").is_file()
        assert (site_packages / "papers" / paper / "README.md").is_file()


def test_installed_suite_lists_and_runs_a_smoke_experiment(installed, tmp_path):
    python, _ = installed
    listing = run([str(python), "-m", "papers", "list"], cwd=tmp_path)
    assert all(f"{paper}:" in listing for paper in ("sdl_stn", "crnn_candide", "cnn_webcam"))
    out = tmp_path / "runs"
    run([str(python), "-m", "papers", "cnn_webcam", "smoke", "--experiment", "adam", "--epochs", "1",
         "--set", "synthetic.n_train=210", "--out", str(out)], cwd=tmp_path, timeout=600)
    record = json.loads(next(out.glob("cnn_webcam/adam/*/metrics.json")).read_text())
    assert record["smoke"] and record["claims"]  # the claims came from the wheel's claims.yaml


@pytest.mark.parametrize("package", ["datasets", "common"])
def test_a_foreign_package_of_the_same_name_stops_the_suite_with_a_clear_message(package, tmp_path):
    stand_in = tmp_path / "elsewhere" / package
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text('"""Another project\'s package of the same name."""\n')
    env = {**QUIET, "PYTHONPATH": os.pathsep.join([str(stand_in.parent), str(REPO)])}
    done = subprocess.run([sys.executable, "-m", "papers", "list"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError: `import " + package)
    assert str(stand_in) in last_line and str(REPO / package) in last_line and "environment of its own" in last_line
