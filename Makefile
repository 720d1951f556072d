# `make repro`: set up, then run the whole pipeline on the full data.
# `make test`:  set up, then run the tests (small data, no network).
# `make sweep`, `make summary`, `make plots`, `make bench`, `make lint`: see README.md.
# Set-up is skipped when .venv already holds what the requirements files ask for; it also
# writes the offline template for `dvc plots show` (Vega inlined, from vl-convert-python).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# TensorFlow's GPU build where an NVIDIA driver answers, its CPU build elsewhere.
TENSORFLOW := $(if $(shell nvidia-smi -L 2>/dev/null),requirements-gpu.txt,requirements-cpu.txt)
INSTALLED := $(VENV)/installed-$(basename $(TENSORFLOW))
PLOTS_TEMPLATE := .dvc/offline_plots.html

.PHONY: setup repro test lint bench sweep summary plots

setup: $(INSTALLED) $(PLOTS_TEMPLATE)

$(INSTALLED): requirements.txt $(TENSORFLOW) requirements-packaged.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(TENSORFLOW)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-packaged.txt
	rm -f $(VENV)/installed-*
	touch $@

$(PLOTS_TEMPLATE): $(INSTALLED)
	$(BIN)/python -m mnist_transfer.offline_plots template

repro: setup
	PATH="$(BIN):$$PATH" dvc repro

test: setup
	PATH="$(BIN):$$PATH" python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The charts of `dvc plots show` as PNGs in metrics/plots/, and a screenshot of its page
# opened with no network (needs chromium), from this workspace's outputs.
plots: setup
	PATH="$(BIN):$$PATH" python -m mnist_transfer.offline_plots pngs
	PATH="$(BIN):$$PATH" python -m mnist_transfer.offline_plots screenshot

bench: setup
	PATH="$(BIN):$$PATH" python -m bench

# `make sweep SEEDS='range(0,10)' SET='head.optimizer=adam epochs=3'`: queue one experiment
# per seed, run them two at a time, print the summary. `make summary` prints it alone.
SEEDS ?= range(0,10)
SET ?=
sweep: setup
	PATH="$(BIN):$$PATH" python -m mnist_transfer.sweep --seeds '$(SEEDS)' $(foreach s,$(SET),-S $(s))

summary: setup
	PATH="$(BIN):$$PATH" python -m mnist_transfer.summary
