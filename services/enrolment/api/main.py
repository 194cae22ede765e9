"""Enrolment, declared: its store, read model and relay, and its routes, are built from this
(services/common/service.py, services/common/runtime.py)."""

from fastapi import FastAPI

from services.common.runtime import ServiceRuntime, create_service_app
from services.common.service import Service
from services.enrolment.api.routers import participants, subsidiaries
from services.enrolment.application import EnrolmentApplication
from services.enrolment.publishing import to_integration_event
from services.enrolment.settings import EnrolmentSettings

SERVICE = Service(
    application=EnrolmentApplication,
    settings=EnrolmentSettings,
    translate=to_integration_event,
    routers=(subsidiaries.router, participants.router),
    title="Tandem enrolment",
    description="""
Subsidiaries, their reverse-mentoring programme, and the mentors and mentees who take part.

Every change is stored as an event and published on the enrolment topic. Authenticate with
`Authorization: Bearer <token>` (`tandem token --role ...` prints one).
""",
)


def service_runtime(settings: EnrolmentSettings | None = None) -> ServiceRuntime[EnrolmentApplication, EnrolmentSettings]:
    """What runs beside the API: the store, the relay (also run alone: `tandem relay enrolment`)."""
    return ServiceRuntime.of(SERVICE, settings)


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings)
