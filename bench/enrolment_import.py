"""Benchmark: a CSV import of N participants, until the last ParticipantEnrolled is on the topic.

    .venv/bin/python bench/enrolment_import.py [--participants 10000] [--repeats 3] [--json PATH]

Each repeat starts the real enrolment service as its own process (fresh TANDEM_HOME, fresh
topic prefix), onboards a subsidiary, then times ``POST .../participants/import`` (text/csv)
from the request until a consumer (all partitions assigned directly, no group) has read the
N-th ParticipantEnrolled event of this import. In the same repeat, with the service stopped,
it measures two anchors on the same machine, store kind and broker:

* Anchor A: N bare single-aggregate ``Application.save()`` calls into a fresh SQLite file;
* Anchor B: N bare kafka-python produces of real-sized ParticipantEnrolled messages, then flush.

The machine is shared and noisy, so figures are medians over the repeats, and the verdict is a
ratio against the slower anchor of the same run: end to end should reach at least 0.5 of its
rate. One bulk ``save(*aggregates)`` of N aggregates is reported as context (the import stores
its participants in one transaction), not as an anchor.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402

from contracts import encode  # noqa: E402
from contracts import enrolment as published  # noqa: E402
from contracts.topics import Topics  # noqa: E402
from infra.broker import EmbeddedBroker, wait_until_ready  # noqa: E402
from infra.services import SERVICES, ServiceProcess  # noqa: E402
from infra.topics import ensure_topics  # noqa: E402
from services.common.auth import Role, issue_token  # noqa: E402
from services.common.personal_data import MemoryKeyStore, PersonalDataKeys  # noqa: E402
from environment import scrub_environment  # noqa: E402  (bench/, beside this script)

TARGET_RATIO = 0.5
DEFAULT_THEMES = [
    "information search",
    "networking",
    "managing one's data on social networks",
    "online learning",
]
CSV_COLUMNS = [
    "role", "name", "email", "birth_year", "department", "site", "languages", "themes",
    "manager_email", "availability",
]
# The bench owns its stores: settings that would point the service or the anchors elsewhere
# (another database, encryption, compression...) are removed from this process's environment,
# which the service process inherits.
_SCRUBBED_EXACT = {"TANDEM_RELAY_ENABLED", "TANDEM_HOME", "TANDEM_TOPIC_PREFIX", "TANDEM_SECRET", "ENROLMENT_PORT"}


class BenchTimeout(Exception):
    """The whole run took longer than --max-seconds."""


# Processes this run started (ServiceProcess, EmbeddedBroker), registered before they start:
# a signal handler stops them itself, because an exception raised from a handler can land in
# a weakref callback or a destructor, where Python ignores it.
_CHILDREN: list[Any] = []


def _stop_children() -> None:
    for child in reversed(_CHILDREN):
        try:
            child.stop()
        except Exception as exc:  # noqa: BLE001 - stop the others anyway
            print(f"could not stop {child!r}: {exc}", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# Realistic participants
# ---------------------------------------------------------------------------------------

_FIRST = [
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Emma", "Louise", "Zoé", "Jade", "Anaïs",
    "Hélène", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Mireille", "Aïcha",
    "Fatima", "Yasmine", "Sofia", "Giulia", "Lucía", "Ana", "Marta", "Ingrid", "Priya", "Mei",
    "Lucas", "Hugo", "Thomas", "Nathan", "Louis", "Théo", "Maxime", "Antoine", "Julien", "Nicolas",
    "Jean-Baptiste", "Pierre", "Philippe", "Bernard", "Didier", "Gérard", "Patrick", "Jean-Marc",
    "François", "Karim", "Mehdi", "Youssef", "Mamadou", "Marco", "Javier", "João", "Lars", "Sean",
    "Kenji", "Arjun", "Noé",
]
_LAST = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller",
    "Henry", "Roussel", "Nicolas", "Perrin", "Benali", "Haddad", "Diallo", "Nguyen", "Rossi",
    "Fernández", "Santos", "O'Brien", "Schmidt", "Jansen", "Kowalski", "Tanaka", "Sharma",
    "Da Silva", "Le Gall", "Van der Berg", "Nuñez", "Øster", "Chevalier", "Gauthier",
]
_DEPARTMENTS = [
    "Claims", "Underwriting", "Actuarial", "Information Technology", "Finance", "Human Resources",
    "Legal, Risk & Compliance", "Marketing", "Customer Service", "Sales", "Procurement",
    "Internal Audit", "Communication", "Data Office", "Investments", "Executive Committee",
    "Strategy & Transformation", "Reinsurance",
]
_SITES = [
    "Paris La Défense", "Lyon Part-Dieu", "Nantes", "Lille", "Bordeaux", "Marseille", "Strasbourg",
    "Toulouse", "Rennes", "Nice", "Brussels", "Luxembourg",
]
_LANGUAGE_SETS = [
    (["fr"], 30), (["fr", "en"], 35), (["en", "fr"], 8), (["fr", "en", "es"], 6), (["fr", "de"], 4),
    (["fr", "it"], 3), (["en"], 4), (["fr", "ar"], 4), (["fr", "en", "de"], 3), (["pt", "fr"], 2),
    (["nl", "fr", "en"], 1),
]
_SLOTS = ["mon-am", "mon-pm", "tue-am", "tue-pm", "wed-am", "wed-pm", "thu-am", "thu-pm", "fri-am", "fri-pm"]
_DOMAIN = "groupe-assurance.fr"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-")


def generate_participants(n: int, seed: int = 20240601) -> list[dict[str, Any]]:
    """N participants as CSV rows (lists already split): about 1 in 5 a mentor, unique emails."""
    rng = random.Random(seed)
    this_year = datetime.now().year
    used: dict[str, int] = {}
    managers = [f"{_ascii(rng.choice(_FIRST))}.{_ascii(rng.choice(_LAST))}.mgr@{_DOMAIN}" for _ in range(max(20, n // 25))]
    languages, weights = zip(*_LANGUAGE_SETS)
    rows = []
    for _ in range(n):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        local = f"{_ascii(first)}.{_ascii(last)}"
        used[local] = used.get(local, 0) + 1
        if used[local] > 1:
            local = f"{local}{used[local]}"
        mentor = rng.random() < 0.2
        # Mentors are the young, digitally fluent volunteers; mentees are their seniors.
        birth_year = rng.randint(this_year - 35, this_year - 20) if mentor else rng.randint(this_year - 66, this_year - 32)
        themes = rng.sample(DEFAULT_THEMES, rng.choice([1, 2, 2, 3, 3, 4]))
        if rng.random() < 0.1:  # people type themes as they like; the service matches any case
            themes = [t.capitalize() if rng.random() < 0.5 else t.title() for t in themes]
        rows.append({
            "role": "mentor" if mentor else "mentee",
            "name": f"{first} {last}",
            "email": f"{local}@{_DOMAIN}",
            "birth_year": birth_year,
            "department": rng.choice(_DEPARTMENTS),
            "site": rng.choice(_SITES),
            "languages": list(rng.choices(languages, weights)[0]),
            "themes": themes,
            "manager_email": rng.choice(managers) if rng.random() < 0.85 else "",
            "availability": sorted(rng.sample(_SLOTS, rng.randint(0, 4)), key=_SLOTS.index),
        })
    return rows


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([";".join(v) if isinstance(v, list) else v for v in (row[c] for c in CSV_COLUMNS)])
    return out.getvalue().encode("utf-8")


def stored_profile(row: dict[str, Any]) -> dict[str, Any]:
    """The shape the service stores and publishes (personal data kept apart)."""
    return {
        "role": row["role"],
        "department": row["department"],
        "site": row["site"],
        "languages": row["languages"],
        "themes": [t.lower() for t in row["themes"]],
        "availability": row["availability"],
        "personal_data": {
            "name": row["name"],
            "email": row["email"],
            "birth_year": row["birth_year"],
            "manager_email": row["manager_email"] or None,
        },
    }


def bench_context(subsidiary: str) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "actor": {"subject": "bench-admin", "role": "group-admin"},
        "correlation_id": request_id,
        "causation_id": request_id,
        "subsidiary_id": subsidiary,
    }


def enrolled_messages(profiles: list[dict[str, Any]], subsidiary: str) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """Real ParticipantEnrolled messages (key, value, headers), encoded by the contracts."""
    context = bench_context(subsidiary)
    now = datetime.now(timezone.utc)
    keys = PersonalDataKeys(MemoryKeyStore())  # sealed like the service's: same sizes
    messages = []
    for profile in profiles:
        participant_id = uuid.uuid4()
        message = published.ParticipantEnrolled(
            event_id=uuid.uuid4(),
            subsidiary_id=subsidiary,
            occurred_at=now,
            producer=published.PRODUCER,
            actor=context["actor"],
            correlation_id=context["correlation_id"],
            causation_id=context["causation_id"],
            payload={**profile, "participant_id": participant_id},
        )
        messages.append(encode(message, keys))
    return messages


# ---------------------------------------------------------------------------------------
# Anchor A: bare eventsourcing saves
# ---------------------------------------------------------------------------------------


class BenchRecord(Aggregate):
    """A trivial aggregate: one created event carrying a participant-sized payload."""

    @event("Created")
    def __init__(self, subsidiary_id: str, profile: dict[str, Any], context: dict[str, Any]) -> None:
        self.subsidiary_id = subsidiary_id
        self.profile = profile


class AnchorApplication(Application[uuid.UUID]):
    name = "benchanchor"


def sqlite_env(path: Path) -> dict[str, str]:
    # What the service's settings give its own store (services.common.settings.event_store_env).
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "SQLITE_LOCK_TIMEOUT": "10"}


def anchor_saves(workdir: Path, profiles: list[dict[str, Any]], subsidiary: str) -> float:
    app = AnchorApplication(env=sqlite_env(workdir / "anchor-single.db"))
    context = bench_context(subsidiary)
    try:
        started = time.perf_counter()
        for profile in profiles:
            app.save(BenchRecord(subsidiary_id=subsidiary, profile=profile, context=context))
        elapsed = time.perf_counter() - started
        assert app.recorder.max_notification_id() == len(profiles)
    finally:
        app.close()
    return elapsed


def context_bulk_save(workdir: Path, profiles: list[dict[str, Any]], subsidiary: str) -> float:
    app = AnchorApplication(env=sqlite_env(workdir / "anchor-bulk.db"))
    context = bench_context(subsidiary)
    try:
        started = time.perf_counter()
        app.save(*[BenchRecord(subsidiary_id=subsidiary, profile=p, context=context) for p in profiles])
        elapsed = time.perf_counter() - started
        assert app.recorder.max_notification_id() == len(profiles)
    finally:
        app.close()
    return elapsed


# ---------------------------------------------------------------------------------------
# Anchor B: bare kafka-python produces
# ---------------------------------------------------------------------------------------


def anchor_produces(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> float:
    # The service's producer settings (services.common.kafka.create_producer): idempotent,
    # acks=all, linger_ms=5. Connected and warmed up before the clock starts, as the relay's
    # producer is by the time an import arrives.
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="bench-anchor", linger_ms=5, max_block_ms=10_000)
    return timed_sends(producer, topic, messages)


def timed_sends(producer: KafkaProducer, topic: str, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> float:
    """Seconds to send every message and flush, after one untimed warm-up send (the first
    message, once more: it connects the producer); closes the producer."""
    try:
        key, value, headers = messages[0]
        producer.send(topic, key=key, value=value, headers=headers).get(timeout=30)
        started = time.perf_counter()
        futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in messages]
        producer.flush()
        elapsed = time.perf_counter() - started
        failed = [f.exception for f in futures if not f.succeeded()]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(messages)} produces failed, e.g. {failed[0]!r}")
    finally:
        producer.close(timeout=10)
    return elapsed


# ---------------------------------------------------------------------------------------
# End to end: the real service
# ---------------------------------------------------------------------------------------


class EnrolledWatcher(threading.Thread):
    """Reads the enrolment topic from the beginning (partitions assigned, no group) and notes
    when the expected number of distinct ParticipantEnrolled events of one import arrived."""

    def __init__(self, bootstrap: str, topic: str, subsidiary: str, correlation_id: str, expected: int) -> None:
        super().__init__(name="bench-watcher", daemon=True)
        self.topic = topic
        self.subsidiary = subsidiary.encode()
        self.marker = f'"correlation_id":"{correlation_id}"'.encode()
        self.expected = expected
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="bench-watcher",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,  # the resolution of the end time when the broker holds fetches
        )
        partitions = None
        deadline = time.monotonic() + 30
        while not partitions:
            partitions = self.consumer.partitions_for_topic(topic)
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {topic} has no partitions")
            if not partitions:
                time.sleep(0.1)
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.ready = threading.Event()
        self.done = threading.Event()
        self._halt = threading.Event()
        self.lock = threading.Lock()
        self.other_events = 0  # this subsidiary's events of other types (onboarding)
        self.event_ids: set[bytes] = set()
        self.messages = 0
        self.value_bytes = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                batches = self.consumer.poll(timeout_ms=100)
                self.ready.set()
                now = time.perf_counter()
                for records in batches.values():
                    for record in records:
                        self._note(record, now)
                if len(self.event_ids) >= self.expected:
                    self.done.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.done.set()
        finally:
            self.ready.set()

    def _note(self, record: Any, now: float) -> None:
        headers = dict(record.headers or [])
        if headers.get("subsidiary_id") != self.subsidiary:
            return
        if headers.get("type") != b"ParticipantEnrolled" or self.marker not in record.value:
            with self.lock:
                self.other_events += 1
            return
        with self.lock:
            self.messages += 1
            self.value_bytes += len(record.value)
            self.event_ids.add(headers["event_id"])
            if self.first_at is None:
                self.first_at = now
            if len(self.event_ids) == self.expected and self.last_at is None:
                self.last_at = now

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(10)
        self.consumer.close(autocommit=False)


@dataclass
class ImportRun:
    http_s: float
    end_to_end_s: float
    first_event_s: float  # from the request to the first ParticipantEnrolled read back
    messages: int
    duplicates: int
    mean_value_bytes: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_import(
    bootstrap: str, prefix: str, workdir: Path, csv_body: bytes, n: int, deadline: "Deadline", log: IO[bytes]
) -> ImportRun:
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    spec = next(s for s in SERVICES if s.name == "enrolment")
    env = {
        "TANDEM_HOME": str(workdir / "home"),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TANDEM_TOPIC_PREFIX": prefix,
        "TANDEM_SECRET": secret,
        # Large imports must not hit the default 16 MiB body limit.
        "TANDEM_MAX_BODY_BYTES": str(max(16 * 1024 * 1024, 2 * len(csv_body))),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    service = ServiceProcess(spec, free_port(), env, log=log)
    _CHILDREN.append(service)
    watcher: EnrolledWatcher | None = None
    subsidiary = f"bench-{prefix}"
    correlation_id = f"bench-import-{uuid.uuid4().hex[:12]}"
    try:
        service.start(timeout=min(60.0, deadline.remaining()))
        token = issue_token(secret, Role.GROUP_ADMIN, subject="bench-admin")
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0) as http:
            response = http.post(
                "/subsidiaries",
                json={"id": subsidiary, "name": "Bench Assurances", "timezone": "Europe/Paris", "locale": "fr-FR"},
            )
            if response.status_code != 201:
                raise RuntimeError(f"onboarding answered {response.status_code}: {response.text[:500]}")
            watcher = EnrolledWatcher(bootstrap, Topics(prefix).enrolment, subsidiary, correlation_id, n)
            watcher.start()
            # Warm up: the consumer is fetching and the relay has connected its producer
            # (the onboarding events are on the topic) before the clock starts.
            wait_for(lambda: watcher.other_events >= 2 or watcher.error is not None, deadline, "onboarding events")
            if watcher.error is not None:
                raise RuntimeError(f"the topic consumer failed: {watcher.error!r}")
            started = time.perf_counter()
            response = http.post(
                f"/subsidiaries/{subsidiary}/participants/import",
                content=csv_body,
                headers={"Content-Type": "text/csv", "X-Correlation-ID": correlation_id},
                timeout=max(1.0, deadline.remaining()),
            )
            http_s = time.perf_counter() - started
        if response.status_code != 200 or response.json() != {"imported": n}:
            raise RuntimeError(f"import answered {response.status_code}: {response.text[:1000]}")
        if not watcher.done.wait(max(0.0, deadline.remaining())):
            raise BenchTimeout(f"only {len(watcher.event_ids)} of {n} ParticipantEnrolled events arrived in time")
        if watcher.error is not None:
            raise RuntimeError(f"the topic consumer failed: {watcher.error!r}")
        with watcher.lock:
            assert watcher.last_at is not None and watcher.first_at is not None
            return ImportRun(
                http_s=http_s,
                end_to_end_s=watcher.last_at - started,
                first_event_s=watcher.first_at - started,
                messages=watcher.messages,
                duplicates=watcher.messages - len(watcher.event_ids),
                mean_value_bytes=watcher.value_bytes / max(1, watcher.messages),
            )
    finally:
        try:
            if watcher is not None:
                watcher.stop()
        finally:  # whatever the consumer did, the service process must not outlive the bench
            service.stop()
            _CHILDREN.remove(service)


def wait_for(condition: Any, deadline: "Deadline", what: str, poll: float = 0.02) -> None:
    while not condition():
        if deadline.remaining() <= 0:
            raise BenchTimeout(f"timed out waiting for {what}")
        time.sleep(poll)


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


@dataclass
class Deadline:
    at: float

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise BenchTimeout("the run exceeded --max-seconds")


@dataclass
class Figures:
    end_to_end: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)
    anchor_saves: list[float] = field(default_factory=list)
    anchor_produces: list[float] = field(default_factory=list)
    context_bulk_save: list[float] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    mean_value_bytes: list[float] = field(default_factory=list)




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="give up (and clean up) after this long")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (stores, logs)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    if args.participants < 1 or args.repeats < 1:
        parser.error("--participants and --repeats must be at least 1")

    deadline = Deadline(time.monotonic() + args.max_seconds)
    load_at_start = os.getloadavg()[0]

    workroot = Path(tempfile.mkdtemp(prefix="tandem-bench-"))

    def on_signal(signum: int, _frame: Any) -> None:
        signal.signal(signum, signal.SIG_IGN)
        why = "hard time limit (--max-seconds + 30 s)" if signum == signal.SIGALRM else signal.Signals(signum).name
        print(f"\nbench stopped: {why}; stopping the service and the broker", file=sys.stderr, flush=True)
        _stop_children()
        print(f"kept {workroot} (service logs: repeat-*/enrolment.log)", file=sys.stderr, flush=True)
        os._exit(124 if signum == signal.SIGALRM else 128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, on_signal)
    signal.alarm(int(args.max_seconds) + 30)  # a hard stop if something blocks past the deadline

    removed = scrub_environment(("ENROLMENT_", "BENCHANCHOR_"), _SCRUBBED_EXACT)
    if removed:
        print(f"note: ignoring {', '.join(sorted(removed))} (the bench uses its own SQLite stores)", file=sys.stderr)

    n = args.participants
    rows = generate_participants(n, args.seed)
    csv_body = to_csv(rows)
    profiles = [stored_profile(r) for r in rows]
    broker: EmbeddedBroker | None = None
    figures = Figures()
    failed = False
    progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap:
            wait_until_ready(bootstrap, timeout=min(60.0, deadline.remaining()))
        else:
            broker = EmbeddedBroker(port=free_port(), log_path=workroot / "broker.log")
            _CHILDREN.append(broker)
            broker.start()
            bootstrap = broker.bootstrap_servers
        progress(f"broker {bootstrap}; {n} participants, CSV {len(csv_body) / 1e6:.2f} MB; work dir {workroot}")
        messages = enrolled_messages(profiles, "bench-anchor")
        anchor_bytes = statistics.mean(len(v) for _, v, _ in messages)

        for repeat in range(args.repeats):
            workdir = workroot / f"repeat-{repeat + 1}"
            workdir.mkdir()
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            anchor_topic = f"{prefix}.bench.produce-anchor"
            ensure_topics(bootstrap, [*Topics(prefix).all(), anchor_topic], partitions=int(os.environ.get("TANDEM_TOPIC_PARTITIONS", "3")))

            def end_to_end() -> None:
                with (workdir / "enrolment.log").open("ab") as log:
                    run = run_import(bootstrap, prefix, workdir, csv_body, n, deadline, log)
                figures.end_to_end.append(run.end_to_end_s)
                figures.http.append(run.http_s)
                figures.first_event.append(run.first_event_s)
                figures.duplicates.append(run.duplicates)
                figures.mean_value_bytes.append(run.mean_value_bytes)
                progress(f"  end to end {run.end_to_end_s:.2f}s (HTTP {run.http_s:.2f}s, first event at {run.first_event_s:.2f}s, {run.duplicates} duplicates)")

            def saves() -> None:
                figures.anchor_saves.append(anchor_saves(workdir, profiles, "bench-anchor"))
                figures.context_bulk_save.append(context_bulk_save(workdir, profiles, "bench-anchor"))
                progress(f"  anchor A {figures.anchor_saves[-1]:.2f}s (context: bulk save {figures.context_bulk_save[-1]:.2f}s)")

            def produces() -> None:
                figures.anchor_produces.append(anchor_produces(bootstrap, anchor_topic, messages))
                progress(f"  anchor B {figures.anchor_produces[-1]:.2f}s")

            # Rotate the order so no measurement always runs first (or after the same one).
            steps = [end_to_end, saves, produces]
            steps = steps[repeat % 3 :] + steps[: repeat % 3]
            progress(f"repeat {repeat + 1}/{args.repeats}: {' → '.join(s.__name__ for s in steps)}")
            for step in steps:
                deadline.check()
                step()
    except BaseException as exc:
        failed = True
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        if broker is not None:
            broker.stop()
        if args.keep or failed:
            print(f"kept {workroot} (service logs: repeat-*/enrolment.log)", file=sys.stderr)
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    report = summarise(figures, n, args.repeats, anchor_bytes, (load_at_start, os.getloadavg()[0]))
    print(report["markdown"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: v for k, v in report.items() if k != "markdown"}, indent=2) + "\n")
    return 0


def summarise(figures: Figures, n: int, repeats: int, anchor_bytes: float, load: tuple[float, float]) -> dict[str, Any]:
    med = {name: statistics.median(values) for name, values in vars(figures).items() if values}
    slower = "anchor_saves" if med["anchor_saves"] >= med["anchor_produces"] else "anchor_produces"
    ratio = med[slower] / med["end_to_end"]  # rates are N / time, so this is e2e rate / anchor rate
    per_repeat = [max(a, b) / e for e, a, b in zip(figures.end_to_end, figures.anchor_saves, figures.anchor_produces)]
    met = ratio >= TARGET_RATIO
    label = {"anchor_saves": "A (eventsourcing saves)", "anchor_produces": "B (kafka-python produces)"}[slower]

    def row(name: str, key: str) -> str:
        seconds = med[key]
        return f"| {name} | {seconds:.2f} | {n / seconds:,.0f} | {med[slower] / seconds:.2f} |"

    lines = [
        f"Enrolment CSV import of {n:,} participants: median of {repeats} repeat(s), "
        f"{datetime.now().strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"1-min load average {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        "| Measurement | Median s | Participants/s | Rate ÷ slower anchor |",
        "|---|---:|---:|---:|",
        row("**End to end**: POST import (text/csv) → last ParticipantEnrolled read from the topic", "end_to_end"),
        row("HTTP import alone (parse, validate, store; response received)", "http"),
        row(f"Anchor A: {n:,} single-aggregate `Application.save()` calls, SQLite file", "anchor_saves"),
        row(f"Anchor B: {n:,} kafka-python produces ({anchor_bytes:.0f}-byte values, key, headers) + flush", "anchor_produces"),
        row(f"Context, not an anchor: one `save(*aggregates)` of {n:,} aggregates, SQLite file", "context_bulk_save"),
        "",
        f"Slower anchor: {label}. Target: end to end at least {TARGET_RATIO:.2f} × its rate; "
        f"measured **{ratio:.3f}** (per repeat: {', '.join(f'{r:.3f}' for r in per_repeat)}): "
        f"**{'met' if met else 'NOT met'}**.",
        f"First ParticipantEnrolled read back {med['first_event']:.2f} s after the request (median); publishing "
        f"after the HTTP response took {med['end_to_end'] - med['http']:.2f} s. Messages read: "
        f"{med['mean_value_bytes']:.0f} bytes on average; duplicates: {', '.join(map(str, figures.duplicates))}.",
    ]
    return {
        "participants": n,
        "repeats": repeats,
        "seconds": {k: v for k, v in vars(figures).items() if k not in ("duplicates", "mean_value_bytes")},
        "duplicates": figures.duplicates,
        "mean_value_bytes": figures.mean_value_bytes,
        "anchor_value_bytes": anchor_bytes,
        "median_seconds": med,
        "participants_per_second": {k: n / v for k, v in med.items() if k not in ("duplicates", "mean_value_bytes", "first_event")},
        "load_average_1min": {"start": load[0], "end": load[1]},
        "slower_anchor": slower,
        "ratio_end_to_end_to_slower_anchor": ratio,
        "ratio_per_repeat": per_repeat,
        "target_ratio": TARGET_RATIO,
        "target_met": met,
        "markdown": "\n".join(lines),
    }


if __name__ == "__main__":
    sys.exit(main())
