# Tandem: `make up` runs the platform, `make test` runs the whole suite.
# Both create the virtual environment and install the project first (once; again when
# pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install up test unit integration bench schemas check-schemas clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Tandem needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres]"
	@touch $@

up: $(INSTALLED)
	$(BIN)/tandem up

test: $(INSTALLED)
	$(BIN)/pytest

unit: $(INSTALLED)
	$(BIN)/pytest tests/unit tests/api

integration: $(INSTALLED)
	$(BIN)/pytest -m integration

bench: $(INSTALLED)
	$(BIN)/python bench/enrolment_import.py
	$(BIN)/python bench/replay.py

schemas: $(INSTALLED)
	$(BIN)/python -m contracts.schemas

check-schemas: $(INSTALLED)
	$(BIN)/python -m contracts.schemas --check

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
