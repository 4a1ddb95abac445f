"""Every file, name and command that README.md, papers/*/README.md and docs/*.md mention exists, so the prose
cannot drift from the code (tests/test_readme_commands.py runs the code blocks' commands further).

- files: a path under common/, datasets/, papers/, tests/ or docs/ (also `../../common/...` from a paper's
  README), any `x.py` in backticks (from the document's folder, else the checkout), and relative links;
- dotted names: `common.…`, `datasets.…`, `papers.…` resolve to a module and its attributes;
- names beside a file or module: in a line, the backticked names after a backticked `common.<module>`, or
  the snake_case or CamelCase ones (`prepare` or `fer` could be words) after a backticked `x.py` (until the
  next), and `name` in `x.py`, are defined or imported at the top level of that file (in experiments.py also the paper's experiments and the
  Experiment fields), or are attributes of that module;
- commands in backticks: `python -m papers …` parses with the CLI's parser, `make <target>` is a Makefile rule.
"""
import ast
import dataclasses
import fnmatch
import importlib
import re
import shlex
from pathlib import Path

import pytest

import papers
from common.harness.cli import build_parser
from common.toolkit.experiment import Experiment

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted(REPO.glob("papers/*/README.md")), *sorted(REPO.glob("docs/*.md"))]
CODE = re.compile(r"`([^`\n]+)`")
TREE_PATH = re.compile(r"(?<![\w/.<])((?:\.\./)*(?:common|datasets|papers|tests|docs)/[\w./-]*\w)")
DOTTED = re.compile(r"(?<![\w./])((?:common|datasets|papers)(?:\.[A-Za-z_]\w*)+)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PY_FILE = re.compile(r"^[\w./-]+\.py$")
IDENTIFIER = re.compile(r"^[A-Za-z_][\w*]*(?:\(.*\))?$")
NAME_LIKE = re.compile(r"_|[A-Z]")  # snake_case, CamelCase or UPPER_CASE: a name, not a word


def rel(doc):
    return str(doc.relative_to(REPO))


def prose(doc):
    """The text outside fenced code blocks (those are commands and sample output, checked elsewhere)."""
    return re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.S | re.M)


def is_command(code):
    return bool(re.match(r"^(\.venv/bin/)?python -m papers( |$)|^make [\w-]+", code.strip()))


def where(doc, name):
    """The path `name` names from `doc`: its folder first, then the checkout (from docs/, a bare file name is a
    paper's file: some paper has it); None when none has it."""
    bases = [doc.parent, REPO] + (sorted((REPO / "papers").glob("*/")) if doc.parent == REPO / "docs" else [])
    for base in bases:
        path = (base / name).resolve()
        if path.exists():
            return path
    return None


def mentioned_files(doc):
    text = CODE.sub(lambda m: "" if is_command(m.group(1)) else m.group(0), prose(doc))  # `--only common/metrics`
    names = set(TREE_PATH.findall(text))
    names |= {code for code in CODE.findall(text) if PY_FILE.match(code)}
    names |= {link.split("#")[0] for link in LINK.findall(text)
              if not link.startswith(("http://", "https://", "mailto:", "#")) and link.split("#")[0]}
    return sorted(n for n in names if not re.search(r"[<>*{}]", n))


def resolve(dotted):
    """The object a dotted name names: the longest importable module, then attributes (dataclass fields too)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if hasattr(obj, attribute):
                obj = getattr(obj, attribute)
            elif dataclasses.is_dataclass(obj) and attribute in {f.name for f in dataclasses.fields(obj)}:
                obj = None  # a field without a default: it exists, nothing further to resolve
            else:
                raise AttributeError(f"{dotted}: {'.'.join(parts[:cut])} has no {attribute}")
        return obj
    raise ModuleNotFoundError(dotted)


def defined_names(path):
    """Top-level names of a Python file: functions, classes, assignments."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def is_module(dotted):
    try:
        importlib.import_module(dotted)
        return True
    except ImportError:
        return False


def paper_of(doc):
    return doc.parent.name if doc.parent.parent == REPO / "papers" else None


def names_beside_files(doc):
    """(file or module, identifier) pairs: identifiers in backticks after a backticked file or dotted module on
    the same line (until the next one), and `identifier` in `file.py`."""
    pairs = []
    for line in prose(doc).splitlines():
        current = None
        for match in CODE.finditer(line):
            code = match.group(1)
            if code in ("common", "datasets", "papers"):
                current = None  # a package named in prose ends the list
            elif DOTTED.fullmatch(code) and is_module(code):
                current = code  # `common.toolkit.faces`: `crop_face`, ... name its attributes
            elif PY_FILE.match(code):
                current = code
                before = line[:match.start()]
                found = re.search(r"`([A-Za-z_]\w*)` in $", before)
                if found:
                    pairs.append((code, found.group(1)))
            elif current and IDENTIFIER.match(code) and "." not in code and (
                    not current.endswith(".py") or NAME_LIKE.search(code.split("(")[0])):
                pairs.append((current, code.split("(")[0]))
    return pairs


def inline_commands(doc):
    commands = []
    for code in CODE.findall(prose(doc)):
        code = code.strip()
        if is_command(code) and not re.search(r"[<>\[\]…]|\.\.\.", code):
            commands.append(code)
    return commands


def make_targets():
    rules = re.findall(r"^([\w%-]+):", (REPO / "Makefile").read_text(), flags=re.M)
    return rules


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_file_a_document_names_exists(doc):
    missing = [name for name in mentioned_files(doc) if where(doc, name) is None]
    assert missing == [], f"{rel(doc)} names files that do not exist"


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_dotted_name_a_document_names_resolves(doc):
    broken = []
    for dotted in sorted(set(DOTTED.findall(prose(doc)))):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as error:
            broken.append(f"{dotted} ({error})")
    assert broken == [], f"{rel(doc)} names what does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_name_beside_a_file_is_defined_there(doc):
    paper = paper_of(doc)
    experiments = set(papers.experiments(paper)) if paper else set()
    experiments |= {field.name for field in dataclasses.fields(Experiment)}
    broken = []
    for file, name in names_beside_files(doc):
        if not file.endswith(".py"):  # a module named by its dotted name
            if not hasattr(importlib.import_module(file), name.rstrip("*")):
                broken.append(f"{name} in {file}")
            continue
        path = where(doc, file)
        if path is None or path.suffix != ".py":
            continue  # a missing file fails the test above
        known = defined_names(path) | (experiments if path.name == "experiments.py" else set())
        if not (name in known or ("*" in name and fnmatch.filter(known, name))):
            broken.append(f"{name} in {file}")
    assert broken == [], f"{rel(doc)} names what its file does not define"


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_inline_command_parses(doc):
    parser, targets = build_parser(papers), make_targets()
    for command in inline_commands(doc):
        argv = shlex.split(command)
        if argv[0] == "make":
            target = argv[1]
            assert any(fnmatch.fnmatch(target, rule.replace("%", "*")) for rule in targets), \
                f"{rel(doc)}: `{command}`: no Makefile rule {target}"
            continue
        argv = argv[3:]
        if argv and argv[0].startswith("papers."):
            continue  # `python -m papers.<module>`: a dotted name, checked above
        try:
            parser.parse_args(argv)
        except SystemExit as error:
            if error.code:
                pytest.fail(f"{rel(doc)}: `{command}` does not parse")


def test_the_checks_see_what_they_check():
    """Each extractor finds a name of each kind, so an empty result is never a silent pass."""
    readme = REPO / "papers" / "sdl_stn" / "README.md"
    assert any(name.endswith("model.py") for name in mentioned_files(readme))
    assert ("model.py", "build_sdl_model") in names_beside_files(readme)
    contract = REPO / "docs" / "CONTRACT.md"
    assert any(d.startswith("common.toolkit.") for d in DOTTED.findall(prose(contract)))
    with pytest.raises(AttributeError):
        resolve("common.toolkit.train.fit.no_such_function")


def paper_hooks():
    """The names a paper package may define that the harness reads: every upper-case name a paper's
    __init__.py assigns or serves from its `__getattr__` (`name == "X"`, `name in ("X", ...)`) and that
    common/harness/cli.py or papers/__init__.py reads from a paper module."""
    served = set()
    for init in REPO.glob("papers/*/__init__.py"):
        text = init.read_text()
        served |= set(re.findall(r"^([A-Z][A-Z_]+) =", text, flags=re.M))
        served |= set(re.findall(r"\"([A-Z][A-Z_]+)\"", text))
    readers = (REPO / "common" / "harness" / "cli.py").read_text() + (REPO / "papers" / "__init__.py").read_text()
    read = set(re.findall(r"\.([A-Z][A-Z_]+)\b", readers)) | set(re.findall(r"getattr\([^,]+, \"([A-Z][A-Z_]+)\"",
                                                                             readers))
    return served & read


def test_the_contract_describes_every_hook_and_experiment_field():
    contract = (REPO / "docs" / "CONTRACT.md").read_text()
    hooks = paper_hooks()
    assert {"EXPERIMENTS", "DEFAULT_EXPERIMENTS", "AUDIT", "BENCHMARKS"} <= hooks
    assert [h for h in sorted(hooks) if f"`{h}" not in contract] == []
    signature = re.search(r"`Experiment\((.*?)\)`", contract, flags=re.S).group(1)
    fields = [field.name for field in dataclasses.fields(Experiment)]
    assert [f for f in fields if not re.search(rf"\b{f}\b", signature)] == []
    assert [f for f in fields if f"`{f}`" not in contract and f"`{f}(" not in contract] == []


def test_the_contract_describes_every_replica_recipe_field():
    from common.toolkit.train.recipe import ReplicaRecipe
    contract = (REPO / "docs" / "CONTRACT.md").read_text()
    fields = [field.name for field in dataclasses.fields(ReplicaRecipe)]
    assert [f for f in fields if f"`{f}`" not in contract and f"`{f}(" not in contract] == []


INTERVAL = re.compile(r"\[\s*-?\d[\d.,]*%?\s*,\s*-?\d[\d.,]*%?\s*\]")  # [76.80, 86.84] or [53.8%, 92.8%]
VERDICTS = re.compile(r"[*_]{1,2}(reproduced|not reproduced[^*_]*|inconclusive|degenerate run|not comparable)[*_]{1,2}",
                      re.I)


@pytest.mark.parametrize("paper", list(papers.PAPERS))
def test_a_paper_readme_quotes_no_verdict_or_interval_and_links_its_scoreboard_rows(paper):
    """Verdicts and intervals change with every run: the scoreboard states them, a README links them."""
    text = prose(REPO / "papers" / paper / "README.md")
    assert INTERVAL.findall(text) == [], f"papers/{paper}/README.md quotes intervals by hand"
    assert VERDICTS.findall(text) == [], f"papers/{paper}/README.md quotes verdicts by hand"
    assert f"../../results/README.md#{paper}" in text
