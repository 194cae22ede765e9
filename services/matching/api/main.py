"""Matching, declared: its store, consumer and relay, and its routes, are built from this
(services/common/service.py, services/common/runtime.py)."""

from fastapi import FastAPI

from services.common.runtime import ServiceRuntime, create_service_app
from services.common.service import Service
from services.matching.api.routers import matches, pool, runs
from services.matching.application import MatchingApplication
from services.matching.publishing import to_integration_event
from services.matching.settings import MatchingSettings


def consumer_group(settings: MatchingSettings) -> str:
    return settings.consumer_group


SERVICE = Service(
    application=MatchingApplication,
    settings=MatchingSettings,
    translate=to_integration_event,
    routers=(runs.router, matches.router, pool.router),
    consumes=("enrolment", "sessions"),
    consumer_group=consumer_group,
    title="Tandem matching",
    description="""
Optimal, explainable matching of certified mentors and waiting mentees, in pairs or in
mini-sessions (one mentor and up to the programme's `mini_session_max` mentees besides them). The pool is kept from enrolment's events (and sessions', for relationships
that complete or close); matches are published on the matching topic. Authenticate with
`Authorization: Bearer <token>`.
""",
)


def service_runtime(settings: MatchingSettings | None = None) -> ServiceRuntime[MatchingApplication, MatchingSettings]:
    """What runs beside the API: the store, the consumer, the relay (also run alone: `tandem relay matching`)."""
    return ServiceRuntime.of(SERVICE, settings)


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings)
