"""The layers of the code, read from its imports (parsed with `ast`, not searched as text):
datasets -> common.toolkit -> common.harness, and papers beside the harness.

- `datasets` imports neither `common` nor `papers`;
- `common.toolkit` (what a paper builds with) never imports `common.harness` (what runs and judges papers),
  nor `papers`;
- `common` never imports `papers`; no paper imports another paper.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def modules(package):
    """{dotted name: path} of every module under a package folder."""
    found = {}
    for path in sorted((REPO / package.replace(".", "/")).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name, path):
    """Every module `path` imports (at any depth: function-level imports count), as absolute dotted names;
    `from a import b` gives both a and a.b (b may be a submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def within(target, package):
    return target == package or target.startswith(package + ".")


def violations(source, forbidden):
    return sorted(f"{name} imports {target}" for name, path in modules(source).items()
                  for target in imported(name, path) if any(within(target, f) for f in forbidden))


@pytest.mark.parametrize("source, forbidden", [
    ("common.toolkit", ("common.harness", "papers")),
    ("common", ("papers",)),
    ("datasets", ("common", "papers")),
])
def test_imports_flow_one_way(source, forbidden):
    assert violations(source, forbidden) == []


def test_a_paper_imports_no_other_paper():
    papers = sorted(p.name for p in (REPO / "papers").iterdir() if (p / "__init__.py").exists())
    for paper in papers:
        others = tuple(f"papers.{other}" for other in papers if other != paper)
        assert violations(f"papers.{paper}", others) == []


def test_the_checker_sees_every_form_of_import(tmp_path):
    """The parser catches plain, from-, aliased, function-level and relative imports of the harness."""
    path = tmp_path / "probe.py"
    path.write_text("import os\nimport common.harness.cli as c\nfrom common.harness.run import runner\n"
                    "def f():\n    from common import harness\nfrom ..harness.judge import verdicts\n")
    found = imported("common.toolkit.probe", path)
    assert {"common.harness.cli", "common.harness.run", "common.harness", "common.harness.judge"} <= found
    assert any(within(t, "common.harness") for t in imported("common.toolkit.probe", path))
    assert not any(within(t, "common.harness") for t in {"common.harnessing", "common.toolkit.train"})


def test_every_toolkit_and_harness_folder_is_a_package():
    """`pip install .` finds packages by their __init__.py (setup.cfg: packages = find:)."""
    for folder in (REPO / "common").rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), folder
