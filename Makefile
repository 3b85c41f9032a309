# The targets here are what README.md tells people to type.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: demo test check bench fuzz reliability screenshots serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/ensync-tui --demo

test: $(TSTAMP)
	$(BIN)/python -m pytest -q

check: $(TSTAMP)
	$(BIN)/ruff format --check ensync_tui tests
	$(BIN)/ruff check ensync_tui tests
	$(BIN)/mypy

bench: $(TSTAMP)
	$(BIN)/python -m tests.benchmarks

fuzz: $(TSTAMP)
	$(BIN)/python -m tests.fuzz

reliability: $(TSTAMP)
	$(BIN)/python -m pytest -q -m reliability tests/reliability

screenshots: $(TSTAMP)
	$(BIN)/python -m tests.screenshots

serve: $(STAMP)
	@test -f .ensync-dev/engine.toml || $(BIN)/ensync-tui engine init .ensync-dev
	$(BIN)/ensync-tui serve --config .ensync-dev/engine.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
