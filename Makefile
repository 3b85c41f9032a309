# The targets here are what README.md tells people to type.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: demo demo-web test coverage check bench fuzz reliability screenshots serve clean

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

demo-web: $(STAMP)
	$(BIN)/ensync-tui web --demo

test: $(TSTAMP)
	$(BIN)/python -m pytest -q

coverage: $(TSTAMP)
	$(BIN)/python -m pytest -q --cov=ensync_tui --cov-branch --cov-report=term

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
	ENSYNC_TUI_WEB_SCREENSHOT=screenshots/web.png $(BIN)/python -m pytest -q \
		tests/cli/test_web_browser.py

# make serve: a local engine in .ensync-dev/ (ws://); make serve TLS=1: in .ensync-dev-tls/,
# serving wss:// with a local CA that the profiles there trust
DEV := .ensync-dev$(if $(TLS),-tls)

serve: $(STAMP)
	@test -f $(DEV)/engine.toml || $(BIN)/ensync-tui engine init $(DEV) $(if $(TLS),--tls)
	$(BIN)/ensync-tui serve --config $(DEV)/engine.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
