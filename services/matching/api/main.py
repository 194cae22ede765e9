"""Matching's FastAPI application: its store, consumer and relay, and its routes."""

from fastapi import FastAPI

from services.common.audit import audit_router, replay_router
from services.common.http import create_service_app, health_router
from services.common.runtime import ServiceRuntime
from services.matching.api.routers import matches, pool, runs
from services.matching.application import MatchingApplication
from services.matching.publishing import to_integration_event
from services.matching.settings import MatchingSettings

DESCRIPTION = """
Optimal, explainable matching of certified mentors and waiting mentees, in pairs or in
mini-sessions (one mentor and up to the programme's `mini_session_max` mentees besides them). The pool is kept from enrolment's events (and sessions', for relationships
that complete or close); matches are published on the matching topic. Authenticate with
`Authorization: Bearer <token>`.
"""


def service_runtime(settings: MatchingSettings | None = None) -> ServiceRuntime:
    """What runs beside the API: the store, the consumer, the relay (also run alone: `tandem relay matching`)."""
    settings = settings or MatchingSettings()
    return ServiceRuntime(
        MatchingApplication.name,
        settings,
        create=lambda env: MatchingApplication(env=env),
        translate=to_integration_event,
        consumes=[settings.topics.enrolment, settings.topics.sessions],
        consumer_group=settings.consumer_group,
    )


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    runtime = service_runtime(settings)
    return create_service_app(
        title="Tandem matching",
        description=DESCRIPTION,
        version="1.0.0",
        token_secret=settings.token_secret(),
        max_body_bytes=settings.max_body_bytes,
        token_max_lifetime=settings.token_max_lifetime,
        routers=[runs.router, matches.router, pool.router, audit_router(runtime), replay_router(runtime), health_router(runtime.health)],
        lifespan=runtime.lifespan(),
    )
