# upskill-connector: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall whenever pyproject.toml changes.
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml 2>/dev/null | cut -c1-12)

.PHONY: demo test lint typecheck unit bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/upskill demo

lint: $(STAMP)
	$(BIN)/ruff check connector tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q --cov=connector --cov-report=term:skip-covered --cov-fail-under=90

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.directory
	$(BIN)/python -m bench.mappings
	$(BIN)/python -m bench.moodle
	$(BIN)/python -m bench.ldap
	$(BIN)/python -m bench.report

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .coverage
