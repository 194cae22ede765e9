"""Process faults and broker loss under load. While participants are enrolled for ten
subsidiaries at a steady rate and matching runs are published, each service and each relay
is SIGKILLed at random moments, several times, and started again; or the broker is lost and
a fresh, empty one takes its place. At the end every read model equals what a clean replay
gives, every event was applied exactly once, and nothing is missing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from faults import SERVICE_NAMES, Cluster, Faults, Load, assert_exactly_once_and_replayable, converged, until_answered
from support import wait_for

pytestmark = pytest.mark.timeout(600)

# CI's size; `bench/soak.py` runs the same for longer. 10 x 500 = 5,000 participants.
SUBSIDIARIES = int(os.environ.get("TANDEM_FAULT_SUBSIDIARIES", "10"))
PER_SUBSIDIARY = int(os.environ.get("TANDEM_FAULT_PARTICIPANTS", "500"))
SEED = int(os.environ.get("TANDEM_FAULT_SEED", "20261124"))


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
        # (the checkpoint publisher may say so first: wait for the relay)
        health = wait_for(lambda: (h := enrolment.get("/healthz").json())["status"] == "degraded" and not h["relay"]["ok"] and h, timeout=60)
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
