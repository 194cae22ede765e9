"""The outbox relay: publishes an application's notification log to its Kafka topic.

The event store's notification log is the outbox. Events and their notification ids commit
together, so nothing needs a second write at commit time. The relay reads the log in order,
publishes each event, waits for the broker to acknowledge the batch, and only then records
its position (a tracking record in the service's own store). A crash anywhere means the
unacknowledged tail is published again: at least once, never lost. Consumers deduplicate by
the event's own id, which is derived from the stored event and so is the same every time.

A broker can also lose what it acknowledged: the embedded one keeps topics in memory, so a
fresh one starts empty. The relay notices an empty topic while its position says it
published something, and publishes everything again from the start of the log. Positions
only ever grow in a tracking recorder, so a restart from zero opens a new "epoch": the
position is tracked under a name that carries the epoch number, itself a tracking record.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking

from contracts import IntegrationEvent, encode
from services.common.application import ServiceApplication
from services.common.kafka import create_consumer, create_producer, topic_is_empty
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)
ACK_TIMEOUT_SECONDS = 30.0

Translate = Callable[[Any], IntegrationEvent | None]


@dataclass
class RelayStatus:
    position: int
    head: int
    last_error: str | None

    @property
    def lag(self) -> int:
        return self.head - self.position


class Relay:
    def __init__(
        self,
        app: ServiceApplication,
        translate: Translate,
        topic: str,
        bootstrap_servers: str,
        *,
        batch_size: int = 2000,
        idle_poll_seconds: float = 0.5,
        reset_check_seconds: float = 10.0,
    ) -> None:
        self.app = app
        self.translate = translate
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.reset_check_seconds = reset_check_seconds
        # The position lives in the service's own store, beside the events it points into.
        self.tracking = app.factory.tracking_recorder()
        self.keys = app.keys  # the participants' keys (services/common/personal_data.py)
        # Personal values go out as they were stored, sealed (encode seals any older plaintext).
        self.to_domain_event = app.mapper.to_sealed_domain_event
        self.epoch_name = f"relay-epoch:{topic}"
        self._producer: Any = None
        self._offsets_reader: Any = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._marker_checked = False

    # -- position ------------------------------------------------------------------------

    @property
    def tracking_name(self) -> str:
        return f"relay:{self.topic}:{self.epoch()}"

    def epoch(self) -> int:
        return self.tracking.max_tracking_id(self.epoch_name) or 0

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.tracking_name) or 0

    @property
    def published_name(self) -> str:
        return f"relay-published:{self.topic}:{self.epoch()}"

    def has_published(self) -> bool:
        """Whether this epoch sent anything: a log of unpublished events only (e.g. audit
        reads) leaves the topic empty, and that is no loss."""
        if self.tracking.max_tracking_id(self.published_name):
            return True
        if not self._marker_checked:
            # A store from before the mark existed: look once for a published event behind the position.
            self._marker_checked = True
            if self._any_published_up_to(self.position()):
                self._mark_published()
                return True
        return False

    def _any_published_up_to(self, position: int) -> bool:
        start = 0
        while start < position:
            notifications = self.app.recorder.select_notifications(start=start, limit=self.batch_size, stop=position, inclusive_of_start=False)
            if any(self.translate(self.to_domain_event(n)) is not None for n in notifications):
                return True
            if len(notifications) < self.batch_size:
                return False
            start = notifications[-1].id
        return False

    def _mark_published(self) -> None:
        with contextlib.suppress(IntegrityError):  # another relay on the same store marked it first
            self.tracking.insert_tracking(Tracking(self.published_name, 1))

    def topic_lost_its_events(self) -> bool:
        """True when the topic is empty although this relay has published to it (a topic the
        broker does not know yet raises TopicNotKnown: unknown is not lost)."""
        if not self.has_published():
            return False
        if self._offsets_reader is None:
            self._offsets_reader = create_consumer(self.bootstrap_servers, None)
        return topic_is_empty(self._offsets_reader, self.topic)

    def restart_from_the_beginning(self) -> None:
        """Publish the whole log again (consumers deduplicate by event id)."""
        new_epoch = self.epoch() + 1
        self.tracking.insert_tracking(Tracking(self.epoch_name, new_epoch))
        log.warning("relay for %s: the topic lost its events; publishing everything again (epoch %d)", self.topic, new_epoch)

    def status(self) -> RelayStatus:
        return RelayStatus(self.position(), self.app.recorder.max_notification_id() or 0, self.last_error)

    def report(self) -> dict[str, Any]:
        """For health endpoints: what is published, what is not yet, and the last failure."""
        status = self.status()
        return {
            "ok": status.last_error is None,
            "enabled": True,
            "topic": self.topic,
            "published_up_to": status.position,
            "lag": status.lag,
            "last_error": status.last_error,
        }

    # -- publishing ----------------------------------------------------------------------

    def publish_pending(self) -> int:
        """Publish one batch after the recorded position; returns how many events it read."""
        position = self.position()
        notifications = self.app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return 0
        if self._producer is None:
            self._producer = create_producer(self.bootstrap_servers, client_id=f"relay:{self.topic}")
        futures = []
        for notification in notifications:
            event = self.translate(self.to_domain_event(notification))
            if event is None:  # internal bookkeeping (e.g. email claims) is not published
                continue
            key, value, headers = encode(event, self.keys)  # personal values sealed with their participant's key
            futures.append(self._producer.send(self.topic, key=key, value=value, headers=headers))
        # Bounded: a broker that went away surfaces as an error (and in /healthz) within
        # this time, rather than after the producer's own two-minute delivery timeout.
        self._producer.flush(timeout=ACK_TIMEOUT_SECONDS)
        for future in futures:
            future.get(timeout=ACK_TIMEOUT_SECONDS)  # raises if the broker did not acknowledge
        if futures and not self.tracking.max_tracking_id(self.published_name):
            self._mark_published()
        # Instances sharing a store (scale-out) each run a relay: whichever records a position
        # first, the other's duplicates are dropped by the consumers (by event id).
        with contextlib.suppress(IntegrityError):
            self.tracking.insert_tracking(Tracking(self.tracking_name, notifications[-1].id))
        return len(notifications)

    # -- running in the background -------------------------------------------------------

    def wake(self) -> None:
        """Called after a save so new events go out at once rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"relay:{self.topic}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._discard_clients()

    def _run(self) -> None:
        backoff = 0.5
        next_reset_check = 0.0  # at start, then now and then, and after every failure
        while not self._stop.is_set():
            self._wake.clear()  # before reading, so a save during the batch is not missed
            try:
                if time.monotonic() >= next_reset_check:
                    if self.topic_lost_its_events():
                        self.restart_from_the_beginning()
                    next_reset_check = time.monotonic() + self.reset_check_seconds
                published = self.publish_pending()
            except Exception as exc:  # broker down, store locked...: retry from the position
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay for %s: %s; retrying in %.1fs", self.topic, self.last_error, backoff)
                self._discard_clients()
                next_reset_check = 0.0
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.last_error = None
            backoff = 0.5
            if published < self.batch_size:
                self._wake.wait(self.idle_poll_seconds)

    def _discard_clients(self) -> None:
        # A producer that failed may hold a half-sent batch; start clean from the position.
        producer, offsets_reader = self._producer, self._offsets_reader
        self._producer = self._offsets_reader = None
        with contextlib.suppress(Exception):  # already failing; the next attempt reconnects
            if producer is not None:
                producer.close(timeout=1)
        with contextlib.suppress(Exception):
            if offsets_reader is not None:
                offsets_reader.close()


def start_relay(app: ServiceApplication, translate: Translate, topic: str, settings: ServiceSettings) -> Relay | None:
    """The service's relay, started and woken by each save; None when the settings disable it."""
    if not settings.relay_enabled:
        return None
    relay = Relay(app, translate, topic, settings.kafka_bootstrap_servers, reset_check_seconds=settings.relay_reset_check_seconds)
    app.on_saved = relay.wake
    relay.start()
    return relay
