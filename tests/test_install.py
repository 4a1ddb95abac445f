"""The package as users get it: a non-editable wheel, installed into a fresh virtual
environment and run from outside the checkout; and the suite's generic top-level names
(`common`, `datasets`: also Hugging Face's), which must stop with a clear message when
another package of that name comes first on the path.

The wheel test stays offline and fast: the wheel is built without build isolation, installed
with --no-deps, and the fresh environment then sees this environment's installed
dependencies through a .pth file (added after the install, so pip never touches them).

An installed suite must never write into site-packages. The tests make it read-only
(chmod -R a-w), which stops an ordinary user; but they run as root in CI, for whom it stops
nothing, so each run also compares every file under site-packages (name, size, mtime) before
and after, and a single file written there fails it. Python's own bytecode caching is off
(PYTHONDONTWRITEBYTECODE) so that only the suite's writes count.
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
QUIET.pop("FER_SUITE_DATA_DIR", None)


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
    subprocess.run(["chmod", "-R", "a-w", str(site_packages)], check=True)
    return python, site_packages


def files_under(folder):
    """{path: (size, mtime)} of every file and folder under `folder`: what a write there changes."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in [folder, *folder.rglob("*")]}


@pytest.fixture
def outside(installed, tmp_path):
    """run_installed(*arguments, ok=True) -> the finished process of `python -m papers ...` run with the
    installed suite from a folder outside the checkout, its per-user cache under tmp_path/cache; fails
    when anything under site-packages changed."""
    python, site_packages = installed
    env = {**QUIET, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}

    def run_installed(*arguments, ok=True, timeout=600):
        before = files_under(site_packages)
        done = subprocess.run([str(python), "-m", "papers", *arguments], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert files_under(site_packages) == before, "the installed suite wrote into site-packages"
        assert (done.returncode == 0) == ok, f"{arguments}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done
    return run_installed


def test_wheel_holds_every_package_and_the_paper_files(installed):
    python, site_packages = installed
    where = run([str(python), "-c", "import common, datasets, papers; print(common.__file__, datasets.__file__, "
                 "papers.__file__)"], cwd=python.parents[2])
    assert all(Path(path).is_relative_to(site_packages) for path in where.split())  # not the checkout's
    for paper in ("sdl_stn", "crnn_candide", "cnn_webcam"):
        assert (site_packages / "papers" / paper / "claims.yaml").is_file()
        assert (site_packages / "papers" / paper / "README.md").is_file()


def test_installed_suite_runs_a_smoke_experiment_writing_only_under_out_and_the_user_cache(outside, tmp_path):
    listed = outside("list")
    assert all(f"{paper}:" in listed.stdout for paper in ("sdl_stn", "crnn_candide", "cnn_webcam"))
    assert not listed.stderr.strip(), listed.stderr  # TensorFlow's start-up notices are held back
    smoke = ["cnn_webcam", "smoke", "--experiment", "adam", "--epochs", "1", "--set", "synthetic.n_train=210"]
    refused = outside(*smoke, ok=False).stderr.strip()
    assert refused == "cnn_webcam smoke: an installed suite needs --out DIR, the folder its reports go to " \
                      "(only a source checkout has results/ and runs/ beside the code)"
    out = tmp_path / "runs"
    outside(*smoke, "--out", str(out))
    record = json.loads(next(out.glob("cnn_webcam/adam/*/metrics.json")).read_text())
    assert record["smoke"] and record["claims"]  # the claims came from the wheel's claims.yaml
    assert (tmp_path / "cache" / "fer-reproductions" / "train" / "cnn_webcam").is_dir()  # its work folder was there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "runs"]  # nothing else, not in the cwd either
    cleaned = outside("cleanup")
    assert "nothing left over by killed runs" in cleaned.stdout and not cleaned.stderr.strip(), cleaned.stderr


def test_an_installed_suite_has_an_explicit_data_dir(outside, tmp_path):
    help_text = outside("sdl_stn", "--help").stdout
    assert "site-packages" not in help_text and "lib/python" not in help_text
    assert "default: $FER_SUITE_DATA_DIR, which is not set: set it or pass --data-dir" in " ".join(help_text.split())
    missing = outside("sdl_stn", "reproduce", "--out", str(tmp_path / "out"), ok=False).stderr.strip()
    assert missing == ("sdl_stn/fer2013: no data directory for fer2013: pass --data-dir DIR or set "
                       "FER_SUITE_DATA_DIR=DIR, DIR holding fer2013/fer2013.csv.xz (or --data-path to the dataset "
                       "itself)")
    assert not (tmp_path / "out").exists()


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
