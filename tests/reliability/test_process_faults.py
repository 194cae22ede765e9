"""Process faults and broker loss under load. While participants are enrolled for ten
subsidiaries at a steady rate and matching runs are published, each service and each relay
is SIGKILLed at random moments, several times, and started again; or the broker is lost and
a fresh, empty one takes its place. At the end every read model equals what a clean replay
gives, every event was applied exactly once, and nothing is missing."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from faults import SERVICE_NAMES, Cluster, Faults, Load, until_answered
from support import wait_for

pytestmark = pytest.mark.timeout(600)

# CI's size; `bench/soak.py` runs the same for longer. 10 x 500 = 5,000 participants.
SUBSIDIARIES = int(os.environ.get("TANDEM_FAULT_SUBSIDIARIES", "10"))
PER_SUBSIDIARY = int(os.environ.get("TANDEM_FAULT_PARTICIPANTS", "500"))
SEED = int(os.environ.get("TANDEM_FAULT_SEED", "20261124"))


def history(client: httpx.Client, slug: str) -> list[dict]:
    """A subsidiary's stored events in one service, every page (the audit API)."""
    events, after = [], 0
    while True:
        page = until_answered(lambda after=after: client.get(f"/subsidiaries/{slug}/audit/events", params={"after": after, "limit": 5000})).json()
        events += page
        if len(page) < 5000:
            return events
        after = page[-1]["position"]


def converged(cluster: Cluster, slugs: list[str]) -> dict[str, dict]:
    """Wait until matching and sessions hold everything enrolment and matching published;
    returns enrolment's participants by subsidiary."""
    with cluster.client("enrolment") as enrolment, cluster.client("matching") as matching, cluster.client("sessions") as sessions:
        people = {slug: until_answered(lambda slug=slug: enrolment.get(f"/subsidiaries/{slug}/participants", params={"limit": 10000})).json() for slug in slugs}

        def caught_up() -> bool:
            for slug in slugs:
                mentors = sum(p["role"] == "mentor" for p in people[slug])
                figures = until_answered(lambda slug=slug: sessions.get(f"/subsidiaries/{slug}/dashboard"))
                active = until_answered(lambda slug=slug: matching.get(f"/subsidiaries/{slug}/matches", params={"status": "active"}))
                if figures.status_code != 200 or active.status_code != 200:
                    return False
                d = figures.json()
                if (d["mentors"], d["mentees"], d["certified_mentors"]) != (mentors, len(people[slug]) - mentors, mentors):
                    return False
                if d["relationships"].get("active", 0) != int(active.headers["X-Total-Count"]):
                    return False
            return True

        wait_for(caught_up, timeout=180)
        return people


def assert_exactly_once_and_replayable(cluster: Cluster, people: dict[str, list[dict]], published_runs: dict[str, str]) -> None:
    with cluster.client("matching") as matching, cluster.client("sessions") as sessions:
        for slug, everyone in people.items():
            ids = {p["id"] for p in everyone}
            mentors = {p["id"] for p in everyone if p["role"] == "mentor"}
            # Each enrolment event applied once: one stored event per participant, per mentor.
            kept = history(matching, slug)
            assert Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "MatchBook.ParticipantNoted") == Counter(ids), slug
            assert Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "MatchBook.MentorCertified") == Counter(mentors), slug
            matches = until_answered(lambda slug=slug: matching.get(f"/subsidiaries/{slug}/matches", params={"limit": 10000})).json()
            assert slug not in published_runs or matches, f"{slug}: its published run left no match"
            kept = history(sessions, slug)
            assert Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "Roster.ParticipantNoted") == Counter(ids), slug
            opened = Counter(e["payload"]["match_id"] for e in kept if e["type"] == "Relationship.Opened")
            assert opened == Counter(m["id"] for m in matches), slug  # one relationship per match, once
    for service in SERVICE_NAMES:
        with cluster.client(service) as client:
            reports = until_answered(lambda client=client: client.get("/audit/replay")).json()
        reports = reports if isinstance(reports, list) else [reports]
        assert all(r.get("ok") for r in reports), (service, reports)


@pytest.fixture
def cluster(tmp_path: Path, topic_prefix: str, event_stores):
    cluster = Cluster(tmp_path, topic_prefix, event_stores)
    yield cluster
    cluster.stop()


def test_services_and_relays_killed_at_random_moments_lose_nothing_and_apply_nothing_twice(cluster: Cluster):
    cluster.start(separate_relays=True)
    slugs = [f"fault-{n:02d}" for n in range(SUBSIDIARIES)]
    load = Load(cluster, slugs, PER_SUBSIDIARY)
    parts = [f"{kind}:{name}" for kind in ("api", "relay") for name in SERVICE_NAMES]
    faults = Faults(cluster, parts, SEED, every=(1.0, 3.0), down_for=(0.2, 1.0))
    threads = [threading.Thread(target=load.run), threading.Thread(target=faults.run)]
    for thread in threads:
        thread.start()
    load.done.wait(480)
    # Until every part has been killed at least twice, faults go on (the load may be quick).
    deadline = time.monotonic() + 120
    while min(cluster.kills[p] for p in parts) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    faults.stop.set()
    for thread in threads:
        thread.join(120)
    assert not load.errors and not faults.errors, (load.errors, faults.errors)
    assert min(cluster.kills[p] for p in parts) >= 2, cluster.kills

    people = converged(cluster, slugs)
    assert sum(len(everyone) for everyone in people.values()) == SUBSIDIARIES * PER_SUBSIDIARY
    assert load.published_runs, "no matching run was published"
    assert_exactly_once_and_replayable(cluster, people, load.published_runs)


def test_a_lost_broker_replaced_by_an_empty_one_loses_nothing_and_doubles_nothing(cluster: Cluster):
    """The embedded broker keeps topics in memory: losing it loses every topic and every
    consumer group's offsets. Recovery takes one documented command, `tandem topics`, on
    the fresh broker (here: the same call); relays publish their logs again, consumers
    read everything again and drop what they applied already, by event id."""
    cluster.start(separate_relays=False)
    slugs = [f"loss-{n:02d}" for n in range(4)]
    load = Load(cluster, slugs, 200, batch=25, pause=0.1)
    thread = threading.Thread(target=load.run)
    thread.start()
    with cluster.client("enrolment") as enrolment:
        enrolled = lambda: int(until_answered(lambda: enrolment.get(f"/subsidiaries/{slugs[-1]}/participants")).headers.get("X-Total-Count", "0"))  # noqa: E731
        wait_for(lambda: enrolled() >= 50, timeout=120)

    cluster.broker.stop()
    # While it is away, writes are still accepted (stored, published later) and health says
    # what is degraded.
    with cluster.client("enrolment") as enrolment:
        assert enrolment.post("/subsidiaries", json={"id": "during-loss", "name": "x", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
        health = wait_for(lambda: (h := enrolment.get("/healthz").json())["status"] == "degraded" and h, timeout=60)
        assert not health["relay"]["ok"] and health["relay"]["last_error"] and health["relay"]["lag"] > 0
    with cluster.client("matching") as matching:
        consumer = wait_for(lambda: (c := matching.get("/healthz").json()["consumer"])["last_error"] and c, timeout=60)
        assert not consumer["ok"]
    time.sleep(2)

    cluster.start_broker()  # empty: no topic, no offsets
    thread.join(480)
    assert not load.errors, load.errors
    people = converged(cluster, [*slugs, "during-loss"])
    assert sum(len(p) for slug, p in people.items() if slug != "during-loss") == 4 * 200
    assert_exactly_once_and_replayable(cluster, people, load.published_runs)
    for service in SERVICE_NAMES:
        with cluster.client(service) as client:
            assert wait_for(lambda client=client: client.get("/healthz").json()["status"] == "ok", timeout=60)
