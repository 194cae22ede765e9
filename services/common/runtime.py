"""What runs inside every service process next to its API: its eventsourcing Application,
the consumer of other services' topics (if it has one), the relay of its own events and,
beside the relay, the publisher of signed checkpoints of its audit chain, started and
stopped together, and the health report that says how each is doing."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from contracts import IntegrationEvent
from services.common.application import ServiceApplication
from services.common.audit import AuditRead
from services.common.checkpoints import CheckpointPublisher, start_checkpoints
from services.common.consumer import EventConsumer
from services.common.kafka import BrokerCheck, kafka_security
from services.common.relay import Relay, start_relay
from services.common.settings import ServiceSettings


@dataclass
class ServiceRuntime:
    name: str  # also the app.state attribute the routes read the application from
    settings: ServiceSettings
    create: Callable[[dict[str, str]], ServiceApplication]  # the Application, from its event store's settings
    translate: Callable[[Any], IntegrationEvent | None]  # stored domain event -> published event
    consumes: list[str] = field(default_factory=list)  # topics of other services
    consumer_group: str | None = None
    application: ServiceApplication | None = None
    relay: Relay | None = None
    consumer: EventConsumer | None = None
    checkpoints: CheckpointPublisher | None = None
    broker: BrokerCheck | None = None

    def __post_init__(self) -> None:
        # A cluster connection set up wrong stops the service at start, every setting named,
        # rather than every client failing later.
        kafka_security()

    def lifespan(self) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            application = self.create(self.settings.event_store_env(self.name))
            view = getattr(application, "view", None)
            if view is not None:
                view.catch_up()  # read models are ready before the first request
            setattr(app.state, self.name, application)
            if self.consumes and self.settings.consumer_enabled:
                assert self.consumer_group is not None
                handle = application.apply_events  # type: ignore[attr-defined]
                self.consumer = EventConsumer(
                    self.settings.kafka_bootstrap_servers,
                    self.consumes,
                    self.consumer_group,
                    handle,
                    keys=application.keys,
                    dead_letter_topic=self.settings.topics.dead_letters(self.name),
                )
                self.consumer.start()
            self.relay = start_relay(application, self.publishable, self.settings.topics.of(self.name), self.settings)
            if self.relay is not None:  # where the store's events are published, so are its checkpoints
                self.checkpoints = start_checkpoints(self.name, application, self.settings)
            if self.consumer is not None or self.relay is not None:
                # What the broker's clients cannot tell /healthz quickly: whether it answers,
                # and whether the topics this service writes and reads are short of a replica.
                watched = (self.settings.topics.of(self.name), *self.consumes)
                self.broker = BrokerCheck(self.settings.kafka_bootstrap_servers, topics=watched)
                self.broker.start()
            self.application = application
            try:
                yield
            finally:
                if self.broker is not None:
                    self.broker.stop()
                if self.consumer is not None:
                    self.consumer.stop()
                if self.relay is not None:
                    self.relay.stop()
                if self.checkpoints is not None:
                    self.checkpoints.stop()  # after the last writes: its final round covers them
                application.close()

        return lifespan

    def run_relay_alone(self, stop: Any) -> None:
        """Only the relay, in this process, until `stop` (a threading.Event) is set: for
        deployments that run several API instances on one store and one relay beside them
        (each with TANDEM_RELAY_ENABLED=false). It polls the store, as nothing wakes it."""
        application = self.create(self.settings.event_store_env(self.name))
        relay = Relay(
            application,
            self.publishable,
            self.settings.topics.of(self.name),
            self.settings.kafka_bootstrap_servers,
            reset_check_seconds=self.settings.relay_reset_check_seconds,
        )
        relay.start()
        checkpoints = start_checkpoints(self.name, application, self.settings)
        try:
            stop.wait()
        finally:
            relay.stop()
            if checkpoints is not None:
                checkpoints.stop()
            application.close()

    def publishable(self, domain_event: Any) -> IntegrationEvent | None:
        """What the relay publishes for a stored event: audit reads stay inside the service."""
        if isinstance(domain_event, AuditRead.Event):
            return None
        return self.translate(domain_event)

    def health(self) -> dict[str, Any]:
        if self.application is None:  # still starting
            return {"service": self.name, "event_store": {"ok": False}}
        report: dict[str, Any] = {
            "service": self.name,
            "event_store": {"ok": True, "last_position": self.application.recorder.max_notification_id() or 0},
        }
        report["personal_data"] = self.application.keys.unopenable.report()
        if self.broker is not None:
            report["broker"] = self.broker.report()
        if self.consumes:
            report["consumer"] = self.consumer.status() if self.consumer is not None else {"ok": True, "enabled": False}
        report["relay"] = self.relay.report() if self.relay is not None else {"ok": True, "enabled": False}
        report["checkpoints"] = self.checkpoints.report() if self.checkpoints is not None else {"ok": True, "enabled": False}
        return report
