"""The command's context (services.common.context): set once per command or consumed event,
carried by every event an aggregate records, refused when nobody set it."""

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import event
from fastapi import APIRouter
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

from services.common.auth import SubsidiaryWriter, issue_token
from services.common.context import Aggregate, acting, current_context
from services.common.http import Acting, create_http_app

SECRET = "context-tests-secret-" + "k" * 40
ALICE = {"subject": "alice", "role": "group-admin"}


class Tally(Aggregate):
    """A command's aggregate: one event when made, one per count."""

    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Counted")
    def count_one(self, by: int) -> None:
        self.count += by


def test_an_event_recorded_outside_of_acting_is_refused():
    with pytest.raises(RuntimeError, match="outside of a command"):
        Tally(name="nobody's")
    with acting(actor=ALICE):
        tally = Tally(name="alice's")
    with pytest.raises(RuntimeError, match="outside of a command"):
        tally.count_one(by=1)
    with pytest.raises(RuntimeError):
        current_context()


def test_an_inner_acting_adds_to_the_outer_and_the_outer_is_back_after_it():
    with acting(actor=ALICE, correlation_id="c1", causation_id="r1") as outer:
        assert outer == {"actor": ALICE, "correlation_id": "c1", "causation_id": "r1"}
        with acting(subsidiary_id="axa-fr") as inner:
            assert inner == {**outer, "subsidiary_id": "axa-fr"}
            tally = Tally(name="t")
        tally.count_one(by=2)
    started, counted = tally.collect_events()
    assert started.context == {"actor": ALICE, "correlation_id": "c1", "causation_id": "r1", "subsidiary_id": "axa-fr"}
    assert counted.context == {"actor": ALICE, "correlation_id": "c1", "causation_id": "r1"}


def test_the_events_of_one_command_carry_its_actor_correlation_and_causation():
    command = {"subsidiary_id": "axa-fr", "actor": ALICE, "correlation_id": "c1", "causation_id": "r1"}
    with acting(**command):
        tally = Tally(name="t")
        tally.count_one(by=1)
        tally.count_one(by=2)
    with acting(**{**command, "actor": {"subject": "bob", "role": "subsidiary-admin"}, "causation_id": "r2"}):
        tally.count_one(by=3)
    contexts = [e.context for e in tally.collect_events()]
    assert contexts[:3] == [command] * 3
    assert contexts[3] == {**command, "actor": {"subject": "bob", "role": "subsidiary-admin"}, "causation_id": "r2"}
    contexts[0]["actor"] = "changed"  # each event has a copy of its own
    assert contexts[1]["actor"] == ALICE


def test_a_stored_event_reads_back_with_its_context_without_acting():
    app = Application()
    with acting(subsidiary_id="axa-fr", actor=ALICE, correlation_id="c1", causation_id="r1"):
        tally = Tally(name="t")
        tally.count_one(by=1)
    app.save(tally)
    again = app.repository.get(tally.id)  # read: no context needed, none given
    assert again.count == 1
    assert [e.context for e in app.repository.event_store.get(tally.id)] == [
        {"subsidiary_id": "axa-fr", "actor": ALICE, "correlation_id": "c1", "causation_id": "r1"}
    ] * 2


def _client() -> tuple[TestClient, Application]:
    """A service with one sync and one async command endpoint, over an in-memory store."""
    store = Application()
    router = APIRouter(prefix="/subsidiaries/{subsidiary_id}")

    @router.post("/tallies", dependencies=[Acting])
    def start(subsidiary_id: str, _: SubsidiaryWriter) -> dict[str, Any]:
        tally = Tally(name="sync")
        store.save(tally)
        return {"id": str(tally.id)}

    @router.post("/tallies-later", dependencies=[Acting])
    async def start_later(subsidiary_id: str, _: SubsidiaryWriter) -> dict[str, Any]:
        def record() -> str:
            tally = Tally(name="async")
            store.save(tally)
            return str(tally.id)

        return {"id": await run_in_threadpool(record)}

    app = create_http_app(title="t", description="", version="1", token_secret=SECRET, max_body_bytes=1024, routers=[router])
    return TestClient(app), store


@pytest.mark.parametrize("path", ["tallies", "tallies-later"])
def test_an_event_a_command_records_through_the_http_api_carries_the_requests_ids(path: str):
    client, store = _client()
    token = issue_token(SECRET, "subsidiary-admin", "axa-fr", subject="alice")
    response = client.post(
        f"/subsidiaries/axa-fr/{path}", headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": "batch-42", "X-Request-ID": "req-7"}
    )
    assert response.status_code == 200, response.text
    [stored] = store.repository.event_store.get(UUID(response.json()["id"]))
    assert stored.context == {
        "actor": {"subject": "alice", "role": "subsidiary-admin"},
        "correlation_id": "batch-42",
        "causation_id": "req-7",
        "subsidiary_id": "axa-fr",
    }
