"""Mentors and mentees: enrolment (one by one or by CSV), certification, profile, withdrawal,
erasure of their personal data."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from contracts.types import ParticipantStatus, Role
from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.errors import Conflict, Invalid, NotFound, Problem, Reason
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting, Limit, Offset, page
from services.enrolment.api.csv_import import LIST_SEPARATOR, OPTIONAL, REQUIRED, Row, parse_participants
from services.enrolment.api.deps import CSV_BODY, Enrolment
from services.enrolment.api.schemas import (
    Enrolled,
    Imported,
    ParticipantIn,
    ParticipantOut,
    ParticipantPatch,
    RowError,
    WithdrawalIn,
)

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/participants", tags=["participants"], responses=ERROR_RESPONSES)

_CSV_DOC = (
    f"A CSV file with a header row. Columns: {', '.join(REQUIRED)} (required), {', '.join(OPTIONAL)} (optional). "
    f"List cells (languages, themes in ranked order, availability) separate items with '{LIST_SEPARATOR}'."
)


async def programme_problems_of_body(
    subsidiary_id: str, request: Request, _: SubsidiaryWriter, enrolment: Enrolment
) -> list[Problem]:
    """The programme's rules (themes, email already enrolled), checked on the body as sent,
    even when other fields are invalid: a 422 then lists them next to the body's own errors."""
    try:
        sent = await request.json()
    except ValueError:
        return []
    if not isinstance(sent, dict):
        return []
    themes, email = sent.get("themes"), sent.get("email")
    candidate = {
        "themes": themes if isinstance(themes, list) and all(isinstance(t, str) for t in themes) else None,
        "email": email if isinstance(email, str) else None,
    }
    found = await run_in_threadpool(enrolment.programme_problems, subsidiary_id, [candidate])
    request.state.problems = [Problem(["body", *p.loc[1:]], p.msg, p.type, p.ctx) for p in found]
    return request.state.problems


def _refusal(problems: list[Problem]) -> Exception:
    # An email already enrolled, and nothing else wrong, is a conflict with the programme's state.
    if all(p.type == "already_enrolled" for p in problems):
        return Conflict(Reason(problems[0].type, problems[0].msg, problems[0].ctx))
    return Invalid(problems)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*JSON_BODY, Acting],
    summary="Enrol a mentor or a mentee",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "`already_enrolled`: this email is already enrolled in the subsidiary"}},
)
def enrol(
    subsidiary_id: str,
    body: ParticipantIn,
    _: SubsidiaryWriter,
    problems: Annotated[list[Problem], Depends(programme_problems_of_body)],
    enrolment: Enrolment,
) -> Enrolled:
    if problems:
        raise _refusal(problems)
    try:
        [participant_id] = enrolment.enrol(subsidiary_id, [body.profile()])
    except Invalid as exc:  # enrolled meanwhile by another request
        raise _refusal([Problem(["body", *p.loc[1:]], p.msg, p.type, p.ctx) for p in exc.problems]) from None
    return Enrolled(id=participant_id)


@router.post(
    "/import",
    dependencies=[*CSV_BODY, Acting],
    summary="Enrol many participants from a CSV file, all or nothing",
    description=_CSV_DOC,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    responses={**BODY_ERROR_RESPONSES, 422: {"description": "Every row error; nothing was recorded", "model": dict[str, list[RowError]]}},
)
async def import_participants(
    subsidiary_id: str, request: Request, _: SubsidiaryWriter, enrolment: Enrolment
) -> Imported:
    body = await request.body()
    rows, errors = await run_in_threadpool(parse_participants, body)
    if errors:
        # The programme's rules (themes, emails) are checked on every row too, valid or not,
        # so that the answer lists every error of the file at once.
        candidates = [{"themes": row.themes, "email": row.email} for row in rows]
        problems = await run_in_threadpool(enrolment.programme_problems, subsidiary_id, candidates)
        return _rows_refused(errors + _row_errors(rows, problems))
    profiles = [row.participant.profile() for row in rows if row.participant is not None]  # every row: none has an error
    try:
        ids = await run_in_threadpool(enrolment.enrol, subsidiary_id, profiles)  # checks the programme's rules, once
    except Invalid as exc:
        return _rows_refused(_row_errors(rows, exc.problems))
    return Imported(imported=len(ids))


def _row_errors(rows: list[Row], problems: list[Problem]) -> list[RowError]:
    """The programme's problems (located [row index, field]) as the file's row errors."""
    return [RowError(row=rows[int(p.loc[0])].number, column=str(p.loc[1]), message=p.msg, type=p.type, ctx=p.ctx) for p in problems]


def _rows_refused(errors: list[RowError]) -> Imported:
    errors.sort(key=lambda e: e.row)
    return JSONResponse(  # type: ignore[return-value]  # the 422, past the response model (which the annotation names)
        {"detail": [e.model_dump() for e in errors]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


@router.get("", summary="Participants, filtered by role and status")
def list_participants(
    subsidiary_id: str,
    _: SubsidiaryReader,
    enrolment: Enrolment,
    response: Response,
    role: Role | None = None,
    status_: Annotated[ParticipantStatus | None, Query(alias="status")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[ParticipantOut]:
    _require_subsidiary(enrolment, subsidiary_id)
    found = enrolment.view.list_participants(subsidiary_id, role, status_)
    found.sort(key=lambda p: (p["enrolled_at"], str(p["id"])))
    return [ParticipantOut(**p) for p in page(response, found, limit, offset)]


@router.get("/{participant_id}", summary="One participant")
def get_participant(subsidiary_id: str, participant_id: UUID, _: SubsidiaryReader, enrolment: Enrolment) -> ParticipantOut:
    return _participant(enrolment, subsidiary_id, participant_id)


@router.post(
    "/{participant_id}/certify",
    dependencies=[Acting],
    summary="Certify a mentor who finished the pedagogy training",
    responses={409: {"description": "`not_a_mentor`: a mentee; `participant_withdrawn`: a withdrawn participant"}},
)
def certify(
    subsidiary_id: str, participant_id: UUID, _: SubsidiaryWriter, enrolment: Enrolment
) -> ParticipantOut:
    enrolment.certify(subsidiary_id, participant_id)
    return _participant(enrolment, subsidiary_id, participant_id)


@router.patch(
    "/{participant_id}",
    dependencies=[*JSON_BODY, Acting],
    summary="Update a participant's profile",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "`participant_withdrawn`, or `already_enrolled`: the new email is already enrolled"}},
)
def update_profile(
    subsidiary_id: str,
    participant_id: UUID,
    body: ParticipantPatch,
    _: SubsidiaryWriter,
    enrolment: Enrolment,
) -> ParticipantOut:
    try:
        enrolment.update_profile(subsidiary_id, participant_id, body.changes())
    except Invalid as exc:
        raise Invalid([Problem(["body", *p.loc], p.msg, p.type, p.ctx) for p in exc.problems]) from None
    return _participant(enrolment, subsidiary_id, participant_id)


@router.post(
    "/{participant_id}/withdraw",
    dependencies=[*JSON_BODY, Acting],
    summary="Withdraw a participant from the programme",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "`already_withdrawn`"}},
)
def withdraw(
    subsidiary_id: str,
    participant_id: UUID,
    body: WithdrawalIn,
    _: SubsidiaryWriter,
    enrolment: Enrolment,
) -> ParticipantOut:
    enrolment.withdraw(subsidiary_id, participant_id, body.reason)
    return _participant(enrolment, subsidiary_id, participant_id)


@router.delete(
    "/{participant_id}/personal-data",
    dependencies=[Acting],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase a participant's personal data (right to erasure)",
    description="Withdraws the participant if they still take part, then destroys their key: their name, email, birth "
    "year, manager email and free-text comments read as erased (null) from then on, in every service's stores, read "
    "models and exports and on Kafka. Counts, matches, relationships and sessions stay. Repeating it changes nothing.",
)
def erase_personal_data(
    subsidiary_id: str, participant_id: UUID, _: SubsidiaryWriter, enrolment: Enrolment
) -> Response:
    enrolment.erase_personal_data(subsidiary_id, participant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _require_subsidiary(enrolment: Enrolment, slug: str) -> None:
    if enrolment.view.subsidiary(slug) is None:
        raise NotFound(f"subsidiary {slug!r} not found")


def _participant(enrolment: Enrolment, slug: str, participant_id: UUID) -> ParticipantOut:
    found = enrolment.view.participant(slug, participant_id)
    if found is None:
        raise NotFound(f"participant {participant_id} not found")
    return ParticipantOut(**found)
