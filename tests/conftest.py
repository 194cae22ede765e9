"""Shared fixtures: one Kafka cluster per test session, isolated per test by topic names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from infra.broker import EmbeddedBroker, wait_until_ready
from postgres import TemporaryPostgres
from support import free_port


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the session's Kafka cluster.

    KAFKA_BOOTSTRAP_SERVERS selects an external cluster; otherwise one embedded broker on a
    free loopback port serves the whole session (starting it takes well under a second).
    """
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        wait_until_ready(external, timeout=60.0)
        yield external
        return
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(port=free_port(), log_path=log_path).start() as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def topic_prefix() -> str:
    """A unique prefix (``t<8 hex>``) so each test works on topics of its own."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    """One PostgreSQL server for the session (Debian's binaries, a temporary cluster). Where
    PostgreSQL is not installed the tests that need it are skipped, except under CI (the CI
    variable set), where that is a failure: CI installs it (.ci/run)."""
    try:
        server = TemporaryPostgres().start()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}; CI must run the PostgreSQL tests")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def postgres(postgres_server: TemporaryPostgres) -> dict[str, str]:
    """A fresh database: the eventsourcing settings (PERSISTENCE_MODULE, POSTGRES_*) for it."""
    return postgres_server.create_database()
