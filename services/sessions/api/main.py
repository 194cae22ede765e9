"""Sessions' FastAPI application: its store, read model, consumer and relay, and its routes."""

from fastapi import FastAPI

from services.common.audit import audit_router, replay_router
from services.common.http import create_service_app, health_router
from services.common.runtime import ServiceRuntime
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


def service_runtime(settings: SessionsSettings | None = None) -> ServiceRuntime:
    """What runs beside the API: the store, the consumer, the relay (also run alone: `tandem relay sessions`)."""
    settings = settings or SessionsSettings()
    return ServiceRuntime(
        SessionsApplication.name,
        settings,
        create=lambda env: SessionsApplication(env=env),
        translate=to_integration_event,
        consumes=[settings.topics.enrolment, settings.topics.matching],
        consumer_group=settings.consumer_group,
    )


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    settings = settings or SessionsSettings()
    runtime = service_runtime(settings)
    return create_service_app(
        title="Tandem sessions",
        description=DESCRIPTION,
        version="1.0.0",
        token_secret=settings.token_secret(),
        max_body_bytes=settings.max_body_bytes,
        token_max_lifetime=settings.token_max_lifetime,
        routers=[relationships.router, sessions.router, dashboards.router, audit_router(runtime), replay_router(runtime), health_router(runtime.health)],
        lifespan=runtime.lifespan(),
    )
