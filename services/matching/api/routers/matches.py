"""Matches: published proposals, until declined or ended."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting, Limit, Offset, page
from services.matching.api.deps import Matching
from services.matching.api.schemas import DeclineIn, MatchOut

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/matches", tags=["matches"], responses=ERROR_RESPONSES)


@router.get("", summary="The subsidiary's matches, filtered by status and by participant")
def list_matches(
    subsidiary_id: str,
    _: SubsidiaryReader,
    matching: Matching,
    response: Response,
    status: Literal["active", "declined", "ended", "completed"] | None = None,
    participant_id: Annotated[UUID | None, Query(description="Only the matches this participant is in (as mentor or mentee)")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[MatchOut]:
    found = matching.view.matches(subsidiary_id, status, None if participant_id is None else str(participant_id))
    return [MatchOut(**m) for m in page(response, found, limit, offset)]


@router.get("/{match_id}", summary="One match")
def get_match(subsidiary_id: str, match_id: str, _: SubsidiaryReader, matching: Matching) -> MatchOut:
    return MatchOut(**matching.view.match(subsidiary_id, match_id))


@router.post(
    "/{match_id}/decline",
    dependencies=[*JSON_BODY, Acting],
    summary="Decline a match: its members return to the pool, and the pair is never proposed again",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "The match is no longer active, or `by` is not a member"}},
)
def decline(
    subsidiary_id: str, match_id: str, body: DeclineIn, _: SubsidiaryWriter, matching: Matching
) -> MatchOut:
    matching.decline(subsidiary_id, match_id, body.by, body.reason)
    return MatchOut(**matching.view.match(subsidiary_id, match_id))
