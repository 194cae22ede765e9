"""Matching runs: drafts of proposals, with their explanations, until published."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting, Limit, Offset, page
from services.matching.api.deps import Matching
from services.matching.api.schemas import Proposal, Published, RunIn, RunOut, RunSummary, Unmatched
from services.matching.domain import MatchingRun

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/matching-runs", tags=["matching runs"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*JSON_BODY, Acting],
    summary="Run the matching on the current pool: a draft of proposals",
    responses=BODY_ERROR_RESPONSES,
)
async def start_run(subsidiary_id: str, body: RunIn, _: SubsidiaryWriter, matching: Matching) -> RunOut:
    run = await run_in_threadpool(matching.start_run, subsidiary_id, body.format)
    return _out(run)


@router.get("", summary="The subsidiary's matching runs, newest first, with their counts")
def list_runs(
    subsidiary_id: str,
    _: SubsidiaryReader,
    matching: Matching,
    response: Response,
    status: Literal["draft", "published"] | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[RunSummary]:
    runs = matching.view.runs(subsidiary_id)
    found = [r for r in reversed(list(runs)) if status is None or r["status"] == status]  # kept in the order started
    return [RunSummary(**r) for r in page(response, found, limit, offset)]


@router.get("/{run_id}/proposals", summary="A run's proposals, filtered and paged")
def list_proposals(
    subsidiary_id: str,
    run_id: UUID,
    _: SubsidiaryReader,
    matching: Matching,
    response: Response,
    theme: Annotated[str | None, Query(max_length=200, description="The proposal's theme")] = None,
    participant_id: Annotated[UUID | None, Query(description="Proposals with this mentor or mentee")] = None,
    min_score: int | None = None,
    max_score: int | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[Proposal]:
    # No search by name here: a query string is written to access logs, names must not be.
    who = None if participant_id is None else str(participant_id)
    found = [
        p for p in matching.run(subsidiary_id, run_id).proposals
        if (theme is None or p["theme"] == theme)
        and (who is None or who == p["mentor_id"] or who in p["mentee_ids"])
        and (min_score is None or p["score"] >= min_score)
        and (max_score is None or p["score"] <= max_score)
    ]  # fmt: skip
    return [Proposal(**p) for p in page(response, found, limit, offset)]


@router.get("/{run_id}/unmatched", summary="Who a run left unmatched, and why, filtered and paged")
def list_unmatched(
    subsidiary_id: str,
    run_id: UUID,
    _: SubsidiaryReader,
    matching: Matching,
    response: Response,
    role: Literal["mentor", "mentee"] | None = None,
    reason_code: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[Unmatched]:
    found = [
        u for u in matching.run(subsidiary_id, run_id).unmatched
        if (role is None or u["role"] == role) and (reason_code is None or u.get("reason_code") == reason_code)
    ]  # fmt: skip
    return [Unmatched(**u) for u in page(response, found, limit, offset)]


@router.get("/{run_id}", summary="A run's proposals with their explanations, and who was left unmatched, and why")
def get_run(subsidiary_id: str, run_id: UUID, _: SubsidiaryReader, matching: Matching) -> RunOut:
    return _out(matching.run(subsidiary_id, run_id))


@router.post(
    "/{run_id}/publish",
    dependencies=[Acting],
    summary="Publish the run: one MatchConfirmed per pair or group",
    responses={409: {"description": "Already published, or the pool changed in a way that invalidates a proposal"}},
)
def publish_run(subsidiary_id: str, run_id: UUID, _: SubsidiaryWriter, matching: Matching) -> Published:
    match_ids = matching.publish_run(subsidiary_id, run_id)
    return Published(run_id=run_id, match_ids=match_ids)


def _out(run: MatchingRun) -> RunOut:
    return RunOut(
        id=run.id,
        subsidiary_id=run.subsidiary_id,
        format=run.format,
        status=run.status,
        created_at=run.created_on,
        summary=run.summary,
        proposals=run.proposals,
        unmatched=run.unmatched,
        match_ids=run.match_ids,
    )
