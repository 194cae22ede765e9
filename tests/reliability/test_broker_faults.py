"""Faults of the Kafka cluster itself, on Apache Kafka: three KRaft nodes, the platform's
topics replicated three times with min.insync.replicas=2 (tests/conftest.py:
apache_cluster). The load is the reliability suite's (faults.py: participants enrolled by
CSV files, mentors certified, pair runs published) with matching and sessions consuming.

- The leader of enrolment's topic SIGKILLed mid-load: producers and consumers move to the
  new leader, nothing is lost or applied twice, and /healthz says a replica is missing
  until the node is back in sync.
- The whole cluster SIGKILLed mid-load and started again: topics, offsets and consumer
  groups' positions survive; consumers go on from where they were, relays do not take the
  restarted cluster for an empty broker.
- A node frozen (SIGSTOP) for longer than the clients' request timeout (kafka-python's
  30 s): the API keeps taking writes, publication catches up, /healthz says what happened.

Each prints its figures (`-s` shows them)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from faults import SERVICE_NAMES, Cluster, Load, assert_exactly_once_and_replayable, converged, until_answered
from infra.apache_kafka import ApacheKafkaCluster
from services.common.kafka import connect_admin
from support import TopicReader, wait_for

pytestmark = pytest.mark.timeout(400)

PARTITIONS = range(3)  # faults.Cluster creates every topic with 3 partitions
NODES = [1, 2, 3]


@pytest.fixture
def tandem(healthy_cluster: ApacheKafkaCluster, tmp_path: Path, topic_prefix: str, event_stores) -> Cluster:
    """The platform's three services on the three-node cluster, its topics replicated 3 times."""
    platform = Cluster(tmp_path, topic_prefix, event_stores, bootstrap_servers=healthy_cluster.bootstrap_servers, replication=3)
    yield platform
    platform.stop()


class HealthWatch:
    """Every service's /healthz twice a second, as a monitoring probe sees it, from start to stop."""

    def __init__(self, tandem: Cluster) -> None:
        self.urls = {name: api.url for name, api in tandem.apis.items()}
        self.samples: list[tuple[float, str, dict[str, Any] | None]] = []  # (monotonic time, service, report)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=3.0) as client:
            while not self._stop.wait(0.5):
                for name, url in self.urls.items():
                    try:
                        report = client.get(f"{url}/healthz").json()
                    except (httpx.HTTPError, ValueError):
                        report = None
                    self.samples.append((time.monotonic(), name, report))

    def of(self, service: str, since: float, until: float = float("inf")) -> list[tuple[float, dict[str, Any]]]:
        return [(t, r) for t, name, r in self.samples if name == service and since <= t <= until and r is not None]

    def degraded(self, service: str, since: float, until: float = float("inf")) -> list[tuple[float, dict[str, Any]]]:
        return [(t, r) for t, r in self.of(service, since, until) if r["status"] == "degraded"]


def enrolled(client: httpx.Client, slug: str) -> int:
    answer = until_answered(lambda: client.get(f"/subsidiaries/{slug}/participants", params={"limit": 1}))
    return int(answer.headers.get("X-Total-Count", "0")) if answer.status_code == 200 else 0


def health(tandem: Cluster, service: str) -> dict[str, Any]:
    return until_answered(lambda: httpx.get(f"{tandem.apis[service].url}/healthz", timeout=5)).json()


def converged_or_say_why(tandem: Cluster, slugs: list[str]) -> dict[str, list[dict]]:
    """faults.converged, failing with what the consumers report."""
    try:
        return converged(tandem, slugs)
    except AssertionError as exc:
        reports = {name: {k: health(tandem, name).get(k) for k in ("status", "broker", "consumer", "relay")} for name in ("matching", "sessions")}
        raise AssertionError(f"{exc}: matching and sessions report {reports}") from None


def all_healthy(tandem: Cluster) -> bool:
    return all(health(tandem, name)["status"] == "ok" for name in SERVICE_NAMES)


def published_everything(tandem: Cluster) -> bool:
    return all(health(tandem, name)["relay"]["lag"] == 0 for name in SERVICE_NAMES)


def on_topic(bootstrap: str, topic: str) -> list[Any]:
    with TopicReader(bootstrap, topic) as reader:
        return reader.settle()


def ids_of(records: list[Any], event_type: str | None = None) -> Counter:
    """Each event id on the topic (of one type) and how often it is there."""
    found = Counter()
    for record in records:
        headers = dict(record.headers or [])
        if event_type is None or headers.get("type") == event_type.encode():
            found[headers["event_id"].decode()] += 1
    return found


def participants_on_topic(records: list[Any], event_type: str) -> set[str]:
    import json

    return {json.loads(r.value)["payload"]["participant_id"] for r in records if dict(r.headers or []).get("type") == event_type.encode()}


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = connect_admin(bootstrap, timeout=30)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def leader_now(kafka: ApacheKafkaCluster, topic: str, partition: int = 0) -> int | None:
    """The partition's leader, None while it has none or the cluster's metadata still sends
    the question to a dead node."""
    try:
        leader = kafka.leader_of(topic, partition)
    except Exception:  # noqa: BLE001 - ask again
        return None
    return leader if leader >= 0 else None


def in_sync_everywhere(kafka: ApacheKafkaCluster, topics: list[str]) -> bool:
    try:
        return all(kafka.in_sync_replicas(topic, p) == NODES for topic in topics for p in PARTITIONS)
    except Exception:  # noqa: BLE001 - a node still starting: ask again
        return False


def assert_everything_enrolled_is_on_the_topic(tandem: Cluster, people: dict[str, list[dict]]) -> Counter:
    """Enrolment's topic holds every enrolment and certification (once or more: the relay
    publishes at least once); returns how often each event id is there."""
    records = on_topic(tandem.bootstrap, tandem.topics.enrolment)
    everyone = {p["id"] for ps in people.values() for p in ps}
    mentors = {p["id"] for ps in people.values() for p in ps if p["role"] == "mentor"}
    assert participants_on_topic(records, "ParticipantEnrolled") == everyone
    assert participants_on_topic(records, "MentorCertified") == mentors
    return ids_of(records)


def test_the_leader_of_enrolments_topic_killed_mid_load_loses_nothing_and_doubles_nothing(tandem: Cluster, healthy_cluster: ApacheKafkaCluster):
    kafka = healthy_cluster
    topic = tandem.topics.enrolment
    tandem.start(separate_relays=False)
    slugs = [f"leader-{n:02d}" for n in range(10)]
    load = Load(tandem, slugs, 500)  # 5,000 participants
    loader = threading.Thread(target=load.run)
    with HealthWatch(tandem) as watch:
        loader.start()
        with tandem.client("enrolment") as enrolment:
            wait_for(lambda: enrolled(enrolment, slugs[-1]) >= 100, timeout=180)  # a fifth in
            at_kill = sum(enrolled(enrolment, slug) for slug in slugs)
        leader = kafka.leader_of(topic, 0)
        before = health(tandem, "enrolment")["relay"]["published_up_to"]
        killed_at = time.monotonic()
        kafka.kill(leader)
        new_leader = wait_for(lambda: (n := leader_now(kafka, topic)) not in (leader, None) and n, timeout=60)
        elected_after = time.monotonic() - killed_at
        # The relay goes on publishing (its producer found the new leader).
        wait_for(lambda: health(tandem, "enrolment")["relay"]["published_up_to"] > before, timeout=90)
        publishing_after = time.monotonic() - killed_at
        loader.join(300)
        assert not loader.is_alive() and not load.errors, load.errors
        load_done_at = time.monotonic()

        # With one node of three still dead: everything reaches matching and sessions.
        people = converged_or_say_why(tandem, slugs)
        assert sum(len(p) for p in people.values()) == 5000
        assert load.published_runs, "no matching run was published"
        wait_for(lambda: published_everything(tandem), timeout=60)
        still_dead = health(tandem, "enrolment")
        assert still_dead["status"] == "degraded" and still_dead["broker"]["reachable"], still_dead["broker"]
        assert any(p.startswith(f"{topic}[") for p in still_dead["broker"]["under_replicated"]), still_dead["broker"]

        restarted_at = time.monotonic()
        kafka.restart(leader)
        wait_for(lambda: in_sync_everywhere(kafka, tandem.topics.all()), timeout=120)
        in_sync_after = time.monotonic() - restarted_at
        wait_for(lambda: all_healthy(tandem), timeout=60)
        healthy_after = time.monotonic() - restarted_at

    # /healthz said so: degraded soon after the kill, naming the short partitions, until the node was back.
    degraded = watch.degraded("enrolment", killed_at, restarted_at)
    assert degraded, "enrolment's /healthz never said degraded while a node was dead"
    first_degraded = degraded[0][0] - killed_at
    assert all(r["broker"]["under_replicated"] or not r["broker"]["reachable"] or not r["relay"]["ok"] for _, r in degraded)
    ok_before_restart = [t for t, r in watch.of("enrolment", degraded[0][0], restarted_at) if r["status"] == "ok"]
    relay_errors = {r["relay"]["last_error"] for _, r in watch.of("enrolment", killed_at) if r["relay"]["last_error"]}
    max_lag = max(r["relay"]["lag"] for _, r in watch.of("enrolment", killed_at, load_done_at))

    assert_exactly_once_and_replayable(tandem, people, load.published_runs)
    on_the_topic = assert_everything_enrolled_is_on_the_topic(tandem, people)
    print(
        f"\nleader kill: {at_kill} of 5,000 enrolled at the kill of node {leader}; new leader {new_leader} after {elected_after:.1f}s; "
        f"relay publishing again after {publishing_after:.1f}s (max lag {max_lag}, errors {sorted(relay_errors)[:2]}); "
        f"/healthz degraded {first_degraded:.1f}s after the kill, {len(ok_before_restart)} ok samples before the restart; "
        f"restarted node in sync after {in_sync_after:.1f}s, every /healthz ok after {healthy_after:.1f}s; "
        f"enrolment topic: {len(on_the_topic)} events, {sum(on_the_topic.values()) - len(on_the_topic)} duplicates; 0 lost, 0 applied twice"
    )


def test_the_whole_cluster_killed_mid_load_and_started_again_keeps_topics_offsets_and_positions(tandem: Cluster, healthy_cluster: ApacheKafkaCluster):
    """Unlike the embedded broker (in memory: a restart loses everything, and the relays
    publish their logs again), Apache Kafka keeps its logs on disk: after a crash of every
    node, nothing is to be published again, nothing read again."""
    kafka = healthy_cluster
    tandem.start(separate_relays=False)
    slugs = [f"whole-{n:02d}" for n in range(4)]
    load = Load(tandem, slugs, 400, pause=0.1)  # 1,600 participants
    loader = threading.Thread(target=load.run)
    loader.start()
    wait_for(lambda: health(tandem, "sessions")["consumer"]["applied"] >= 400 and health(tandem, "matching")["consumer"]["applied"] >= 400, timeout=180)
    groups = {"matching": f"{tandem.prefix}-matching", "sessions": f"{tandem.prefix}-sessions"}
    before = {service: committed(tandem.bootstrap, group) for service, group in groups.items()}
    assert all(sum(offsets.values()) > 0 for offsets in before.values()), before

    killed_at = time.monotonic()
    with ThreadPoolExecutor(len(NODES)) as pool:
        list(pool.map(kafka.kill, NODES))
    with tandem.client("enrolment") as enrolment:  # the API takes writes while no node runs
        assert enrolment.post("/subsidiaries", json={"id": "while-down", "name": "x", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    wait_for(lambda: all(not health(tandem, name)["broker"]["reachable"] for name in SERVICE_NAMES), timeout=30)
    seen_down_after = time.monotonic() - killed_at
    restarted_at = time.monotonic()
    with ThreadPoolExecutor(len(NODES)) as pool:  # a lone node of three has no quorum: all at once
        list(pool.map(kafka.restart, NODES))
    back_after = time.monotonic() - restarted_at

    loader.join(300)
    assert not loader.is_alive() and not load.errors, load.errors
    people = converged_or_say_why(tandem, [*slugs, "while-down"])
    assert sum(len(p) for slug, p in people.items() if slug != "while-down") == 1600
    wait_for(lambda: published_everything(tandem) and all_healthy(tandem), timeout=90)
    healthy_after = time.monotonic() - restarted_at

    # The groups' positions survived, and only grew.
    for service, group in groups.items():
        after = committed(tandem.bootstrap, group)
        went_back = {tp: (offset, after.get(tp)) for tp, offset in before[service].items() if after.get(tp, -1) < offset}
        assert not went_back, f"{group}: committed offsets went back: {went_back}"
    # No consumer read from zero again: each record on the topics it reads was handed to
    # its service once (a re-read would count the first part of the topics twice).
    applied, records = {}, {}

    def handed_over_once(service: str) -> bool:
        report = health(tandem, service)["consumer"]
        records[service] = sum(len(on_topic(tandem.bootstrap, topic)) for topic in report["topics"])
        applied[service] = health(tandem, service)["consumer"]["applied"]  # after the count: it may be one batch behind
        assert applied[service] <= records[service], f"{service} applied {applied[service]} records, only {records[service]} on its topics: it read some again"
        return applied[service] == records[service]

    for service in groups:
        # The consumer may still be applying its last batches (matching does more per event
        # since each participant has a candidate): time to finish, and the counts if not.
        try:
            wait_for(lambda service=service: handed_over_once(service), timeout=90)
        except AssertionError:
            raise AssertionError(f"{service}: applied {applied.get(service)} of the {records.get(service)} records on its topics") from None
    # No relay took the restarted cluster for an empty broker (that is for the in-memory one).
    for service in SERVICE_NAMES:
        log_text = (tandem.home / f"{service}.log").read_text()
        assert "lost its events" not in log_text and "lost its checkpoints" not in log_text, service
    assert_exactly_once_and_replayable(tandem, people, load.published_runs)
    on_the_topic = assert_everything_enrolled_is_on_the_topic(tandem, people)
    print(
        f"\nwhole cluster: /healthz saw it unreachable {seen_down_after:.1f}s after the kill; nodes back in {back_after:.1f}s, "
        f"every /healthz ok after {healthy_after:.1f}s; committed before the kill {[sum(o.values()) for o in before.values()]}; "
        f"applied = records read: {applied}; enrolment topic: {len(on_the_topic)} events, "
        f"{sum(on_the_topic.values()) - len(on_the_topic)} duplicates; no epoch reset; 0 lost, 0 applied twice"
    )


FROZEN_SECONDS = 40.0  # longer than kafka-python's request_timeout_ms (30 s, the services' default)


def test_a_node_frozen_longer_than_the_request_timeout_delays_publication_but_not_writes(tandem: Cluster, healthy_cluster: ApacheKafkaCluster):
    kafka = healthy_cluster
    topic = tandem.topics.enrolment
    tandem.start(separate_relays=False)
    slugs = ["frozen-00", "frozen-01"]
    load = Load(tandem, slugs, 200)
    load.run()
    assert not load.errors, load.errors
    wait_for(lambda: published_everything(tandem), timeout=60)

    node = kafka.leader_of(topic, 0)
    during = Load(tandem, ["during-freeze"], 250)
    with HealthWatch(tandem) as watch:
        paused_at = time.monotonic()
        kafka.pause(node)
        try:
            # Writes are answered while the node answers nothing: stored, published later.
            during.onboard("during-freeze")
            for start in range(0, 250, during.batch):
                during.enrol_batch("during-freeze", start)
            writes_took = time.monotonic() - paused_at
            assert writes_took < FROZEN_SECONDS, f"the writes took {writes_took:.1f}s"
            time.sleep(max(0.0, paused_at + FROZEN_SECONDS - time.monotonic()))
        finally:
            kafka.resume(node)
        resumed_at = time.monotonic()
        wait_for(lambda: published_everything(tandem), timeout=120)
        caught_up_after = time.monotonic() - resumed_at
        people = converged_or_say_why(tandem, [*slugs, "during-freeze"])
        wait_for(lambda: in_sync_everywhere(kafka, tandem.topics.all()), timeout=120)
        wait_for(lambda: all_healthy(tandem), timeout=60)
        healthy_after = time.monotonic() - resumed_at

    degraded = watch.degraded("enrolment", paused_at, resumed_at)
    assert degraded, "enrolment's /healthz never said degraded while a node was frozen"
    reasons = {
        "broker unreachable": sum(not r["broker"]["reachable"] for _, r in degraded),
        "under-replicated": sum(bool(r["broker"]["under_replicated"]) for _, r in degraded),
        "relay error": sum(bool(r["relay"]["last_error"]) for _, r in degraded),
    }
    stalled = [r["relay"]["lag"] for _, r in watch.of("enrolment", paused_at, resumed_at)]
    assert_exactly_once_and_replayable(tandem, people, load.published_runs)
    on_the_topic = assert_everything_enrolled_is_on_the_topic(tandem, people)
    print(
        f"\nfrozen node {node} for {FROZEN_SECONDS:.0f}s: 250 enrolled by HTTP in {writes_took:.1f}s meanwhile; "
        f"/healthz degraded from {degraded[0][0] - paused_at:.1f}s to {degraded[-1][0] - paused_at:.1f}s after the freeze "
        f"({len(degraded)} samples: {reasons}); relay lag at most {max(stalled)}; published everything {caught_up_after:.1f}s after SIGCONT, "
        f"every /healthz ok after {healthy_after:.1f}s; enrolment topic: {len(on_the_topic)} events, "
        f"{sum(on_the_topic.values()) - len(on_the_topic)} duplicates; 0 lost, 0 applied twice"
    )
