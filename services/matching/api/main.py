"""Matching's FastAPI application: wiring of the store, the consumer, the relay and routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.consumer import EventConsumer
from services.common.http import create_service_app, health_router
from services.common.relay import start_relay
from services.matching.api.routers import matches, pool, runs
from services.matching.application import MatchingApplication
from services.matching.publishing import to_integration_event
from services.matching.settings import MatchingSettings

DESCRIPTION = """
Optimal, explainable matching of certified mentors and waiting mentees, in pairs or in
mini-sessions. The pool is kept from enrolment's events; matches are published on the
matching topic. Authenticate with `Authorization: Bearer <token>`.
"""


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        matching = MatchingApplication(env=settings.event_store_env(MatchingApplication.name))
        app.state.matching = matching
        consumer = None
        if settings.consumer_enabled:
            consumer = EventConsumer(
                settings.kafka_bootstrap_servers,
                [settings.topics.enrolment, settings.topics.sessions],
                settings.consumer_group,
                matching.apply_events,
            )
            consumer.start()
        relay = start_relay(matching, to_integration_event, settings.topics.matching, settings)
        state.update(matching=matching, relay=relay, consumer=consumer)
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            if relay is not None:
                relay.stop()
            matching.close()

    def health() -> dict[str, Any]:
        matching, relay, consumer = state.get("matching"), state.get("relay"), state.get("consumer")
        if matching is None:  # still starting
            return {"service": "matching", "event_store": {"ok": False}}
        return {
            "service": "matching",
            "event_store": {"ok": True, "last_position": matching.recorder.max_notification_id() or 0},
            "consumer": consumer.status() if consumer is not None else {"ok": True, "enabled": False},
            "relay": relay.report() if relay is not None else {"ok": True, "enabled": False},
        }

    return create_service_app(
        title="Tandem matching",
        description=DESCRIPTION,
        version="1.0.0",
        token_secret=settings.token_secret(),
        max_body_bytes=settings.max_body_bytes,
        routers=[runs.router, matches.router, pool.router, health_router(health)],
        lifespan=lifespan,
    )
