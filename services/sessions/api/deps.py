"""Dependencies of sessions' routes."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from services.common.auth import authenticate
from services.common.http import content_type
from services.sessions.application import SessionsApplication


def get_sessions(request: Request) -> SessionsApplication:
    return request.app.state.sessions


def clock() -> datetime:
    """The time a request is handled at: sessions in the past, started ones, stalled ones."""
    return datetime.now(UTC)


Sessions = Annotated[SessionsApplication, Depends(get_sessions)]
Now = Annotated[datetime, Depends(clock)]

# Authentication first, so an anonymous caller learns nothing but 401.
JSON_BODY = [Depends(authenticate), Depends(content_type("application/json"))]
