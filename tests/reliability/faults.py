"""A whole platform whose parts can be killed and started again: its own broker (so that it
too can be lost), the three services, and each service's relay as a process of its own
(`tandem relay`), on fixed loopback ports so that a restarted part is found where it was.
And the load an admin team puts on it: participants enrolled by CSV files at a steady rate,
mentors certified, matching runs published, each request retried until it has a definite
answer, as a careful client does when the service it talks to dies mid-request."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contracts.topics import Topics
from infra.broker import EmbeddedBroker
from infra.services import SERVICES, ServiceProcess
from infra.topics import ensure_topics
from services.common.auth import issue_token
from support import HEADER, free_port, wait_for

SERVICE_NAMES = tuple(spec.name for spec in SERVICES)


class RelayProcess:
    """`tandem relay <service>`: only the outbox relay, on the service's store."""

    def __init__(self, service: str, env: dict[str, str], log: Path) -> None:
        self.service = service
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RelayProcess:
        tandem = str(Path(sys.executable).with_name("tandem"))
        self.process = subprocess.Popen([tandem, "relay", self.service], env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    home: Path
    prefix: str
    stores: Any  # tests/stores.py: each service's event store settings
    secret: str = "faults-secret-" + "z" * 40
    broker_port: int = field(default_factory=free_port)
    broker: EmbeddedBroker | None = None
    apis: dict[str, ServiceProcess] = field(default_factory=dict)
    relays: dict[str, RelayProcess] = field(default_factory=dict)
    kills: Counter = field(default_factory=Counter)
    # A Kafka cluster started by someone else (tests/conftest.py's apache_cluster,
    # bench/brokers.py) instead of a broker of its own: only given its topics here, never
    # started, stopped or killed; and its topics' replication there.
    bootstrap_servers: str | None = None
    replication: int = 1

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or f"127.0.0.1:{self.broker_port}"

    def env(self, service: str) -> dict[str, str]:
        return {
            "TANDEM_HOME": str(self.home),
            "TANDEM_SECRET": self.secret,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "TANDEM_TOPIC_PREFIX": self.prefix,
            "TANDEM_RELAY_RESET_CHECK_SECONDS": "1",
            # Consumer groups of this platform's own: a shared cluster keeps other platforms' groups.
            "MATCHING_CONSUMER_GROUP": f"{self.prefix}-matching",
            "SESSIONS_CONSUMER_GROUP": f"{self.prefix}-sessions",
            **self.stores(service),
        }

    def start_broker(self) -> None:
        """A broker on the cluster's port: a fresh one (in memory) has no topics; `tandem
        topics` (here: ensure_topics) creates them. On a cluster of someone else's: only the topics."""
        if self.bootstrap_servers is None:
            self.broker = EmbeddedBroker(port=self.broker_port, log_path=self.home / "broker.log").start()
        ensure_topics(self.bootstrap, self.topics.all(), partitions=3, replication_factor=self.replication)

    def start(self, separate_relays: bool) -> None:
        self.start_broker()
        for spec in SERVICES:
            env = {**self.env(spec.name), "TANDEM_RELAY_ENABLED": "false" if separate_relays else "true"}
            self.apis[spec.name] = ServiceProcess(spec, free_port(), env, log=self.home / f"{spec.name}.log").start(timeout=60)
            if separate_relays:
                self.relays[spec.name] = RelayProcess(spec.name, {**os.environ, **self.env(spec.name)}, self.home / f"relay-{spec.name}.log").start()

    def kill_and_restart(self, part: str, down_for: float) -> None:
        """SIGKILL a service's API process or its relay, then start it again on its port."""
        self.kills[part] += 1
        kind, name = part.split(":")
        if kind == "relay":
            self.relays[name].kill()
            time.sleep(down_for)
            self.relays[name].start()
        else:
            self.apis[name].kill()
            time.sleep(down_for)
            self.apis[name].start(timeout=60)

    def stop(self) -> None:
        for relay in self.relays.values():
            relay.stop()
        for api in self.apis.values():
            api.stop()
        if self.broker is not None:
            self.broker.stop()

    def token(self) -> str:
        return issue_token(self.secret, "group-admin", subject="faults-admin")

    def client(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.apis[service].url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=60.0)


class Unanswered(Exception):
    pass


def until_answered(call, timeout: float = 120.0) -> httpx.Response:
    """The service's answer, once it gives one: connection errors (it is being restarted)
    and 5xx are tried again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = call()
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise Unanswered(f"no answer in {timeout}s")
        time.sleep(0.2)


def rows(slug: str, start: int, count: int, mentor_every: int) -> str:
    lines = []
    for n in range(start, start + count):
        if n % mentor_every == 0:
            lines.append(f"mentor,Mentor {n},mentor{n}@{slug}.example.com,{1996 + n % 6},Digital,Paris,fr;en,networking;online learning,,mon-am;tue-pm")
        else:
            lines.append(f"mentee,Mentee {n},mentee{n}@{slug}.example.com,{1958 + n % 15},Dept {n % 4},{'Paris' if n % 2 else 'Lyon'},fr,online learning;networking,,tue-pm")
    return HEADER + "\n".join(lines) + "\n"


@dataclass
class Load:
    """Enrols `per_subsidiary` people in each subsidiary, `batch` rows per CSV file, one file
    every `pause` seconds; certifies the mentors; publishes a pair run for each subsidiary
    once half its people are in. Records what it knows was done."""

    cluster: Cluster
    subsidiaries: list[str]
    per_subsidiary: int
    batch: int = 50
    pause: float = 0.05
    mentor_every: int = 8
    errors: list[str] = field(default_factory=list)
    published_runs: dict[str, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.done.set()

    def _enrolment(self) -> httpx.Client:
        return self.cluster.client("enrolment")

    def _run(self) -> None:
        for slug in self.subsidiaries:
            self.onboard(slug)
        for start in range(0, self.per_subsidiary, self.batch):
            for slug in self.subsidiaries:
                self.enrol_batch(slug, start)
                time.sleep(self.pause)
            if start + self.batch >= self.per_subsidiary // 2 and not self.published_runs:
                for slug in self.subsidiaries:
                    self._match(slug)

    def onboard(self, slug: str) -> None:
        with self._enrolment() as api:
            answer = until_answered(lambda: api.post("/subsidiaries", json={"id": slug, "name": slug, "timezone": "Europe/Paris", "locale": "fr-FR"}))
            assert answer.status_code in (201, 409), answer.text
            answer = until_answered(lambda: api.put(f"/subsidiaries/{slug}/programme", json={"mentor_capacity": 8}))
            assert answer.status_code == 200, answer.text

    def enrol_batch(self, slug: str, start: int) -> None:
        """One CSV file of `batch` rows from row `start`, then its mentors certified."""
        body = rows(slug, start, min(self.batch, self.per_subsidiary - start), self.mentor_every)
        with self._enrolment() as api:
            answer = until_answered(lambda: api.post(f"/subsidiaries/{slug}/participants/import", content=body, headers={"Content-Type": "text/csv"}))
            if answer.status_code == 422:
                # An earlier attempt was stored before the service died: every row is enrolled.
                problems = answer.json()["detail"]
                assert all("already enrolled" in p["message"] for p in problems), problems[:3]
            else:
                assert answer.status_code == 200, answer.text
            mentors = until_answered(lambda: api.get(f"/subsidiaries/{slug}/participants", params={"role": "mentor", "status": "enrolled", "limit": 10000})).json()
            for mentor in mentors:
                answer = until_answered(lambda mentor=mentor: api.post(f"/subsidiaries/{slug}/participants/{mentor['id']}/certify"))
                assert answer.status_code in (200, 409), answer.text  # 409: certified by an attempt that died unanswered

    def _match(self, slug: str) -> None:
        with self.cluster.client("matching") as api:
            deadline = time.monotonic() + 120
            while True:  # matching learns of the mentors through Kafka
                pool = until_answered(lambda: api.get(f"/subsidiaries/{slug}/pool"))
                if pool.status_code == 200 and pool.json()["mentors"] and pool.json()["mentees"]:
                    break
                assert time.monotonic() < deadline, f"{slug}: matching never saw a pool"
                time.sleep(0.5)
            run = until_answered(lambda: api.post(f"/subsidiaries/{slug}/matching-runs", json={"format": "pair"}))
            assert run.status_code == 201, run.text
            published = until_answered(lambda: api.post(f"/subsidiaries/{slug}/matching-runs/{run.json()['id']}/publish"))
            # 409: published by an attempt that died unanswered, or the pool changed meanwhile.
            if published.status_code == 200 or "already published" in published.text:
                self.published_runs[slug] = run.json()["id"]
            else:
                assert published.status_code == 409, published.text


class Faults:
    """Kills parts at random moments (seeded), each a few times, while the load runs."""

    def __init__(self, cluster: Cluster, parts: list[str], seed: int, every: tuple[float, float], down_for: tuple[float, float]) -> None:
        self.cluster = cluster
        self.parts = parts
        self.random = random.Random(seed)
        self.every = every
        self.down_for = down_for
        self.stop = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            # Every part once in a shuffled order, then any, until told to stop.
            order = self.parts[:]
            self.random.shuffle(order)
            while not self.stop.wait(self.random.uniform(*self.every)):
                part = order.pop() if order else self.random.choice(self.parts)
                self.cluster.kill_and_restart(part, self.random.uniform(*self.down_for))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(f"{type(exc).__name__}: {exc}")


# -- what must hold at the end ------------------------------------------------------------


def history(client: httpx.Client, slug: str) -> list[dict]:
    """A subsidiary's stored events in one service, every page (the audit API)."""
    events, after = [], 0
    while True:
        page = until_answered(lambda after=after: client.get(f"/subsidiaries/{slug}/audit/events", params={"after": after, "limit": 5000})).json()
        events += page
        if len(page) < 5000:
            return events
        after = page[-1]["position"]


def noted_by_matching(matching: httpx.Client, slug: str) -> int:
    """How many participants matching has noted (its stored events, through the audit API):
    its pool shows only those still to match."""
    return len({e["payload"]["participant_id"] for e in history(matching, slug) if e["type"] == "Candidate.ProfileNoted"})


def converged(cluster: Cluster, slugs: list[str], timeout: float = 180.0) -> dict[str, list[dict]]:
    """Wait until matching and sessions hold everything enrolment and matching published (a
    consumer restarted after a SIGKILL waits for the dead member's session to expire before
    the group gives it partitions again); returns enrolment's participants by subsidiary."""
    with cluster.client("enrolment") as enrolment, cluster.client("matching") as matching, cluster.client("sessions") as sessions:
        people = {slug: until_answered(lambda slug=slug: enrolment.get(f"/subsidiaries/{slug}/participants", params={"limit": 10000})).json() for slug in slugs}
        waiting = set(slugs)

        def caught_up() -> bool:
            for slug in sorted(waiting):
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
                if noted_by_matching(matching, slug) != len(people[slug]):
                    return False
                waiting.discard(slug)  # done with it: its figures only grow by what the load adds
            return True

        wait_for(caught_up, timeout=timeout)
        return people


def _same(found: Counter, expected: Counter, what: str) -> None:
    """Each expected id exactly once: name the ones missing, doubled or unexpected."""
    if found != expected:
        missing = sorted(set(expected) - set(found))
        doubled = {k: v for k, v in found.items() if v > 1}
        extra = sorted(set(found) - set(expected))
        raise AssertionError(f"{what}: {len(missing)} missing {missing[:3]}, {len(doubled)} more than once {list(doubled.items())[:3]}, {len(extra)} unexpected {extra[:3]}")


def assert_exactly_once_and_replayable(cluster: Cluster, people: dict[str, list[dict]], published_runs: dict[str, str]) -> None:
    with cluster.client("matching") as matching, cluster.client("sessions") as sessions:
        for slug, everyone in people.items():
            ids = {p["id"] for p in everyone}
            mentors = {p["id"] for p in everyone if p["role"] == "mentor"}
            # Each enrolment event applied once: one stored event per participant, per mentor.
            kept = history(matching, slug)
            _same(Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "Candidate.ProfileNoted"), Counter(ids), f"{slug}: matching noted")
            _same(Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "MatchBook.RoleNoted"), Counter(ids), f"{slug}: matching roles")
            _same(Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "MatchBook.MentorCertified"), Counter(mentors), f"{slug}: matching certified")
            matches = until_answered(lambda slug=slug: matching.get(f"/subsidiaries/{slug}/matches", params={"limit": 10000})).json()
            assert slug not in published_runs or matches, f"{slug}: its published run left no match"
            kept = history(sessions, slug)
            _same(Counter(e["payload"]["participant_id"] for e in kept if e["type"] == "Roster.ParticipantNoted"), Counter(ids), f"{slug}: sessions noted")
            opened = Counter(e["payload"]["match_id"] for e in kept if e["type"] == "Relationship.Opened")
            _same(opened, Counter(m["id"] for m in matches), f"{slug}: relationships opened")  # one per match, once
    for service in SERVICE_NAMES:
        with cluster.client(service) as client:
            reports = until_answered(lambda client=client: client.get("/audit/replay")).json()
        reports = reports if isinstance(reports, list) else [reports]
        assert all(r.get("ok") for r in reports), (service, reports)
