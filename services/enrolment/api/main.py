"""Enrolment's FastAPI application: wiring of the store, the read model, the relay and routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.http import create_service_app, health_router
from services.common.relay import start_relay
from services.enrolment.api.routers import participants, subsidiaries
from services.enrolment.application import EnrolmentApplication
from services.enrolment.publishing import to_integration_event
from services.enrolment.settings import EnrolmentSettings

DESCRIPTION = """
Subsidiaries, their reverse-mentoring programme, and the mentors and mentees who take part.

Every change is stored as an event and published on the enrolment topic. Authenticate with
`Authorization: Bearer <token>` (`tandem token --role ...` prints one).
"""


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    settings = settings or EnrolmentSettings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        enrolment = EnrolmentApplication(env=settings.event_store_env(EnrolmentApplication.name))
        enrolment.view.catch_up()
        app.state.enrolment = enrolment
        relay = start_relay(enrolment, to_integration_event, settings.topics.enrolment, settings)
        state.update(enrolment=enrolment, relay=relay)
        try:
            yield
        finally:
            if relay is not None:
                relay.stop()
            enrolment.close()

    def health() -> dict[str, Any]:
        enrolment, relay = state.get("enrolment"), state.get("relay")
        if enrolment is None:  # still starting
            return {"service": "enrolment", "event_store": {"ok": False}}
        head = enrolment.recorder.max_notification_id() or 0
        report: dict[str, Any] = {"service": "enrolment", "event_store": {"ok": True, "last_position": head}}
        report["relay"] = relay.report() if relay is not None else {"ok": True, "enabled": False}
        return report

    return create_service_app(
        title="Tandem enrolment",
        description=DESCRIPTION,
        version="1.0.0",
        token_secret=settings.token_secret(),
        max_body_bytes=settings.max_body_bytes,
        routers=[subsidiaries.router, participants.router, health_router(health)],
        lifespan=lifespan,
    )
