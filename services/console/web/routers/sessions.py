"""Sessions: the list, one session with its attendance and feedback, moving, cancelling,
marking it held, and its invitation to download."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, ServiceProblem, api_path
from services.console.web.deps import CurrentUser, Form, Services, Subsidiary, Writer
from services.console.web.pages import redirect, render
from services.console.web.routers.relationships import local_moment, place, refusal, with_names

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/sessions", tags=["sessions"])

STATUSES = ("scheduled", "held", "cancelled")
PAGE_SIZE = 50


def _path(subsidiary_id: str) -> str:
    return api_path("/subsidiaries/{}/sessions", subsidiary_id)


@router.get("")
async def list_sessions(request: Request, subsidiary_id: str, subsidiary: Subsidiary, api: Services, status: str = "", offset: int = 0) -> Response:
    status = status if status in STATUSES else ""
    found = await api.page("sessions", _path(subsidiary_id), PAGE_SIZE, max(offset, 0), status=status)
    return render(request, "sessions.html", page=found, status=status, statuses=STATUSES, tab="sessions")


@router.get("/{session_id}.ics")
async def invitation(subsidiary_id: str, session_id: str, user: CurrentUser, api: Services) -> Response:
    found = await api.request("sessions", "GET", _path(subsidiary_id) + api_path("/{}.ics", session_id))
    return Response(
        found.content,
        media_type="text/calendar",
        headers={"Content-Disposition": found.headers.get("content-disposition", f'attachment; filename="tandem-session-{session_id}.ics"')},
    )


@router.get("/{session_id}")
async def session(request: Request, subsidiary_id: str, session_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services) -> Response:
    return await _session_page(request, api, subsidiary_id, session_id, {}, {})


# A refusal the page's status already says (a cancelled or held session): no sentence of its own.
SAID_BY_THE_STATUS = ("session_cancelled", "session_already_held")


async def _session_page(
    request: Request,
    api: Api,
    subsidiary_id: str,
    session_id: str,
    form: dict[str, str],
    errors: dict[str, list[ServiceProblem]],
    status_code: int = 200,
) -> Response:
    found = await api.get("sessions", _path(subsidiary_id) + api_path("/{}", session_id))
    timezone = request.state.subsidiary["timezone"]
    members = found["participants"]
    errors = {key: [with_names(p, members, request, timezone) for p in problems] for key, problems in errors.items()}
    # What the session allows now, as the service says; why not the rest, in the page's words.
    allowed = {name: action["allowed"] for name, action in found["actions"].items()}
    why_not = {
        name: with_names(_reason(action["reason"], name), members, request, timezone)
        for name, action in found["actions"].items()
        if not action["allowed"] and action["reason"]["type"] not in SAID_BY_THE_STATUS
    }
    due = set(found["feedback_due"])
    givers = [p for p in members if p["id"] in due]
    return render(
        request, "session.html", status_code, session=found, form=form, errors=errors, allowed=allowed, why_not=why_not, givers=givers,
        tab="sessions",
    )


def _reason(reason: dict[str, Any], action: str) -> ServiceProblem:
    """A reason why not, worded for its action ("code@action" in problems.MESSAGES)."""
    return ServiceProblem(str(reason.get("msg", "")), reason.get("type"), reason.get("ctx") or {}, action)


async def _command(
    request: Request, api: Api, subsidiary_id: str, session_id: str, action: str, body: Any, notice: str, form: dict[str, str], prefix: str = ""
) -> Response:
    """One of a session's commands; a refusal is shown on the session's page, next to its form."""
    try:
        await api.post("sessions", _path(subsidiary_id) + api_path("/{}/{}", session_id, action), body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        errors = {f"{prefix}{field}" if field else "": problems for field, problems in refusal(exc).items()}
        return await _session_page(request, api, subsidiary_id, session_id, form, errors, exc.status)
    return redirect(request, _path(subsidiary_id) + api_path("/{}", session_id), notice)


@router.post("/{session_id}/attendance")
async def attendance(request: Request, subsidiary_id: str, session_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    body = {"participant_id": str(form.get("participant_id") or ""), "present": form.get("present") == "yes"}
    return await _command(request, api, subsidiary_id, session_id, "attendance", body, "attendance", {}, "attendance_")


@router.post("/{session_id}/feedback")
async def feedback(request: Request, subsidiary_id: str, session_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    fields = {key: str(form.get(key) or "").strip() for key in ("participant_id", "rating", "comment")}
    body: dict[str, Any] = {"participant_id": fields["participant_id"], "rating": fields["rating"]}
    if fields["comment"]:
        body["comment"] = fields["comment"]
    return await _command(request, api, subsidiary_id, session_id, "feedback", body, "feedback", fields, "feedback_")


@router.post("/{session_id}/complete")
async def complete(request: Request, subsidiary_id: str, session_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    return await _command(request, api, subsidiary_id, session_id, "complete", None, "completed", {})


@router.post("/{session_id}/cancel")
async def cancel(request: Request, subsidiary_id: str, session_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    body = {"reason": str(form.get("cancel_reason") or "").strip()}
    return await _command(request, api, subsidiary_id, session_id, "cancel", body, "cancelled", {}, "cancel_")


@router.post("/{session_id}/reschedule")
async def reschedule(request: Request, subsidiary_id: str, session_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    fields = {key: str(form.get(key) or "").strip() for key in ("starts_at", "duration_minutes", "location", "video_link")}
    body = {"starts_at": local_moment(fields["starts_at"], subsidiary["timezone"]), **place(fields)}
    return await _command(request, api, subsidiary_id, session_id, "reschedule", body, "rescheduled", fields)
