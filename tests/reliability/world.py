"""Three services in process, on their real stores, holding two subsidiaries with everything
the programme makes: participants (mentors certified), a published matching run, its
relationships, a session each. Matching and sessions get the other services' events as
their consumers would (applied in process: no broker needed for what is tested here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faker import Faker
from fastapi.testclient import TestClient

from apitools import SECRET, bearer

SERVICES = ("enrolment", "matching", "sessions")


def create_app(service: str) -> Any:
    if service == "enrolment":
        from services.enrolment.api.main import create_app as create
    elif service == "matching":
        from services.matching.api.main import create_app as create
    else:
        from services.sessions.api.main import create_app as create
    return create()


def in_process(env: pytest.MonkeyPatch, home: Path, secret: str = SECRET) -> None:
    """The environment for services run in process: their stores under `home`, nothing
    inherited that would send them elsewhere, no relay and no consumer (no broker)."""
    for name in list(os.environ):
        if name.startswith(("PERSISTENCE_", "SQLITE_", "POSTGRES_", "ENROLMENT_", "MATCHING_", "SESSIONS_", "TANDEM_")):
            env.delenv(name)
    env.setenv("TANDEM_HOME", str(home))
    env.setenv("TANDEM_SECRET", secret)
    env.setenv("TANDEM_RELAY_ENABLED", "false")
    env.setenv("TANDEM_CONSUMER_ENABLED", "false")


def published(client: TestClient, service: str) -> list[Any]:
    """Every event the service's relay would publish, from its store."""
    module = __import__(f"services.{service}.publishing", fromlist=["to_integration_event"])
    application = client.app.state.application
    stored = application.recorder.select_notifications(start=0, limit=100_000)
    translated = (module.to_integration_event(application.mapper.to_domain_event(n)) for n in stored)
    return [e for e in translated if e is not None]


@dataclass
class Subsidiary:
    id: str
    ids: dict[str, list[str]] = field(default_factory=dict)  # kind (participant, run, ...) -> ids
    words: set[str] = field(default_factory=set)  # what must never show outside: names, emails, ids


@dataclass
class World:
    clients: dict[str, TestClient]
    subsidiaries: dict[str, Subsidiary]

    def head(self) -> dict[str, int]:
        return {name: c.app.state.application.recorder.max_notification_id() or 0 for name, c in self.clients.items()}


def _people(fake: Faker, sub: str, mentors: int, mentees: int) -> list[dict[str, Any]]:
    people = []
    for n in range(mentors + mentees):
        role = "mentor" if n < mentors else "mentee"
        people.append({
            "role": role, "name": fake.unique.name(), "email": f"{sub}.{n}.{fake.unique.user_name()}@example.com",
            "birth_year": 1998 if role == "mentor" else 1962, "department": fake.random_element(["IT", "Finance", "Claims"]),
            "site": "Lyon", "languages": ["fr"], "themes": ["networking"], "availability": ["mon-am"],
        })  # fmt: skip
    return people


@contextmanager
def build_world(home: Path, sizes: dict[str, tuple[int, int]], seed: int = 7) -> Iterator[World]:
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    admin = bearer("group-admin")
    with pytest.MonkeyPatch.context() as env, ExitStack() as stack:
        in_process(env, home)
        clients = {name: stack.enter_context(TestClient(create_app(name))) for name in SERVICES}
        for client in clients.values():
            client.headers.update(admin)
        subsidiaries = {}
        enrolment, matching, sessions = clients["enrolment"], clients["matching"], clients["sessions"]
        for sub, (mentors, mentees) in sizes.items():
            found = Subsidiary(sub, {"participant": []}, {sub})
            enrolment.post("/subsidiaries", json={"id": sub, "name": f"Filiale {sub}", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
            for person in _people(fake, sub, mentors, mentees):
                pid = enrolment.post(f"/subsidiaries/{sub}/participants", json=person).json()["id"]
                found.ids["participant"].append(pid)
                found.words |= {person["name"], person["email"], pid}
                if person["role"] == "mentor":
                    enrolment.post(f"/subsidiaries/{sub}/participants/{pid}/certify").raise_for_status()
            subsidiaries[sub] = found
        matching.app.state.application.apply_events(published(enrolment, "enrolment"))
        for sub, found in subsidiaries.items():
            run = matching.post(f"/subsidiaries/{sub}/matching-runs", json={"format": "pair"}).json()
            found.ids["run"] = [run["id"]]
            found.ids["match"] = matching.post(f"/subsidiaries/{sub}/matching-runs/{run['id']}/publish").json()["match_ids"]
            found.words |= {run["id"], *found.ids["match"]}
        sessions.app.state.application.apply_events(published(enrolment, "enrolment") + published(matching, "matching"))
        first = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
        for sub, found in subsidiaries.items():
            relationships = sessions.get(f"/subsidiaries/{sub}/relationships").json()
            found.ids["relationship"] = [r["id"] for r in relationships]
            found.ids["session"] = []
            for n, relationship in enumerate(relationships):  # a mentor is in one session at a time
                starts = (first + timedelta(hours=3 * n)).isoformat()
                body = {"relationship_id": relationship["id"], "theme": "networking", "starts_at": starts, "location": "Salle 1"}
                scheduled = sessions.post(f"/subsidiaries/{sub}/sessions", json=body)
                scheduled.raise_for_status()
                found.ids["session"].append(scheduled.json()["id"])
            found.words |= set(found.ids["relationship"]) | set(found.ids["session"])
        yield World(clients, subsidiaries)
