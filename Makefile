# Two commands: `make run` (install, migrate, seed London when empty, serve) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORTFOLIO := $(BIN)/portfolio

.PHONY: setup run test lint bench clean screenshots

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

run: setup
	$(PORTFOLIO) db upgrade
	$(PORTFOLIO) seed london --if-empty
	$(PORTFOLIO) serve

# The browser and PostgreSQL the suite needs: set up when root, or told what to install.
test: setup
	bash .ci/services
	$(BIN)/pytest

# PNGs of the main pages at 1366 and 390 px for a reviewer, in var/screenshots/ (not committed).
screenshots: setup
	$(BIN)/pytest tests/browser/screenshots.py -q -s

lint: setup
	$(BIN)/ruff check portfolio scoring web seeds tests bench migrations
	$(BIN)/mypy portfolio web scoring seeds

bench: setup $(VENV)/.bench-installed
	$(BIN)/python -m bench.run_all

# Datasette, the pages' and exports' peer, is only needed to benchmark.
$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .hypothesis
