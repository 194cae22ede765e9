"""Shared fixtures: one Kafka cluster per test session, isolated per test by topic names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from infra.broker import EmbeddedBroker, wait_until_ready
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
