"""Shared fixtures: one Kafka cluster per test session, isolated per test by topic names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from broker_container import broker_container, container_required, session_plan
from infra.apache_kafka import ApacheKafkaCluster
from infra.broker import EmbeddedBroker, wait_until_ready
from postgres import TemporaryPostgres
from stores import STORE, event_store, event_stores  # noqa: F401  (fixtures for every test)
from support import free_port, require_apache_kafka


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the session's Kafka cluster, one for the whole session.

    KAFKA_BOOTSTRAP_SERVERS selects an external cluster; TANDEM_TEST_BROKER=apache one
    Apache Kafka node; otherwise a Tansu container on the host network when a Docker engine
    answers, else the embedded Tansu broker as a process, on a free loopback port
    (tests/broker_container.py; the report header says which).
    """
    plan = session_plan()
    if plan.kind == "external":
        wait_until_ready(plan.target, timeout=60.0)
        yield plan.target
    elif plan.kind == "apache":
        require_apache_kafka()
        with ApacheKafkaCluster(tmp_path_factory.mktemp("apache-kafka"), size=1) as cluster:
            yield cluster.bootstrap_servers
    elif plan.kind == "container":
        with broker_container(plan.target) as bootstrap:
            yield bootstrap
    else:
        if container_required(os.environ):
            pytest.fail(f"CI must run the broker in a container, but: {plan.target}; "
                        "start a Docker engine (.ci/run does) or set TANDEM_TEST_DOCKER=false")
        log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
        with EmbeddedBroker(port=free_port(), log_path=log_path).start() as broker:
            yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def apache_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafkaCluster]:
    """Three Apache Kafka KRaft nodes for the fault tests (replication 3, min.insync.replicas
    2), started once per session whatever TANDEM_TEST_BROKER says. A test that kills, pauses
    or stops a node leaves it to `healthy_cluster` to bring back for the next one."""
    require_apache_kafka()
    with ApacheKafkaCluster(tmp_path_factory.mktemp("apache-cluster"), size=3) as cluster:
        yield cluster


@pytest.fixture
def healthy_cluster(apache_cluster: ApacheKafkaCluster) -> ApacheKafkaCluster:
    """The three-node cluster with every node running and answering, for a fault test."""
    for node_id, node in apache_cluster.nodes.items():
        apache_cluster.resume(node_id)
        if not node.is_running():
            apache_cluster.restart(node_id)
    apache_cluster.wait_ready()
    return apache_cluster


def pytest_report_header(config: pytest.Config) -> str:
    return f"kafka: {session_plan().describe()}; event stores: {STORE}"


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (TANDEM_TEST_STORE=postgres), tests about SQLite itself are left out; on
    another session broker than Tansu, the tests about Tansu as the session broker."""
    left_out = set()
    if STORE != "sqlite":
        left_out.add("sqlite")
    if session_plan().kind in ("apache", "external"):
        left_out.add("tansu")
    deselected = [item for item in items if any(item.get_closest_marker(name) for name in left_out)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
