"""Sessions, declared: its store, read model, consumer and relay, and its routes, are built
from this (services/common/service.py, services/common/runtime.py)."""

from fastapi import FastAPI

from services.common.runtime import ServiceRuntime, create_service_app
from services.common.service import Service
from services.sessions.api.routers import dashboards, relationships, sessions
from services.sessions.application import SessionsApplication
from services.sessions.publishing import to_integration_event
from services.sessions.settings import SessionsSettings


def consumer_group(settings: SessionsSettings) -> str:
    return settings.consumer_group


SERVICE = Service(
    application=SessionsApplication,
    settings=SessionsSettings,
    translate=to_integration_event,
    routers=(relationships.router, sessions.router, dashboards.router),
    consumes=("enrolment", "matching"),
    consumer_group=consumer_group,
    title="Tandem sessions",
    description="""
Mentoring relationships (pairs and mini-session groups) opened from matching's confirmed
matches; their sessions, attendance and feedback; dashboards for each subsidiary and for the
group. Names, time zones and the programme come from enrolment's events. Every change is
published on the sessions topic. Authenticate with `Authorization: Bearer <token>`.
""",
)


def service_runtime(settings: SessionsSettings | None = None) -> ServiceRuntime[SessionsApplication, SessionsSettings]:
    """What runs beside the API: the store, the consumer, the relay (also run alone: `tandem relay sessions`)."""
    return ServiceRuntime.of(SERVICE, settings)


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings)
