# The suite's commands. The first use creates .venv/ and installs the pinned
# dependencies (setup.cfg) into it; later uses reuse it. The suite wants an environment
# of its own: its top-level packages are named `common`, `datasets` and `papers`.
#   make test                     install if needed, lint (ruff), run the tests
#   make demo                     one experiment per paper on synthetic data, a few minutes -> runs/demo/
#   make demo-all                 every paper's default experiments on synthetic data -> runs/demo/
#   make reproduce-<paper>        a paper's experiments on real data -> results/<paper>/
#        DATA_DIR=/data  DATASET=ckplus  EPOCHS=5  REPEATS=3  EXPERIMENT=ckplus_subject_10fold
#        EXPERIMENT_BUDGET=90m  (as many repeats or folds of the paper's recipe as fit, at least 2)
#        (DATA_DIR defaults to FER_SUITE_DATA_DIR from the environment, else ../shared/datasets beside the checkout: datasets/paths.py)
#   make audit                    recompute what each paper's printed numbers imply -> results/audit.md
#   make bench                    speed benchmarks -> runs/bench/*.json (scratch; the tree stays clean)
#   make bench-commit             the same -> results/bench/*.json, the committed figures (each names its machine)
#   make list                     papers and their experiments
#   make clean                    remove the venv, caches and scratch runs (results/ stays)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install test lint demo demo-all audit bench bench-commit clean list

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# Tests run in parallel processes (pytest-xdist), one more than the cores, at most 4: a worker often waits on a
# smoke run another is training (each is trained once per session and shared, tests/conftest.py) or on a
# subprocess, and the extra one keeps the cores busy then (on 2 cores, busy 97% of the run against 90%).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(os.cpu_count() + 1, 4))")
test: lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15

lint: install
	$(PY) -m ruff check .

demo: install
	$(PY) -m papers demo

demo-all: install
	$(PY) -m papers demo --all

list: install
	$(PY) -m papers list

# The paper name is checked against the registry (papers/__init__.py) by the CLI.
reproduce-%: install
	$(PY) -m papers $* reproduce $(if $(DATA_DIR),--data-dir $(DATA_DIR)) \
		$(if $(DATASET),--dataset $(DATASET)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(REPEATS),--repeats $(REPEATS)) \
		$(if $(EXPERIMENT),--experiment $(EXPERIMENT)) $(if $(EXPERIMENT_BUDGET),--budget $(EXPERIMENT_BUDGET))

audit: install
	$(PY) -m papers audit

# The `fer` package is the peer the webcam benchmark compares with; --no-deps because
# its dependencies pull PyTorch and break numpy (it only needs what we already have).
bench: install
	$(PY) -m pip install --quiet --no-deps fer==25.10.3
	$(PY) -m papers bench

# Rewrites the committed figures: run it on the machine whose figures results/bench/ should hold.
bench-commit: install
	$(PY) -m pip install --quiet --no-deps fer==25.10.3
	$(PY) -m papers bench --out results/bench

clean:
	rm -rf $(VENV) cache runs .pytest_cache .ruff_cache build dist *.egg-info
