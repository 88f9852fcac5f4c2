# Jalon's two commands: `make demo` (set up, then run the main job on an SQLite file) and
# `make check` (set up, then lint, type-check and run the whole test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo check test lint typecheck bench lock schema clean postgres

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jalon demo

check: $(STAMP) postgres lint typecheck test

postgres:
	@bash scripts/ensure-postgres

lint: $(STAMP)
	$(BIN)/ruff check engine storage workflows tests docs/examples
	$(BIN)/ruff format --check engine storage workflows tests docs/examples

typecheck: $(STAMP)
	$(BIN)/mypy engine storage workflows tests docs/examples

test: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP) postgres
	$(BIN)/python -m tests.benchmarks.run

schema: $(STAMP)
	$(BIN)/jalon workflows schema --write

# Regenerate the lock file from pyproject.toml (needs network access to PyPI).
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml scripts/lock-extra.in --extra dev --universal \
	    --python-version 3.11 --generate-hashes --output-file requirements.lock
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
