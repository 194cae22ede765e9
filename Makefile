# Tandem: `make up` runs the platform, `make test` runs the whole suite.
# Both create the virtual environment and install the project first (once; again when
# pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install apache-kafka up typecheck test test-postgres test-tansu unit integration bench bench-load bench-brokers bench-group-scale soak schemas check-schemas translations clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Tandem needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres]"
	@touch $@

up: $(INSTALLED)
	$(BIN)/tandem up

# Apache Kafka's jars from Maven Central (needs Java and Maven), into .apache-kafka/. Without
# them the tests on Apache Kafka skip, except under CI, where fetching must work.
apache-kafka:
	@bash infra/apache-kafka/fetch.sh || { [ -z "$$CI" ] && echo "Apache Kafka was not fetched: its tests will skip"; }

# mypy over services/ and contracts/ ([tool.mypy] in pyproject.toml); `make test` runs it first.
typecheck: $(INSTALLED)
	$(BIN)/mypy

# The type check, then the whole suite with Apache Kafka as the broker (one KRaft node; the
# fault tests a three-node cluster) and SQLite stores; a smoke pass with Tansu, the embedded broker of
# `make up`; then the store-backed tests again with every event store and the key store in
# PostgreSQL (tests/stores.py).
test: $(INSTALLED) typecheck apache-kafka
	TANDEM_TEST_BROKER=apache $(BIN)/pytest
	TANDEM_TEST_BROKER=tansu $(BIN)/pytest -m "smoke or tansu"
	TANDEM_TEST_BROKER=apache TANDEM_TEST_STORE=postgres $(BIN)/pytest tests/api tests/integration

test-postgres: $(INSTALLED) apache-kafka
	TANDEM_TEST_BROKER=apache TANDEM_TEST_STORE=postgres $(BIN)/pytest tests/api tests/integration

test-tansu: $(INSTALLED)
	TANDEM_TEST_BROKER=tansu $(BIN)/pytest -m "smoke or tansu"

unit: $(INSTALLED)
	$(BIN)/pytest tests/unit tests/api

integration: $(INSTALLED)
	$(BIN)/pytest -m integration

bench: $(INSTALLED)
	$(BIN)/python bench/enrolment_import.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/sealing.py

# Each endpoint at a steady rate next to a bare FastAPI endpoint; the fault scenario, longer.
bench-load: $(INSTALLED)
	$(BIN)/python bench/load.py

# Raw kafka-python, the CSV import and a short soak on Apache Kafka and on Tansu, in one run
# (needs Java and the jars: infra/apache-kafka/fetch.sh); JSON in bench/results/.
bench-brokers: $(INSTALLED) apache-kafka
	$(BIN)/python bench/brokers.py

# A group on one machine (20 × 500, 1 × 5,000, 1 × 60): reads across sizes, a 1,000 × 4,000
# run, a cold start, the CSV import; GROUP_SCALE_ARGS="--small" for a quick run, "--baseline PATH"
# to measure another checkout beside this one.
bench-group-scale: $(INSTALLED)
	$(BIN)/python bench/group_scale.py $(GROUP_SCALE_ARGS)

soak: $(INSTALLED)
	$(BIN)/python bench/soak.py

schemas: $(INSTALLED)
	$(BIN)/python -m contracts.schemas

check-schemas: $(INSTALLED)
	$(BIN)/python -m contracts.schemas --check

# The console's messages: extract them from the code and templates, and bring the French
# catalogue up to date (new messages arrive untranslated; tests/unit/test_console_app.py
# fails until each has its French).
CATALOGUES := services/console/translations
translations: $(INSTALLED)
	$(BIN)/pybabel extract --no-location --sort-output -F services/console/babel.cfg -k N_ -o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) -l fr

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache *.egg-info
