"""What runs inside every service process next to its API: its eventsourcing Application,
the consumer of other services' topics (if it has one), the relay of its own events and,
beside the relay, the publisher of signed checkpoints of its audit chain, started and
stopped together, and the health report that says how each is doing. All of it, and the
API app around it (`create_service_app`), built from the service's declaration
(services/common/service.py)."""

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic

from fastapi import FastAPI

from contracts import IntegrationEvent
from services.common.audit import AuditRead, audit_router, replay_router
from services.common.checkpoints import CheckpointPublisher, start_checkpoints
from services.common.consumer import EventConsumer
from services.common.consuming import ConsumingApplication
from services.common.http import create_http_app, health_router
from services.common.kafka import BrokerCheck, kafka_security
from services.common.relay import Relay, start_relay
from services.common.service import A, S, Service


def create_service_app(service: Service[A, S], settings: S | None = None) -> FastAPI:
    """The service's API app: its routes and the shared audit, replay and health ones, with
    its runtime started and stopped with the app. Settings from the environment unless given."""
    runtime = ServiceRuntime.of(service, settings)
    return create_http_app(
        title=service.title,
        description=service.description,
        version=service.version,
        token_secret=runtime.settings.token_secret(),
        max_body_bytes=runtime.settings.max_body_bytes,
        token_max_lifetime=runtime.settings.token_max_lifetime,
        routers=[*service.routers, audit_router(runtime), replay_router(runtime), health_router(runtime.health)],
        lifespan=runtime.lifespan(),
    )


@dataclass
class ServiceRuntime(Generic[A, S]):
    service: Service[A, S]
    settings: S = field(repr=False)  # it may hold the token secret: never in a log or a traceback
    application: A | None = None
    relay: Relay | None = None
    consumer: EventConsumer | None = None
    checkpoints: CheckpointPublisher | None = None
    broker: BrokerCheck | None = None

    def __post_init__(self) -> None:
        # A cluster connection set up wrong stops the service at start, every setting named,
        # rather than every client failing later.
        kafka_security()

    @classmethod
    def of(cls, service: Service[A, S], settings: S | None = None) -> "ServiceRuntime[A, S]":
        return cls(service, settings if settings is not None else service.settings())

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def consumes(self) -> list[str]:
        """The topics of other services it reads."""
        return [self.settings.topics.of(producer) for producer in self.service.consumes]

    def create(self, env: dict[str, str]) -> A:
        """The service's Application, from its event store's settings."""
        return self.service.application(env=env)

    def lifespan(self) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            application = self.create(self.settings.event_store_env(self.name))
            for view in application.views():
                view.catch_up()  # read models are ready before the first request
            app.state.application = application  # services.common.service.current_application
            group = self.service.consumer_group
            if self.consumes and self.settings.consumer_enabled:
                # The declaration checked both when it was made.
                assert isinstance(application, ConsumingApplication) and group is not None
                self.consumer = EventConsumer(
                    self.settings.kafka_bootstrap_servers,
                    self.consumes,
                    group(self.settings),
                    application.apply_events,
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

    def run_relay_alone(self, stop: threading.Event) -> None:
        """Only the relay, in this process, until `stop` is set (`tandem relay <service>`): for
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
        return self.service.translate(domain_event)

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
