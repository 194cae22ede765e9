"""Fixtures for tests of enrolment's API in process (tests/api, tests/reliability).

The real application (``create_app``) over the real event store (SQLite in a temporary
TANDEM_HOME, or PostgreSQL: tests/stores.py), the relay disabled, driven in process by FastAPI's TestClient (entered as a
context manager so the lifespan opens and closes the store).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from apitools import GROUP_ADMIN, SECRET, SUB_A, SUB_B, participant, subsidiary
from services.enrolment.api.main import create_app
from services.enrolment.settings import EnrolmentSettings

# Variables that would send the event store elsewhere or change the limits under test.
_INHERITED = (
    "PERSISTENCE_MODULE",
    "ENROLMENT_PERSISTENCE_MODULE",
    "SQLITE_DBNAME",
    "ENROLMENT_SQLITE_DBNAME",
    "SQLITE_LOCK_TIMEOUT",
    "ENROLMENT_SQLITE_LOCK_TIMEOUT",
    "TANDEM_MAX_BODY_BYTES",
    "TANDEM_TOPIC_PREFIX",
    "KAFKA_BOOTSTRAP_SERVERS",
)


@pytest.fixture
def tandem_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "tandem-home"
    for name in _INHERITED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TANDEM_HOME", str(home))
    monkeypatch.setenv("TANDEM_SECRET", SECRET)
    monkeypatch.setenv("TANDEM_RELAY_ENABLED", "false")
    return home


@pytest.fixture
def start_service(
    tandem_home: Path, event_store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestClient]]:
    """Start the service (lifespan included) with extra environment variables, e.g.
    ``start_service(TANDEM_MAX_BODY_BYTES="4096")``. Every start uses the same store (the
    run's: SQLite in TANDEM_HOME, or a PostgreSQL database)."""
    with ExitStack() as stack:

        def start(**env: str) -> TestClient:
            for name, value in {**event_store, **env}.items():
                monkeypatch.setenv(name, value)
            app = create_app(EnrolmentSettings())
            return stack.enter_context(TestClient(app))

        yield start


@pytest.fixture
def client(start_service: Callable[..., TestClient]) -> TestClient:
    return start_service()


@pytest.fixture
def app(client: TestClient) -> FastAPI:
    return client.app  # type: ignore[return-value]


class EventLog:
    """The event store's head, to check what a request recorded (or did not)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def head(self) -> int:
        return self.app.state.application.recorder.max_notification_id() or 0

    @contextmanager
    def recorded(self, count: int) -> Iterator[None]:
        before = self.head()
        yield
        assert self.head() - before == count, f"expected {count} new event(s), found {self.head() - before}"

    def nothing_recorded(self) -> AbstractContextManager[None]:
        return self.recorded(0)


@pytest.fixture
def events(app: FastAPI) -> EventLog:
    return EventLog(app)


@pytest.fixture
def still_serving(client: TestClient) -> Callable[[], None]:
    """Checks that the service still answers reads and records writes."""
    counter = itertools.count(1)

    def check() -> None:
        assert client.get("/healthz").status_code == 200
        slug = f"still-serving-{next(counter)}"
        response = client.post("/subsidiaries", json=subsidiary(slug), headers=GROUP_ADMIN)
        assert response.status_code == 201, response.text
        assert client.get(f"/subsidiaries/{slug}", headers=GROUP_ADMIN).json()["id"] == slug

    return check


def enrol(client: TestClient, slug: str, body: dict, headers: dict[str, str] = GROUP_ADMIN) -> str:
    response = client.post(f"/subsidiaries/{slug}/participants", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def world(client: TestClient) -> SimpleNamespace:
    """Two subsidiaries, A (a mentor and a mentee) and B (one mentee)."""
    for slug in (SUB_A, SUB_B):
        response = client.post("/subsidiaries", json=subsidiary(slug), headers=GROUP_ADMIN)
        assert response.status_code == 201, response.text
    return SimpleNamespace(
        mentor=enrol(client, SUB_A, participant("zoe@axa.fr", "mentor", name="Zoé Leroy")),
        mentee=enrol(client, SUB_A, participant("jeanne@axa.fr", "mentee")),
        mentee_b=enrol(client, SUB_B, participant("jan@axa.be", "mentee")),
    )

