# Stack Club: two commands do all the set-up.
#   make lab    create .venv, install everything, build the demo repository, start JupyterLab
#   make test   create .venv, install everything, run the unit tests and every notebook (nbval)
# Other targets: notebooks (re-execute the notebooks in place), bench, clean, help.
#
# Python >= 3.12 is required (lsst-images and the current Rubin middleware need it).
# Pick one explicitly with  make test PYTHON=/path/to/python3.12

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
# Extras installed by `make lab` / `make test`.
EXTRAS_TEST := stack,test,lab,bench,bps
EXTRAS_LAB := stack,lab,test,bps

# Find an interpreter >= 3.12: PYTHON=...; python3.13/python3.12 on PATH; one that
# pyenv installed (even when it is not the pyenv global); python3 when it is new enough.
PYTHON ?= $(shell ./.ci/find-python 2>/dev/null)

# Commands run by make (and notebooks' `!stackclub ...` / `!pipetask ...` cells) find the venv's tools.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help lab test notebooks bench clean demo-repo check-python venv-test venv-lab docs test-browser

help:  ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "Stack Club needs Python >= 3.12 (none found on PATH or in pyenv). Install one, then run: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12" >&2; exit 2; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(subst _,$(comma),$*)]"
	@touch $@

comma := ,
venv-test: check-python $(BIN)/python
	@$(MAKE) --no-print-directory $(VENV)/.installed-$(subst $(comma),_,$(EXTRAS_TEST))

venv-lab: check-python $(BIN)/python
	@$(MAKE) --no-print-directory $(VENV)/.installed-$(subst $(comma),_,$(EXTRAS_LAB))

PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)
check-python:
	@if [ -n "$(PYTHON)" ] && ! "$(PYTHON)" -c '$(PY_OK)' 2>/dev/null; then \
	  echo "Stack Club needs Python >= 3.12, but PYTHON=$(PYTHON) is $$("$(PYTHON)" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo 'not runnable'). Run: make $(or $(MAKECMDGOALS),test) PYTHON=/path/to/python3.12" >&2; exit 2; fi
	@if [ -x "$(BIN)/python" ] && ! "$(BIN)/python" -c '$(PY_OK)'; then \
	  echo "$(VENV) was made with Python < 3.12; run 'make clean' first." >&2; exit 2; fi

test: check-python venv-test  ## install everything and run unit tests + every notebook (nbval)
	@$(MAKE) --no-print-directory _demo-repo
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: check-python venv-lab  ## install everything, build the demo repository, start JupyterLab
	@$(MAKE) --no-print-directory _demo-repo
	$(BIN)/jupyter lab notebooks/

demo-repo: check-python venv-lab  ## build the demo Butler repository if it is missing
	@$(MAKE) --no-print-directory _demo-repo

_demo-repo:
	@if $(BIN)/python -c 'import stackclub.simcam.repo' 2>/dev/null; then \
	  $(BIN)/python -c 'import stackclub.simcam as s; print("demo repository:", s.demo_repo())'; \
	else echo "(simulated camera not available yet: skipping the demo repository)"; fi

NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))
notebooks: check-python venv-test  ## re-execute every notebook in place (committed outputs are real)
	@$(MAKE) --no-print-directory _demo-repo
	@set -e; for nb in $(NOTEBOOKS); do echo "== $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 "$$nb"; done

bench: check-python venv-test  ## run the benchmarks (ratios against peers measured in the same run)
	@set -e; for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

# The documentation site and the browser test (issue 11).  Notebooks are rendered from their
# committed outputs (never re-executed); the API pages' examples run at build time, offline.
EXTRAS_DOCS := stack,lab,docs
EXTRAS_BROWSER := stack,lab,docs,browser
SPHINXOPTS ?= -W --keep-going -q
docs: check-python $(BIN)/python  ## build the documentation site into docs/_build/html (warnings are errors)
	@$(MAKE) --no-print-directory $(VENV)/.installed-$(subst $(comma),_,$(EXTRAS_DOCS))
	$(BIN)/python -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

test-browser: check-python $(BIN)/python  ## JupyterLab + the docs site in headless Chromium (needs Debian's chromium)
	@$(MAKE) --no-print-directory $(VENV)/.installed-$(subst $(comma),_,$(EXTRAS_BROWSER))
	@$(MAKE) --no-print-directory _demo-repo
	@$(MAKE) --no-print-directory docs EXTRAS_DOCS=$(EXTRAS_BROWSER)
	STACKCLUB_BROWSER_TEST=1 $(BIN)/python -m pytest tests/browser -o addopts=-ra -p no:cacheprovider -v $(PYTEST_ARGS)

clean:  ## remove the virtual environment and build products
	rm -rf $(VENV) build *.egg-info .pytest_cache
