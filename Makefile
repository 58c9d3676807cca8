# The two commands of the README. Each one sets itself up: a virtual environment in .venv with an
# editable install of vessnb and its tool chain (nothing outside the repository is needed).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# torch: on the project's CPU machines the 2.13.0 CPU build lies on disk; override with TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
RUN ?= default
RUN_ARGS ?=
BIN := $(VENV)/bin

.PHONY: run test docs setup clean-runs

$(BIN)/.installed: setup.py settings.ini
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

## make run: the whole pipeline on the synthetic default, on the CPU, into runs/$(RUN)/
run: setup
	@echo "make run: the whole pipeline on the synthetic default into runs/$(RUN)/ -- about a minute and a half on a quiet 2-core CPU (85 s measured, README), longer while the machine is busy"
	$(BIN)/vessnb run --run-dir runs/$(RUN) $(RUN_ARGS)

## make test: export and clean checks, README, every notebook run and processed for the docs, wheel check (with the smoke run);
## load-proof (hang guards only), leaves nothing in $$TMPDIR, prints each step's time and the total last (tools/test.sh)
test: setup
	PATH="$(abspath $(BIN)):$$PATH" bash tools/test.sh

## make docs: the documentation site in _docs/, with the explorer of runs/$(RUN) (made by `make run` when absent).
## tools/docs.py runs the notebooks (their outputs are the pages' figures) and does nbdev's processing into _proc/; the render needs Quarto (https://quarto.org). nbdev_docs is
## not used: it would also rewrite README.md, which tools/readme.py owns.
docs: setup
	test -d runs/$(RUN)/jacobians.zarr || $(MAKE) run
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python tools/docs.py --run runs/$(RUN) --flags slow
	@command -v quarto >/dev/null || { echo "make docs: _proc/ is ready, but rendering it needs Quarto (https://quarto.org)"; exit 1; }
	cd _proc && quarto render --no-cache
	rm -rf _docs && mv _proc/_docs _docs

clean-runs:
	rm -rf runs/
