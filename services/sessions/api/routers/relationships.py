"""Relationships: pairs and mini-session groups, from their match until completed or closed."""

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Response, status

from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.errors import NotFound
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting, Limit, Offset, page
from services.sessions.api.deps import KnownSubsidiary, Now, Sessions
from services.sessions.api.schemas import CloseIn, NoteIn, RelationshipOut

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/relationships", tags=["relationships"], responses=ERROR_RESPONSES)


@router.get("", dependencies=[KnownSubsidiary], summary="The subsidiary's relationships (pairs and mini-session groups), with filters")
def list_relationships(
    subsidiary_id: str,
    sessions: Sessions,
    now: Now,
    response: Response,
    status: Literal["active", "completed", "closed"] | None = None,
    format: Literal["pair", "mini-session"] | None = None,  # noqa: A002
    participant_id: UUID | None = None,
    stalled: bool | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[RelationshipOut]:
    rows = sessions.view.relationships(
        subsidiary_id, now, status=status, format=format, participant_id=str(participant_id) if participant_id else None, stalled=stalled
    )
    rows.sort(key=lambda r: (r["matched_at"], r["id"]))
    return [RelationshipOut(**row) for row in page(response, rows, limit, offset)]


@router.get("/{relationship_id}", summary="One relationship, with its health (stalled, no-shows) and follow-up notes")
def get_relationship(subsidiary_id: str, relationship_id: UUID, _: SubsidiaryReader, sessions: Sessions, now: Now) -> RelationshipOut:
    return _relationship(sessions, subsidiary_id, relationship_id, now)


@router.post(
    "/{relationship_id}/notes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*JSON_BODY, Acting],
    summary="A member's follow-up note: the exchange goes on after completion",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "The relationship is closed, or the author is not a member"}},
)
def add_note(
    subsidiary_id: str, relationship_id: UUID, body: NoteIn, _: SubsidiaryWriter, sessions: Sessions, now: Now
) -> RelationshipOut:
    sessions.add_note(subsidiary_id, relationship_id, str(body.author_id), body.note, now)
    return _relationship(sessions, subsidiary_id, relationship_id, now)


@router.post(
    "/{relationship_id}/close",
    dependencies=[*JSON_BODY, Acting],
    summary="Close an active relationship early, with a reason: its sessions to come are cancelled, and the match ends",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "The relationship is already completed or closed"}},
)
def close(
    subsidiary_id: str, relationship_id: UUID, body: CloseIn, _: SubsidiaryWriter, sessions: Sessions, now: Now
) -> RelationshipOut:
    sessions.close_relationship(subsidiary_id, relationship_id, body.reason)
    return _relationship(sessions, subsidiary_id, relationship_id, now)


def _relationship(sessions: Sessions, subsidiary_id: str, relationship_id: UUID, now: Now) -> RelationshipOut:
    found = sessions.view.relationship(subsidiary_id, str(relationship_id), now)
    if found is None:
        raise NotFound(f"relationship {relationship_id} not found")
    return RelationshipOut(**found)
