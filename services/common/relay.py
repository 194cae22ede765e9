"""The outbox relay: publishes an application's notification log to its Kafka topic.

The event store's notification log is the outbox. Events and their notification ids commit
together, so nothing needs a second write at commit time. The relay reads the log in order,
publishes each event, waits for the broker to acknowledge the batch, and only then records
its position (a tracking record in the service's own store). A crash anywhere means the
unacknowledged tail is published again: at least once, never lost. Consumers deduplicate by
the event's own id, which is derived from the stored event and so is the same every time.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from contracts import IntegrationEvent, encode
from services.common.kafka import create_producer

log = logging.getLogger(__name__)

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
        app: Application[Any],
        translate: Translate,
        topic: str,
        bootstrap_servers: str,
        *,
        batch_size: int = 2000,
        idle_poll_seconds: float = 0.5,
    ) -> None:
        self.app = app
        self.translate = translate
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        # The position lives in the service's own store, beside the events it points into.
        self.tracking = app.factory.tracking_recorder()
        self.tracking_name = f"relay:{topic}"
        self._producer: Any = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    # -- position ------------------------------------------------------------------------

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.tracking_name) or 0

    def status(self) -> RelayStatus:
        return RelayStatus(self.position(), self.app.recorder.max_notification_id() or 0, self.last_error)

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
            self._producer = create_producer(self.bootstrap_servers, client_id=self.tracking_name)
        futures = []
        for notification in notifications:
            event = self.translate(self.app.mapper.to_domain_event(notification))
            if event is None:  # internal bookkeeping (e.g. email claims) is not published
                continue
            key, value, headers = encode(event)
            futures.append(self._producer.send(self.topic, key=key, value=value, headers=headers))
        self._producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker did not acknowledge
        self.tracking.insert_tracking(Tracking(self.tracking_name, notifications[-1].id))
        return len(notifications)

    def publish_all(self) -> int:
        total = 0
        while count := self.publish_pending():
            total += count
        return total

    # -- running in the background -------------------------------------------------------

    def wake(self) -> None:
        """Called after a save so new events go out at once rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.tracking_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            self._wake.clear()  # before reading, so a save during the batch is not missed
            try:
                published = self.publish_pending()
            except Exception as exc:  # broker down, store locked...: retry from the position
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay %s: %s; retrying in %.1fs", self.tracking_name, self.last_error, backoff)
                self._discard_producer()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.last_error = None
            backoff = 0.5
            if published < self.batch_size:
                self._wake.wait(self.idle_poll_seconds)

    def _discard_producer(self) -> None:
        # A producer that failed may hold a half-sent batch; start clean from the position.
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:  # noqa: BLE001 - already failing; the next attempt reconnects
                pass
            self._producer = None
