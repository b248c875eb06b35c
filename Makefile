# Stack Club: two commands do all the set-up.
#   make lab    create .venv, install the locked versions, build the demo repository, start JupyterLab
#   make test   create .venv, install the locked versions, run the unit tests and every notebook (nbval),
#               then the notebooks again with numpy's SIMD dispatch held to its baseline
# Other targets: notebooks (re-execute the notebooks in place), bench, docs, test-browser, doctor,
# lock (refresh requirements/lock.txt), test-latest (newest versions, no lock: reports/latest.md),
# clean, help.
#
# Versions: every target installs requirements/lock.txt (exact versions, hashes checked), then Stack
# Club itself with --no-deps, so the environment is the one the committed notebook outputs were made
# with.  `make lock` refreshes the lock; `make test-latest` tries the newest versions without it.
#
# Python >= 3.12 is required (lsst-images and the current Rubin middleware need it).
# Pick one explicitly with  make test PYTHON=/path/to/python3.12

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
# The lock: every dependency of pyproject.toml (core + every extra), pinned with hashes, made by
# `uv pip compile --universal` (Linux and macOS, Python >= 3.12).  Every target installs from it.
LOCK ?= requirements/lock.txt
# Every extra of pyproject.toml: the lock pins them all; test-latest installs them all, unpinned.
EXTRAS_ALL := stack,test,lab,bench,bps,docs,browser,lock,dev

# Find an interpreter >= 3.12: PYTHON=...; python3.13/python3.12 on PATH; one that
# pyenv installed (even when it is not the pyenv global); python3 when it is new enough.
PYTHON ?= $(shell ./.ci/find-python 2>/dev/null)

# Commands run by make (and notebooks' `!stackclub ...` / `!pipetask ...` cells) find the venv's tools.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help lab test notebooks bench clean demo-repo check-python venv venv-test venv-lab docs test-browser \
	lock test-latest doctor lint test-baseline

help:  ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "Stack Club needs Python >= 3.12 (none found on PATH or in pyenv). Install one, then run: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12" >&2; exit 2; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed from the lock (re-done whenever the lock or pyproject.toml changes), then Stack Club
# itself without dependencies: pip never picks a version the lock does not name.
$(VENV)/.installed-lock: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

venv: check-python $(BIN)/python
	@$(MAKE) --no-print-directory $(VENV)/.installed-lock
venv-test venv-lab: venv

PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)
check-python:
	@if [ -n "$(PYTHON)" ] && ! "$(PYTHON)" -c '$(PY_OK)' 2>/dev/null; then \
	  echo "Stack Club needs Python >= 3.12, but PYTHON=$(PYTHON) is $$("$(PYTHON)" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo 'not runnable'). Run: make $(or $(MAKECMDGOALS),test) PYTHON=/path/to/python3.12" >&2; exit 2; fi
	@if [ -x "$(BIN)/python" ] && ! "$(BIN)/python" -c '$(PY_OK)'; then \
	  echo "$(VENV) was made with Python < 3.12; run 'make clean' first." >&2; exit 2; fi

test: check-python venv  ## install the locked versions, run unit tests + every notebook (nbval), twice
	@$(MAKE) --no-print-directory _demo-repo
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-baseline

# numpy picks SIMD code per CPU at run time (AVX-512 here, AVX2 on most laptops, NEON on a Mac),
# and transcendental ufuncs differ in the last digits between those code paths: a notebook that
# prints a float in full passes on its author's machine and fails on a reader's.  So the notebooks
# run a second time with numpy held to its baseline: NPY_DISABLE_CPU_FEATURES names every dispatch
# target this CPU has (.ci/numpy-baseline computes them for this numpy and this CPU: numpy 2.5 on
# an AVX-512 x86-64 prints "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"; nothing where numpy dispatches to
# nothing beyond its baseline, and then the first pass was that run already).
test-baseline: check-python venv  ## run the notebooks (nbval) with numpy's SIMD dispatch held to its baseline
	@features="$$(env -u NPY_DISABLE_CPU_FEATURES $(BIN)/python .ci/numpy-baseline)" || exit 2; \
	if [ -z "$$features" ]; then \
	  echo "numpy dispatches to nothing beyond its baseline on this CPU: the notebooks ran at baseline already"; \
	else \
	  echo "== the notebooks again, numpy held to its baseline: NPY_DISABLE_CPU_FEATURES=\"$$features\""; \
	  NPY_DISABLE_CPU_FEATURES="$$features" $(BIN)/python -m pytest -p no:cacheprovider notebooks/; \
	fi

lab: check-python venv  ## install the locked versions, build the demo repository, start JupyterLab
	@$(MAKE) --no-print-directory _demo-repo
	$(BIN)/jupyter lab notebooks/

demo-repo: check-python venv  ## build the demo Butler repository if it is missing
	@$(MAKE) --no-print-directory _demo-repo

_demo-repo:
	@if $(BIN)/python -c 'import stackclub.simcam.repo' 2>/dev/null; then \
	  $(BIN)/python -c 'import stackclub.simcam as s; print("demo repository:", s.demo_repo())'; \
	else echo "(simulated camera not available yet: skipping the demo repository)"; fi

NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))
notebooks: check-python venv  ## re-execute every notebook in place (committed outputs are real)
	@$(MAKE) --no-print-directory _demo-repo
	@set -e; for nb in $(NOTEBOOKS); do echo "== $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 "$$nb"; done

bench: check-python venv  ## run the benchmarks (ratios against peers measured in the same run)
	@set -e; for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b; done

# The documentation site and the browser test (issue 11).  Notebooks are rendered from their
# committed outputs (never re-executed); the API pages' examples run at build time, offline.
SPHINXOPTS ?= -W --keep-going -q
docs: check-python venv  ## build the documentation site into docs/_build/html (warnings are errors)
	$(BIN)/python -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

test-browser: check-python venv  ## JupyterLab + the docs site in headless Chromium (needs Debian's chromium)
	@$(MAKE) --no-print-directory _demo-repo
	@$(MAKE) --no-print-directory docs
	STACKCLUB_BROWSER_TEST=1 $(BIN)/python -m pytest tests/browser -o addopts=-ra -p no:cacheprovider -v $(PYTEST_ARGS)

# The linters of pyproject.toml (ruff with pydocstyle, numpydoc validation, mypy); CI (.ci/run) runs
# them before the tests, and .pre-commit-config.yaml runs the same on every commit.  numpydoc checks
# the package's modules: those git tracks, or every one in a copy that is not a git checkout.
LINT_PY = $(shell git ls-files 'stackclub/*.py' 2>/dev/null || find stackclub -name '*.py' | sort)
lint: check-python venv  ## ruff (with pydocstyle), numpydoc validation and mypy, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/numpydoc lint $(LINT_PY)
	$(BIN)/mypy stackclub

doctor: check-python venv  ## check this set-up: Python, versions against the lock, demo repository, JupyterLab
	$(BIN)/stackclub doctor

# --- versions: refresh the lock; try the newest versions without it (issue 12) ---------------------

# `make lock` resolves the newest versions of everything (UPGRADE=--upgrade); to move one package
# only: make lock UPGRADE="--upgrade-package lsst-daf-butler".  Review `git diff requirements/`,
# run `make test` (it installs the new lock), re-execute the notebooks, commit lock + notebooks.
UPGRADE ?= --upgrade
LOCK_COMPILE = $(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.12 \
	--generate-hashes --custom-compile-command "make lock" --quiet
lock: check-python $(BIN)/python  ## refresh requirements/lock.txt with the newest versions (uv pip compile)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv>=0.9"
	$(LOCK_COMPILE) $(UPGRADE) --output-file $(LOCK)
	@echo "$(LOCK) refreshed. Next: git diff $(LOCK); make test (installs it); make notebooks; commit."

# `make test-latest`: a fresh .venv-latest with the newest versions the registry offers (no lock),
# the whole test suite and every notebook (nbval only reads the notebooks), with its own demo
# repository and test output under .venv-latest.  reports/latest.md says which versions moved and
# what broke; the exit status is non-zero iff anything broke.
VENV_LATEST ?= .venv-latest
REPORTS ?= reports
LATEST_ENV = PATH="$(abspath $(VENV_LATEST))/bin:$$PATH" \
	STACKCLUB_DEMO_REPO="$(abspath $(VENV_LATEST))/demo_repo" \
	STACKCLUB_TEST_OUTPUT="$(abspath $(VENV_LATEST))/test-output"
test-latest: check-python  ## newest versions (no lock) in .venv-latest: all tests + notebooks -> reports/latest.md
	@if [ -z "$(PYTHON)" ]; then echo "Stack Club needs Python >= 3.12: make test-latest PYTHON=/path/to/python3.12" >&2; exit 2; fi
	rm -rf $(VENV_LATEST)
	$(PYTHON) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[$(EXTRAS_ALL)]"
	@mkdir -p $(REPORTS)
	@# nbval sees this venv and its demo repository as .venv and ./demo_repo (the paths the committed
	@# outputs show), then applies notebooks/sanitize.cfg: only what the new versions change differs.
	@{ printf '%s\n' "# written by make test-latest: two rules, then notebooks/sanitize.cfg" \
	    "[test-latest: its demo repository]" "regex: $(abspath $(VENV_LATEST))/demo_repo" "replace: $(CURDIR)/demo_repo" "" \
	    "[test-latest: its virtual environment]" "regex: $(abspath $(VENV_LATEST))/" "replace: $(CURDIR)/.venv/" ""; \
	  cat notebooks/sanitize.cfg; } > $(VENV_LATEST)/sanitize.cfg
	@$(LATEST_ENV) $(VENV_LATEST)/bin/python -c 'import stackclub.simcam as s; print("demo repository:", s.demo_repo(progress=False))' \
	  || echo "(building the demo repository failed with the newest versions: the notebooks will say why)"
	@set +e; $(LATEST_ENV) $(VENV_LATEST)/bin/python -m pytest -p no:cacheprovider --color=no -v \
	  --continue-on-collection-errors --nbval-sanitize-with=$(VENV_LATEST)/sanitize.cfg \
	  --junitxml=$(REPORTS)/latest-junit.xml $(PYTEST_ARGS) 2>&1 \
	  | tee $(REPORTS)/latest-pytest.log; \
	  status=$${PIPESTATUS[0]}; \
	  $(VENV_LATEST)/bin/python tools/latest_report.py --lock $(LOCK) --junit $(REPORTS)/latest-junit.xml \
	    --pytest-exit $$status --log $(REPORTS)/latest-pytest.log --output $(REPORTS)/latest.md

clean:  ## remove the virtual environments and build products
	rm -rf $(VENV) $(VENV_LATEST) build *.egg-info .pytest_cache
