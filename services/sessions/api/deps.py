"""Dependencies of sessions' routes."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends

from services.common.auth import SubsidiaryReader
from services.common.errors import NotFound
from services.common.service import current_application
from services.sessions.application import SessionsApplication


def clock() -> datetime:
    """The time a request is handled at: sessions in the past, started ones, stalled ones."""
    return datetime.now(UTC)


Sessions = Annotated[SessionsApplication, Depends(current_application)]
Now = Annotated[datetime, Depends(clock)]


def known_subsidiary(subsidiary_id: str, principal: SubsidiaryReader, sessions: Sessions) -> None:
    """A reader of a subsidiary sessions has heard of (from enrolment's events), else 404."""
    if not sessions.view.known(subsidiary_id):
        raise NotFound(f"subsidiary {subsidiary_id!r} not found")


KnownSubsidiary = Depends(known_subsidiary)
