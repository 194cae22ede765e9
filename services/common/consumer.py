"""Consuming other services' events: at least once from Kafka, applied at most once.

The consumer hands each polled batch, decoded with the contracts, to the service, and only
commits the offsets once the service has stored the effects. If anything fails it goes back
to the first record of the batch and tries again. Applying an event twice must change
nothing: services deduplicate by the event's id in their own store, never by offset (the
embedded broker's offsets restart at 0 when it restarts).

A message that cannot be read (not JSON, an unknown event type, a schema version newer than
this service knows, fields that break the contract) is parked on the service's dead-letter
topic, as it came and with the reason in its headers, before the batch's offsets are
committed; the consumer goes on with the next one. Nothing is dropped silently: if parking
fails, the batch is tried again.

A message that reads well is applied only if it may have come from where it arrived
(contracts/provenance.py): its type is one the topic's producing service publishes, its
`producer` is that service, its key and headers agree with its body. If not, it is parked
too, with the check that failed as its reason.

Reasons go on a topic kept forever and into the logs, so they never hold a value from the
message: `reason_of` keeps an exception's type, and its text only when that text is known
to hold none (for a pydantic ValidationError, each error's location and kind, never its
input or message).
"""

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import PersistenceError
from kafka import TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from contracts import IntegrationEvent, decode
from contracts.personal import Keys
from contracts.provenance import ProvenanceError, check_provenance
from services.common.kafka import TopicNotKnown, create_consumer, create_producer

log = logging.getLogger(__name__)
PROBE_SECONDS = 5.0  # how often the consumer checks the broker is there, and its lag
PROBE_TIMEOUT_MS = 5000

# Messages of decoding errors known to hold no value of the message (the type names it
# quotes are validated as names first).
_SAFE_MESSAGES = [
    re.compile(p)
    for p in (
        r"unknown event type '[A-Za-z][A-Za-z0-9]{0,63}'",
        r"[A-Za-z][A-Za-z0-9]{0,63} schema version \d+ is newer than the \d+ this service reads",
        r"an event must be a JSON object",
        r"not a sealed value",
    )
]
_SAFE_LOC = re.compile(r"[A-Za-z0-9_\-\[\]]{1,64}")
MAX_ERRORS = 10
WITHHELD = "(details withheld: the text may hold values of the message)"


def reason_of(exc: BaseException) -> str:
    """Why a message could not be applied, with no value of the message in it: this goes
    into a dead letter's headers and into the logs."""
    if not isinstance(exc, ValidationError) and isinstance(cause := exc.__cause__ or exc.__context__, ValidationError):
        exc = cause  # a contract error raised again in other words (wire.decode's): told as pydantic's, whatever its text
    name = type(exc).__name__
    if isinstance(exc, ProvenanceError):
        return f"{name}: {exc}"  # names checks, topics, types and validated ids only
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        # Each (place, kind) once: a union's branches often fail alike.
        told = list(dict.fromkeys(f"{_loc(e['loc'])}: {e['type']}" for e in errors))
        described = "; ".join(told[:MAX_ERRORS])
        more = f"; and {len(told) - MAX_ERRORS} more" if len(told) > MAX_ERRORS else ""
        title = exc.title if _SAFE_LOC.fullmatch(exc.title) else "model"
        return f"{name}: {len(errors)} error(s) in {title}: {described}{more}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{name}: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    if isinstance(exc, UnicodeDecodeError):
        return f"{name}: not {exc.encoding} at position {exc.start}"
    text = str(exc)
    if any(pattern.fullmatch(text) for pattern in _SAFE_MESSAGES):
        return f"{name}: {text}"
    return f"{name}: {WITHHELD}"


def _loc(loc: tuple[int | str, ...]) -> str:
    # Field names and list indexes; a part that is not a plain name (a dict key from the
    # message, say) is not repeated.
    return ".".join(str(part) if isinstance(part, int) or _SAFE_LOC.fullmatch(part) else "?" for part in loc) or "(root)"


def failure_of(exc: BaseException) -> str:
    """What went wrong around the consumer (the broker, the store, applying a batch), for
    /healthz and the logs: the text of broker, network and store errors, which is what an
    operator needs and holds no message values; for anything else, as for a message."""
    if isinstance(exc, KafkaError | OSError | sqlite3.Error | PersistenceError):
        return f"{type(exc).__name__}: {exc}"
    return reason_of(exc)


class EventConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        topics: list[str],
        group_id: str,
        handle: Callable[[list[IntegrationEvent]], None],
        *,
        max_records: int = 1000,
        keys: Keys | None = None,
        dead_letter_topic: str | None = None,
    ) -> None:
        self.keys = keys  # to open personal values; without them they read as None
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.group_id = group_id
        self.handle = handle
        self.max_records = max_records
        self.applied = 0
        self.lag: int | None = None  # messages on this instance's partitions not yet applied
        self.dead_letter_topic = dead_letter_topic
        self.dead_lettered = 0
        self._producer: Any = None
        self.last_error: str | None = None
        self.partitions: list[str] = []  # assigned to this instance by its group, as "topic[n]"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"consumer:{self.group_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        return {
            "ok": self.last_error is None,
            "topics": self.topics,
            "group": self.group_id,
            "partitions": self.partitions,
            "applied": self.applied,
            "lag": self.lag,
            "dead_lettered": self.dead_lettered,
            "dead_letter_topic": self.dead_letter_topic,
            "last_error": self.last_error,
        }

    def _run(self) -> None:
        backoff = 0.5
        consumer = None
        next_probe = 0.0
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = self._subscribed()
                batches = consumer.poll(timeout_ms=500)
                # Instances in one group share the partitions: say which are this one's.
                self.partitions = sorted(f"{tp.topic}[{tp.partition}]" for tp in consumer.assignment())
                if batches:
                    self._process(consumer, batches)
                if time.monotonic() >= next_probe:
                    # poll() alone says nothing when the broker is gone (it just returns
                    # nothing): asking for the end offsets does, and gives the lag.
                    self.lag = self._lag(consumer)
                    next_probe = time.monotonic() + PROBE_SECONDS
                self.last_error = None
                backoff = 0.5
            except Exception as exc:  # broker down, store locked...: start again from the last commit
                self.last_error = failure_of(exc)
                log.warning("consumer %s: %s; retrying in %.1fs", self.group_id, self.last_error, backoff)
                if consumer is not None:
                    try:
                        consumer.close(autocommit=False)
                    except Exception:  # noqa: BLE001 - already failing
                        pass
                    consumer = None
                self.partitions = []
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        if consumer is not None:
            consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(timeout=5)

    def _subscribed(self) -> Any:
        """A consumer that subscribes once it knows every topic's partitions. kafka-python
        3.0.12 can join the group before it has the topics' metadata, be given no partition,
        and stay so until its next metadata refresh (metadata_max_age_ms, five minutes)."""
        consumer = create_consumer(self.bootstrap_servers, self.group_id, max_poll_records=self.max_records)
        try:
            unknown = [topic for topic in self.topics if not consumer.partitions_for_topic(topic)]
            if unknown:
                raise TopicNotKnown(f"the broker does not know {', '.join(unknown)} (yet)")
            consumer.subscribe(self.topics)
        except BaseException:
            consumer.close(autocommit=False)
            raise
        return consumer

    @staticmethod
    def _lag(consumer: Any) -> int | None:
        assigned = list(consumer.assignment())
        if not assigned:
            return None
        ends = consumer.end_offsets(assigned, timeout_ms=PROBE_TIMEOUT_MS)  # raises when the broker is away
        return sum(max(0, ends[tp] - consumer.position(tp, timeout_ms=PROBE_TIMEOUT_MS)) for tp in assigned)

    def _process(self, consumer: Any, batches: dict[TopicPartition, list[Any]]) -> None:
        events, unreadable = [], []
        for records in batches.values():
            for record in records:
                try:
                    event = decode(record.value, self.keys)
                    check_provenance(event, topic=record.topic, key=record.key, headers=record.headers)
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
                    unreadable.append((record, reason_of(exc)))
                else:
                    events.append(event)
        self.handle(events)
        if unreadable:
            self._park(unreadable)
        consumer.commit()  # only now: the effects are stored and the unreadable parked
        self.applied += len(events)

    def _park(self, unreadable: list[tuple[Any, str]]) -> None:
        """Each unreadable message on the dead-letter topic, acknowledged before we go on."""
        if self.dead_letter_topic is None:
            for record, reason in unreadable:
                log.error("dropping unreadable message %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
            self.dead_lettered += len(unreadable)
            return
        if self._producer is None:
            self._producer = create_producer(self.bootstrap_servers, f"{self.group_id}-dead-letters")
        sent = []
        for record, reason in unreadable:
            headers = [
                ("tandem-dead-letter-reason", reason[:2000].encode()),
                ("tandem-source-topic", record.topic.encode()),
                ("tandem-source-partition", str(record.partition).encode()),
                ("tandem-source-offset", str(record.offset).encode()),
                ("tandem-consumer-group", self.group_id.encode()),
                *((name, value) for name, value in (record.headers or []) if not name.startswith("tandem-dead-letter")),
            ]
            sent.append(self._producer.send(self.dead_letter_topic, key=record.key, value=record.value, headers=headers))
            log.error("parked unreadable message %s[%d]@%d on %s: %s", record.topic, record.partition, record.offset, self.dead_letter_topic, reason)
        for future in sent:
            future.get(timeout=30)  # raises if the broker did not take it: the batch is tried again
        self.dead_lettered += len(unreadable)
