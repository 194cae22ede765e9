"""The pool of eligible mentors and waiting mentees, and the score's weights."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting, Offset
from services.matching.api.deps import Matching
from services.matching.api.schemas import PoolMember, PoolOut, Weights

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}", tags=["pool"], responses=ERROR_RESPONSES)


@router.get("/pool", summary="Certified mentors with room for another match (and how many are full), and mentees waiting for a match")
def get_pool(
    subsidiary_id: str,
    _: SubsidiaryReader,
    matching: Matching,
    response: Response,
    role: Annotated[Literal["mentor", "mentee"] | None, Query(description="Only the mentors, or only the mentees")] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="At most this many members (mentors first, then mentees); all of them when absent")] = None,
    offset: Offset = 0,
) -> PoolOut:
    """Paged like the other lists: X-Total-Count is the number of members the filter keeps,
    over every page."""
    found = matching.view.pool(subsidiary_id, role, limit, offset)
    response.headers["X-Total-Count"] = str(found.total)
    return PoolOut(
        subsidiary_id=subsidiary_id,
        programme=found.programme,
        weights=Weights(**found.weights),
        mentors=[_member(m, capacity_left) for m, capacity_left in found.mentors],
        full_mentors=found.full_mentors,
        mentees=[_member(e, None) for e in found.mentees],
    )


@router.get("/matching-weights", summary="The weights of the score's terms")
def get_weights(subsidiary_id: str, _: SubsidiaryReader, matching: Matching) -> Weights:
    return Weights(**matching.view.weights(subsidiary_id))


@router.put("/matching-weights", dependencies=[*JSON_BODY, Acting], summary="Set the weights of the score's terms", responses=BODY_ERROR_RESPONSES)
def set_weights(subsidiary_id: str, body: Weights, _: SubsidiaryWriter, matching: Matching) -> Weights:
    matching.set_weights(subsidiary_id, body.model_dump())
    return body


def _member(record: dict[str, Any], capacity_left: int | None) -> PoolMember:
    profile = record["profile"]
    return PoolMember(
        id=record["id"],
        role=record["role"],
        name=profile["personal_data"]["name"],
        site=profile["site"],
        department=profile["department"],
        languages=profile["languages"],
        themes=profile["themes"],
        availability=profile.get("availability") or [],
        capacity_left=capacity_left,
    )
