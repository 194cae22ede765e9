"""The platform under test for integration and reliability tests: real broker, real service
processes, real HTTP. Their conftest.py files import the `platform` fixture from here."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.topics import Topics
from infra.services import SERVICES, ServiceProcess
from infra.topics import ensure_topics
from services.common.auth import issue_token
from services.common.personal_data import PersonalDataKeys, key_store_from
from stores import StoreSettings
from support import free_port


class Platform:
    """The platform under test: one topic prefix, one TANDEM_HOME, services started on demand."""

    def __init__(self, bootstrap: str, topics: Topics, home: Path, stores: StoreSettings = lambda service: {}) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.home = home
        self.stores = stores  # each service's event store settings (tests/stores.py)
        self.secret = secrets.token_urlsafe(48)
        self.processes: list[ServiceProcess] = []

    def start(self, name: str, *, relay: bool = True, port: int | None = None, **env: str) -> ServiceProcess:
        spec = next(s for s in SERVICES if s.name == name)
        process = ServiceProcess(
            spec,
            port or free_port(),
            {
                "TANDEM_HOME": str(self.home),
                "TANDEM_SECRET": self.secret,
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "TANDEM_TOPIC_PREFIX": self.topics.prefix,
                "TANDEM_RELAY_ENABLED": "true" if relay else "false",
                **self.stores(name),
                **env,
            },
            log=self.home / f"{name}.log",
        )
        self.processes.append(process)
        return process.start()

    def keys(self) -> PersonalDataKeys:
        """The participants' keys, as the services share them (their SQLite file or PostgreSQL table)."""
        # The services' default store is SQLite (keys.db in TANDEM_HOME), unless this run's settings say PostgreSQL.
        defaults = {"TANDEM_HOME": str(self.home), "PERSISTENCE_MODULE": "eventsourcing.sqlite"}
        return PersonalDataKeys(key_store_from({**defaults, **self.stores("enrolment")}))

    def token(self, role: str = "group-admin", subsidiary: str | None = None) -> str:
        return issue_token(self.secret, role, subsidiary, subject=f"test-{role}")

    def client(self, process: ServiceProcess, role: str = "group-admin", subsidiary: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=process.url, headers={"Authorization": f"Bearer {self.token(role, subsidiary)}"}, timeout=60.0
        )

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def platform(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, event_stores: StoreSettings) -> Iterator[Platform]:
    topics = Topics(topic_prefix)
    ensure_topics(kafka_bootstrap, topics.all(), partitions=3)
    platform = Platform(kafka_bootstrap, topics, tmp_path, event_stores)
    yield platform
    platform.stop_all()
