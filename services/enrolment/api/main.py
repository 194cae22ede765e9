"""Enrolment's FastAPI application: its store, read model and relay, and its routes."""

from fastapi import FastAPI

from services.common.audit import audit_router, replay_router
from services.common.http import create_service_app, health_router
from services.common.runtime import ServiceRuntime
from services.enrolment.api.routers import participants, subsidiaries
from services.enrolment.application import EnrolmentApplication
from services.enrolment.publishing import to_integration_event
from services.enrolment.settings import EnrolmentSettings

DESCRIPTION = """
Subsidiaries, their reverse-mentoring programme, and the mentors and mentees who take part.

Every change is stored as an event and published on the enrolment topic. Authenticate with
`Authorization: Bearer <token>` (`tandem token --role ...` prints one).
"""


def service_runtime(settings: EnrolmentSettings | None = None) -> ServiceRuntime:
    """What runs beside the API: the store, the relay (also run alone: `tandem relay enrolment`)."""
    settings = settings or EnrolmentSettings()
    return ServiceRuntime(
        EnrolmentApplication.name, settings, create=lambda env: EnrolmentApplication(env=env), translate=to_integration_event
    )


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    settings = settings or EnrolmentSettings()
    runtime = service_runtime(settings)
    return create_service_app(
        title="Tandem enrolment",
        description=DESCRIPTION,
        version="1.0.0",
        token_secret=settings.token_secret(),
        max_body_bytes=settings.max_body_bytes,
        token_max_lifetime=settings.token_max_lifetime,
        routers=[subsidiaries.router, participants.router, audit_router(runtime), replay_router(runtime), health_router(runtime.health)],
        lifespan=runtime.lifespan(),
    )
