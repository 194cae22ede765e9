"""Sessions of a relationship or a mini-session group: schedule, reschedule, cancel, record
attendance and feedback, complete; and the invitation as an iCalendar file."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from services.common.auth import SubsidiaryReader, SubsidiaryWriter
from services.common.errors import Invalid, NotFound, Problem
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting, Limit, Offset, page
from services.sessions.api.deps import KnownSubsidiary, Now, Sessions
from services.sessions.api.schemas import AttendanceIn, CancelIn, FeedbackIn, RescheduleIn, SessionIn, SessionOut
from services.sessions.application import start_problem
from services.sessions.calendar import invitation
from services.sessions.domain import start_problems

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/sessions", tags=["sessions"], responses=ERROR_RESPONSES)

_WHEN = TypeAdapter(AwareDatetime)
CONFLICTS: dict[int | str, dict[str, Any]] = {409: {"description": "The session's state, or the members' agendas, do not allow it; every reason is listed"}}


async def start_in_the_past(request: Request, now: Now, _: SubsidiaryWriter) -> list[Problem]:
    """A start in the past (or, for a session recorded as held, one still to come), found on
    the body as sent, so that a 422 lists it with the body's other problems."""
    try:
        sent = await request.json()
        starts_at = _WHEN.validate_python(sent.get("starts_at")) if isinstance(sent, dict) else None
    except (ValueError, ValidationError):
        return []
    held = isinstance(sent, dict) and sent.get("held") is True and request.url.path.endswith("/sessions")
    problems = [start_problem(reason) for reason in start_problems(starts_at, now, held=held)] if starts_at is not None else []
    request.state.problems = problems
    return problems


TIMED_BODY = [*JSON_BODY, Depends(start_in_the_past)]
# The same, for the endpoint to refuse a body whose only problem is its start (422).
StartProblems = Annotated[list[Problem], Depends(start_in_the_past)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*TIMED_BODY, Acting],
    summary="Schedule a session for a pair (relationship_id) or a mini-session group (group_id); "
    "or record one that already took place (held, with attendance)",
    responses={
        **BODY_ERROR_RESPONSES,
        409: {"description": "A member already booked at that time (participant_already_booked), a group with more mentees "
              "than the programme's mini_session_max (group_too_large; the mentor is not counted), a theme outside the "
              "programme (unknown_theme), a closed relationship (relationship_closed); for a session held: a start before "
              "the match (before_the_match), a member's attendance missing (attendance_missing), a no-show "
              "(session_no_show); every reason is listed"},
    },
)
def schedule(
    subsidiary_id: str, body: SessionIn, _: SubsidiaryWriter, problems: StartProblems, sessions: Sessions, now: Now
) -> SessionOut:
    if problems:
        raise Invalid(problems)
    relationship, format = body.target
    session_id = sessions.schedule_session(
        subsidiary_id,
        relationship,
        format,
        body.theme,
        body.starts_at,
        body.duration_minutes,
        body.location,
        str(body.video_link) if body.video_link else None,
        now,
        attendance=body.attendance_by_id,
    )
    return _session(sessions, subsidiary_id, session_id, now)


@router.get("", dependencies=[KnownSubsidiary], summary="The subsidiary's sessions, soonest first, with filters")
def list_sessions(
    subsidiary_id: str,
    sessions: Sessions,
    response: Response,
    now: Now,
    status: Literal["scheduled", "held", "cancelled"] | None = None,
    relationship_id: UUID | None = None,
    participant_id: UUID | None = None,
    theme: str | None = None,
    starts_after: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[SessionOut]:
    rows = sessions.view.sessions(
        subsidiary_id,
        now,
        status=status,
        relationship_id=str(relationship_id) if relationship_id else None,
        participant_id=str(participant_id) if participant_id else None,
        theme=theme,
        starts_after=starts_after,
        starts_before=starts_before,
    )
    return [SessionOut(**row) for row in page(response, rows, limit, offset)]


@router.get(
    "/{session_id}.ics",
    summary="The session's invitation (iCalendar), every participant an attendee",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "An iCalendar file with one event"}},
)
def invitation_file(subsidiary_id: str, session_id: UUID, _: SubsidiaryReader, sessions: Sessions, now: Now) -> Response:
    found = sessions.view.calendar_of(subsidiary_id, str(session_id), now)
    if found is None:
        raise NotFound(f"session {session_id} not found")
    session, subsidiary = found
    return Response(
        invitation(session, subsidiary, now),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tandem-session-{session_id}.ics"'},
    )


@router.get("/{session_id}", summary="One session, with its participants, attendance and feedback")
def get_session(subsidiary_id: str, session_id: UUID, _: SubsidiaryReader, sessions: Sessions, now: Now) -> SessionOut:
    return _session(sessions, subsidiary_id, str(session_id), now)


@router.post(
    "/{session_id}/reschedule",
    dependencies=[*TIMED_BODY, Acting],
    summary="Move a scheduled session (and its place, if given)",
    responses={**BODY_ERROR_RESPONSES, **CONFLICTS},
)
def reschedule(
    subsidiary_id: str, session_id: UUID, body: RescheduleIn, _: SubsidiaryWriter, problems: StartProblems, sessions: Sessions, now: Now
) -> SessionOut:
    if problems:
        raise Invalid(problems)
    sessions.reschedule_session(
        subsidiary_id,
        str(session_id),
        body.starts_at,
        body.duration_minutes,
        body.location,
        str(body.video_link) if body.video_link else None,
        body.keeps_place,
        now,
    )
    return _session(sessions, subsidiary_id, str(session_id), now)


@router.post("/{session_id}/cancel", dependencies=[*JSON_BODY, Acting], summary="Cancel a scheduled session", responses={**BODY_ERROR_RESPONSES, **CONFLICTS})
def cancel(
    subsidiary_id: str, session_id: UUID, body: CancelIn, _: SubsidiaryWriter, sessions: Sessions, now: Now
) -> SessionOut:
    sessions.cancel_session(subsidiary_id, str(session_id), body.reason)
    return _session(sessions, subsidiary_id, str(session_id), now)


@router.post(
    "/{session_id}/attendance",
    dependencies=[*JSON_BODY, Acting],
    summary="Record whether a member was present (once the session has started; the last record counts)",
    responses={**BODY_ERROR_RESPONSES, **CONFLICTS},
)
def attendance(
    subsidiary_id: str, session_id: UUID, body: AttendanceIn, _: SubsidiaryWriter, sessions: Sessions, now: Now
) -> SessionOut:
    sessions.record_attendance(subsidiary_id, str(session_id), str(body.participant_id), body.present, now)
    return _session(sessions, subsidiary_id, str(session_id), now)


@router.post(
    "/{session_id}/feedback",
    dependencies=[*JSON_BODY, Acting],
    summary="A member's feedback on the session: mentors and mentees both give it, once each",
    responses={**BODY_ERROR_RESPONSES, **CONFLICTS},
)
def feedback(
    subsidiary_id: str, session_id: UUID, body: FeedbackIn, _: SubsidiaryWriter, sessions: Sessions, now: Now
) -> SessionOut:
    sessions.give_feedback(subsidiary_id, str(session_id), str(body.participant_id), body.rating, body.comment, now)
    return _session(sessions, subsidiary_id, str(session_id), now)


@router.post(
    "/{session_id}/complete",
    dependencies=[Acting],
    summary="The session was held; holding the target number completes the relationship",
    responses=CONFLICTS,
)
def complete(subsidiary_id: str, session_id: UUID, _: SubsidiaryWriter, sessions: Sessions, now: Now) -> SessionOut:
    sessions.complete_session(subsidiary_id, str(session_id), now)
    return _session(sessions, subsidiary_id, str(session_id), now)


def _session(sessions: Sessions, subsidiary_id: str, session_id: str, now: Now) -> SessionOut:
    found = sessions.view.session(subsidiary_id, session_id, now)
    if found is None:
        raise NotFound(f"session {session_id} not found")
    return SessionOut(**found)


