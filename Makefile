VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Run the service on the embedded SQLite default (./seam.db).
run: $(STAMP)
	$(VENV)/bin/seam serve $(ARGS)

# Segment's browser SDK for tests/browser/test_segment_browser_sdk.py, from the npm registry.
SDK_STAMP := tests/browser/sdk/node_modules/.installed
$(SDK_STAMP): tests/browser/sdk/package-lock.json
	npm ci --prefix tests/browser/sdk --no-audit --no-fund --loglevel=error
	touch $(SDK_STAMP)

## Run the whole test suite (SQLite and PostgreSQL backends, browser, SDK compat).
test: $(STAMP) $(SDK_STAMP)
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/browser/sdk/node_modules
