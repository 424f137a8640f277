# The two commands of the README: `make demo` runs the line, `make test` checks everything.
# Each creates its own virtual environment on first use and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The CPU build of torch first: left to the resolver, torch comes as a multi-GB CUDA build.
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,llm]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/copilot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The console's end-to-end test drives Debian's Chromium through Playwright; never a browser download.
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

test: lint typecheck browser
	$(BIN)/python -m pytest --durations=25

bench: $(STAMP)
	$(BIN)/python -m evals.bench_subscription
	$(BIN)/python -m evals.bench_knowledge
	$(BIN)/copilot eval --suite retrieval
	$(BIN)/copilot eval --suite faults
	$(BIN)/copilot eval --suite safety
	$(BIN)/python -m evals.bench_races
	$(BIN)/python -m evals.bench_console

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
