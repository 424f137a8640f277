# The README's commands: `make demo` runs the line, `make check` is the fast loop between edits, `make test` checks
# everything (what CI runs), `make bench` measures. Each installs what it needs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What the demo needs: the CPU build of torch and the package itself.
BASE := $(VENV)/.base
# What the tests need on top: the linters, pytest, and llama.cpp's server for the real-model tests.
STAMP := $(VENV)/.installed
# pytest's worker processes for the full suite; ports and folders are per test, so tests may run side by side.
WORKERS ?= 2

.PHONY: demo check test fast lint typecheck bench clean browser

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The CPU build of torch first: left to the resolver, torch comes as a multi-GB CUDA build.
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $(BASE)

# llama-cpp-python compiles for about six minutes on two cores: only the tests and people who want it pay that.
$(STAMP): $(BASE)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,llm]'
	touch $(STAMP)

# e.g. make demo DEMO_ARGS='--port 4841 --console-port 8502' when the default ports are taken.
DEMO_ARGS ?=
demo: $(BASE)
	$(BIN)/copilot demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The fast tier: no sockets, no subprocesses, no browser (the tier's guard in tests/conftest.py fails a test that
# tries); what to run between edits.
fast: $(STAMP)
	$(BIN)/python -m pytest -m fast -q --durations=10

check: lint typecheck fast

# The console's end-to-end tests drive Debian's Chromium through Playwright; never a browser download.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "the browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install chromium'" >&2; \
	    exit 1; \
	  fi; \
	fi

# The whole suite, the fast tier included; the 20 slowest tests are printed so their cost stays in view.
test: lint typecheck browser
	$(BIN)/python -m pytest -n $(WORKERS) --durations=20

bench: $(STAMP)
	$(BIN)/python -m evals.bench_startup
	$(BIN)/python -m evals.bench_subscription
	$(BIN)/python -m evals.bench_knowledge
	$(BIN)/copilot eval --suite retrieval
	$(BIN)/copilot eval --suite faults
	$(BIN)/python -m evals.bench_model
	$(BIN)/copilot eval --suite safety
	$(BIN)/python -m evals.bench_races
	$(BIN)/python -m evals.bench_console
	$(BIN)/python -m evals.bench_console --copilot-open --runs 3

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
