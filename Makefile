# `make repro`: set up, then run the whole pipeline on the full data.
# `make test`:  set up, then run the tests (small data, no network).
# `make sweep`, `make summary`, `make tables`, `make plots`, `make bench`, `make lint`: see README.md.
# Set-up is skipped when the venv already holds what the requirements files ask for; it also
# writes the offline template for `dvc plots show` (Vega inlined, from vl-convert-python).
# Each runs on the newest of python3.13, python3.12, python3.11 and python3 that is one of
# SUPPORTED, or on the Python named: `make test PYTHON=python3.13`.

# TensorFlow 2.21 has wheels for these only.
SUPPORTED := 3.11 3.12 3.13
# A Python counts only if it runs: a pyenv shim is on PATH even for versions pyenv hasn't selected.
version_of = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
newest_python = $(firstword $(foreach p,python3.13 python3.12 python3.11 python3,$(if $(filter $(SUPPORTED),$(call version_of,$(p))),$(p))))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(newest_python)
endif
PYTHON_VERSION := $(if $(PYTHON),$(call version_of,$(PYTHON)))

# Stop before anything installs: pip would only fail later, on TensorFlow.
NEEDS := mnist-transfer needs Python 3.11, 3.12 or 3.13 (TensorFlow 2.21's wheels)
TRY = $(strip make $(MAKECMDGOALS) PYTHON=$(or $(newest_python),/path/to/python3.13))
ifeq ($(PYTHON),)
$(error no Python 3.11-3.13 runs here as python3.13, python3.12, python3.11 or python3; $(NEEDS): $(TRY))
else ifeq ($(PYTHON_VERSION),)
$(error $(PYTHON) does not run here; $(NEEDS): $(TRY))
else ifeq ($(filter $(SUPPORTED),$(PYTHON_VERSION)),)
$(error $(PYTHON) is Python $(PYTHON_VERSION); $(NEEDS): $(TRY))
endif

# One venv per Python minor version, side by side (CI tests 3.11 and 3.13 in one clone):
# .venv is the first made, the one README.md activates; another minor gets .venv-3.X.
ifeq ($(origin VENV),undefined)
VENV := $(if $(wildcard .venv),$(if $(wildcard .venv/bin/python$(PYTHON_VERSION)),.venv,.venv-$(PYTHON_VERSION)),.venv)
endif
ifneq ($(wildcard $(VENV)/bin/python),)
ifeq ($(wildcard $(VENV)/bin/python$(PYTHON_VERSION)),)
$(error $(VENV) is not a Python $(PYTHON_VERSION) venv, as $(PYTHON) is; leave VENV out and make picks one)
endif
endif
BIN := $(CURDIR)/$(VENV)/bin
# TensorFlow's GPU build where an NVIDIA driver answers, its CPU build elsewhere.
TENSORFLOW := $(if $(shell nvidia-smi -L 2>/dev/null),requirements-gpu.txt,requirements-cpu.txt)
INSTALLED := $(VENV)/installed-$(basename $(TENSORFLOW))
PLOTS_TEMPLATE := .dvc/offline_plots.html

.PHONY: setup repro test lint bench sweep summary plots tables

setup: $(INSTALLED) $(PLOTS_TEMPLATE)

$(INSTALLED): requirements.txt $(TENSORFLOW) requirements-packaged.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(TENSORFLOW)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: --require-hashes -r requirements-packaged.txt
	rm -f $(VENV)/installed-*
	touch $@

$(PLOTS_TEMPLATE): $(INSTALLED)
	$(BIN)/python -m mnist_transfer.publishing.offline_plots template

repro: setup
	PATH="$(BIN):$$PATH" dvc repro

# TESTS: pytest's arguments, every test by default; `make test TESTS='-m "not reruns"'` leaves
# out those that run the pipeline again (tests/conftest.py).
test: setup
	PATH="$(BIN):$$PATH" python -m pytest $(TESTS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The charts of `dvc plots show` as PNGs in metrics/plots/, and a screenshot of its page
# opened with no network (needs chromium), from this workspace's outputs.
plots: setup
	PATH="$(BIN):$$PATH" python -m mnist_transfer.publishing.offline_plots pngs
	PATH="$(BIN):$$PATH" python -m mnist_transfer.publishing.offline_plots screenshot

bench: setup
	PATH="$(BIN):$$PATH" python -m bench

# `make sweep SEEDS='range(0,10)' SET='head.optimizer=adam epochs=3'`: one experiment per seed
# on Dask (a LocalCluster of JOBS workers, or SCHEDULER's workers, which clone GIT_REMOTE), then
# the summary; RECORD=NAME also appends each run to metrics/runs/NAME.jsonl (RESUME=1: only the
# seeds it lacks run). `make summary`
# prints the summary alone (RECORD=NAME: of that record).
SEEDS ?= range(0,10)
SET ?=
JOBS ?= 2
SCHEDULER ?=
GIT_REMOTE ?=
RECORD ?=
RESUME ?=
sweep: setup
	PATH="$(BIN):$$PATH" python -m mnist_transfer.experiments.sweep --seeds '$(SEEDS)' -j $(JOBS) $(foreach s,$(SET),-S $(s)) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(GIT_REMOTE),--git-remote $(GIT_REMOTE)) \
		$(if $(RECORD),--record $(RECORD)) $(if $(RESUME),--resume)

summary: setup
	PATH="$(BIN):$$PATH" python -m mnist_transfer.experiments.summary $(if $(RECORD),--record $(RECORD))

# `make tables`: every results table in README.md and docs/ written again from metrics/.
tables: setup
	$(BIN)/python -m mnist_transfer.publishing.tables
