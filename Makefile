# Two commands on a fresh clone: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: demo test lint format browser nginx bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

## make demo: the main job on the built-in Zoom sandbox (no credentials, no network)
demo: $(VENV)/.installed
	$(BIN)/homeroom demo

## make test: ruff, then every test (browser tests need Chromium, proxy tests nginx: installed here when possible)
test: $(VENV)/.installed-dev browser nginx lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## browser: Debian's chromium for the browser tests; skipped (loudly, by the tests) where it cannot be installed
browser:
	@.ci/ensure-chromium || true

## nginx: Debian's nginx-light for the proxy tests; skipped (loudly, by the tests) where it cannot be installed
nginx:
	@.ci/ensure-nginx || true

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/mixitup.py
	$(BIN)/python bench/zoom_calls.py
	$(BIN)/python bench/reading.py
	$(BIN)/python bench/unmatched_read.py
	$(BIN)/python bench/webhook_intake.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
