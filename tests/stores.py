"""Which event stores the suite runs on: SQLite files (the embedded default) or PostgreSQL.

``TANDEM_TEST_STORE=postgres`` runs the API, integration and scale-out tests with every
service's event store, and the shared key store, in a throwaway PostgreSQL server (a fresh
database per service and test); ``make test`` runs the suite on SQLite, then again on
PostgreSQL. Tests that are about SQLite itself (rows altered in the file, the embedded
`tandem up`) carry the ``sqlite`` mark and are left out of the PostgreSQL run; PostgreSQL's own
versions of them run in both.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

STORE = os.environ.get("TANDEM_TEST_STORE", "sqlite")
if STORE not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"TANDEM_TEST_STORE is {STORE!r}: use sqlite or postgres")

StoreSettings = Callable[[str], dict[str, str]]


def on_postgres() -> bool:
    return STORE == "postgres"


@pytest.fixture
def event_stores(request: pytest.FixtureRequest) -> StoreSettings:
    """The settings that put a service's event store where this run keeps them:
    `event_stores("matching")` gives the same settings every time it is asked in one test
    (a restarted or second instance shares the store). On SQLite, nothing: the services'
    defaults (files in TANDEM_HOME). On PostgreSQL, a fresh database per service, and one
    more for the key store the services share."""
    if not on_postgres():
        return lambda service: {}
    server = request.getfixturevalue("postgres_server")
    keys = server.create_database()["POSTGRES_DBNAME"]
    made: dict[str, dict[str, str]] = {}

    def settings(service: str) -> dict[str, str]:
        if service not in made:
            made[service] = {**server.create_database(), "TANDEM_KEYS_POSTGRES_DBNAME": keys}
        return made[service]

    return settings


@pytest.fixture
def event_store(event_stores: StoreSettings) -> dict[str, str]:
    """The settings for a test's one service (API tests run one application at a time)."""
    return event_stores("service")
