"""Matching runs: drafts of proposals, with their explanations, until published."""

from uuid import UUID

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, CommandContext
from services.matching.api.deps import JSON_BODY, Matching
from services.matching.api.schemas import Published, RunIn, RunOut
from services.matching.domain import MatchingRun

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/matching-runs", tags=["matching runs"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=JSON_BODY,
    summary="Run the matching on the current pool: a draft of proposals",
    responses=BODY_ERROR_RESPONSES,
)
async def start_run(subsidiary_id: str, body: RunIn, _: SubsidiaryWriter, context: CommandContext, matching: Matching) -> RunOut:
    run = await run_in_threadpool(matching.start_run, subsidiary_id, body.format, context)
    return _out(run)


@router.get("/{run_id}", summary="A run's proposals with their explanations, and who was left unmatched, and why")
def get_run(subsidiary_id: str, run_id: UUID, _: SubsidiaryReader, matching: Matching) -> RunOut:
    return _out(matching.run(subsidiary_id, run_id))


@router.post(
    "/{run_id}/publish",
    summary="Publish the run: one MatchConfirmed per pair or group",
    responses={409: {"description": "Already published, or the pool changed in a way that invalidates a proposal"}},
)
def publish_run(subsidiary_id: str, run_id: UUID, _: SubsidiaryWriter, context: CommandContext, matching: Matching) -> Published:
    match_ids = matching.publish_run(subsidiary_id, run_id, context)
    return Published(run_id=run_id, match_ids=match_ids)  # type: ignore[arg-type]


def _out(run: MatchingRun) -> RunOut:
    return RunOut(
        id=run.id,
        subsidiary_id=run.subsidiary_id,
        format=run.format,  # type: ignore[arg-type]
        status=run.status,  # type: ignore[arg-type]
        created_at=run.created_on,
        summary=run.summary,
        proposals=run.proposals,  # type: ignore[arg-type]
        unmatched=run.unmatched,  # type: ignore[arg-type]
        match_ids=run.match_ids,  # type: ignore[arg-type]
    )
