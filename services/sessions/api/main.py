"""Sessions' FastAPI application: wiring of the store, the read model, the consumer, the relay and routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.consumer import EventConsumer
from services.common.http import create_service_app, health_router
from services.common.relay import start_relay
from services.sessions.api.routers import dashboards, relationships, sessions
from services.sessions.application import SessionsApplication
from services.sessions.publishing import to_integration_event
from services.sessions.settings import SessionsSettings

DESCRIPTION = """
Mentoring relationships (pairs and mini-session groups) opened from matching's confirmed
matches; their sessions, attendance and feedback; dashboards for each subsidiary and for the
group. Names, time zones and the programme come from enrolment's events. Every change is
published on the sessions topic. Authenticate with `Authorization: Bearer <token>`.
"""


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    settings = settings or SessionsSettings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        application = SessionsApplication(env=settings.event_store_env(SessionsApplication.name))
        application.view.catch_up()
        app.state.sessions = application
        consumer = None
        if settings.consumer_enabled:
            topics = [settings.topics.enrolment, settings.topics.matching]
            consumer = EventConsumer(settings.kafka_bootstrap_servers, topics, settings.consumer_group, application.apply_events)
            consumer.start()
        relay = start_relay(application, to_integration_event, settings.topics.sessions, settings)
        state.update(sessions=application, relay=relay, consumer=consumer)
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            if relay is not None:
                relay.stop()
            application.close()

    def health() -> dict[str, Any]:
        application, relay, consumer = state.get("sessions"), state.get("relay"), state.get("consumer")
        if application is None:  # still starting
            return {"service": "sessions", "event_store": {"ok": False}}
        return {
            "service": "sessions",
            "event_store": {"ok": True, "last_position": application.recorder.max_notification_id() or 0},
            "consumer": consumer.status() if consumer is not None else {"ok": True, "enabled": False},
            "relay": relay.report() if relay is not None else {"ok": True, "enabled": False},
        }

    return create_service_app(
        title="Tandem sessions",
        description=DESCRIPTION,
        version="1.0.0",
        token_secret=settings.token_secret(),
        max_body_bytes=settings.max_body_bytes,
        routers=[relationships.router, sessions.router, dashboards.router, health_router(health)],
        lifespan=lifespan,
    )
