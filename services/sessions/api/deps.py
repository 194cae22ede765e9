"""Dependencies of sessions' routes."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from services.common.auth import SubsidiaryReader, authenticate
from services.common.errors import NotFound
from services.common.http import content_type
from services.sessions.application import SessionsApplication


def get_sessions(request: Request) -> SessionsApplication:
    return request.app.state.sessions


def clock() -> datetime:
    """The time a request is handled at: sessions in the past, started ones, stalled ones."""
    return datetime.now(UTC)


Sessions = Annotated[SessionsApplication, Depends(get_sessions)]
Now = Annotated[datetime, Depends(clock)]


def known_subsidiary(subsidiary_id: str, principal: SubsidiaryReader, sessions: Sessions) -> None:
    """A reader of a subsidiary sessions has heard of (from enrolment's events), else 404."""
    if not sessions.view.known(subsidiary_id):
        raise NotFound(f"subsidiary {subsidiary_id!r} not found")


KnownSubsidiary = Depends(known_subsidiary)

# Authentication first, so an anonymous caller learns nothing but 401.
JSON_BODY = [Depends(authenticate), Depends(content_type("application/json"))]
