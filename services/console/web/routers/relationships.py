"""Relationships (pairs and mini-session groups): the list with its filters, one with its
health, notes and sessions, scheduling a session, closing early."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, ServiceProblem, api_path
from services.console.i18n import N_
from services.console.web.deps import CurrentUser, Form, Services, Subsidiary, Writer
from services.console.web.pages import redirect, render

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/relationships", tags=["relationships"])

STATUSES = ("active", "completed", "closed")
PAGE_SIZE = 50


def _api_path(subsidiary_id: str) -> str:
    return api_path("/subsidiaries/{}", subsidiary_id)


@router.get("")
async def list_relationships(
    request: Request, subsidiary_id: str, subsidiary: Subsidiary, api: Services, status: str = "", stalled: str = "", offset: int = 0
) -> Response:
    status = status if status in STATUSES else ""
    found = await api.page(
        "sessions", _api_path(subsidiary_id) + "/relationships", PAGE_SIZE, max(offset, 0), status=status, stalled="true" if stalled else None
    )
    return render(request, "relationships.html", page=found, status=status, stalled=bool(stalled), statuses=STATUSES, tab="relationships")


@router.get("/{relationship_id}")
async def relationship(request: Request, subsidiary_id: str, relationship_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services) -> Response:
    return await _relationship_page(request, api, subsidiary, relationship_id, {}, {})


async def _relationship_page(
    request: Request,
    api: Api,
    subsidiary: dict[str, Any],
    relationship_id: str,
    form: dict[str, Any],
    errors: dict[str, list[ServiceProblem]],
    status_code: int = 200,
) -> Response:
    base = _api_path(subsidiary["id"])
    found = await api.get("sessions", base + api_path("/relationships/{}", relationship_id))
    sessions = await api.get("sessions", base + "/sessions", relationship_id=relationship_id, limit=1000)
    themes = list(dict.fromkeys([t for t in [found.get("theme")] if t] + ((subsidiary.get("programme") or {}).get("themes") or [])))
    members = [found["mentor"], *found["mentees"]]
    errors = {key: [with_names(p, members, request, subsidiary["timezone"]) for p in problems] for key, problems in errors.items()}
    return render(
        request, "relationship.html", status_code, relationship=found, members=members, sessions=sessions, themes=themes, form=form,
        errors=errors, tab="relationships",
    )


ERASED = N_("(personal data erased)")
SOMEONE = N_("a participant not in this relationship")


def with_names(problem: ServiceProblem, members: list[Mapping[str, Any]], request: Request, timezone: str) -> ServiceProblem:
    """A service's problem as the page shows it: a participant named (the API gives ids
    only), and its moments in the subsidiary's time zone, in the page's language."""
    language = request.state.language
    ctx = dict(problem.ctx)
    if "participant_id" in ctx:
        member = next((m for m in members if m["id"] == ctx["participant_id"]), None)
        ctx["name"] = language.gettext(SOMEONE) if member is None else (member.get("name") or language.gettext(ERASED))
    for key in ("starts_at", "ends_at", "matched_at"):
        if isinstance(ctx.get(key), str):
            try:
                ctx[key] = language.moment(ctx[key], timezone)
            except ValueError:
                pass
    return replace(problem, ctx=ctx)


def refusal(exc: ApiError) -> dict[str, list[ServiceProblem]]:
    """The problems a page shows, each once, by field: a 409's reasons without the line
    that only sums them up ("the session cannot be scheduled": the page says nothing was
    recorded), a 422's by field."""
    if isinstance(exc.detail, dict) and exc.detail.get("problems"):
        return {"": exc.problems()[1:]}
    return exc.field_errors()


def local_moment(text: str, timezone: str) -> str:
    """A time typed in the subsidiary's time zone (a datetime-local field), with its offset;
    as typed when it does not parse, for the service to say what is wrong with it."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat()


def place(form: dict[str, str]) -> dict[str, Any]:
    """Where to meet and for how long: only what was filled in."""
    return {key: form[key] for key in ("duration_minutes", "location", "video_link") if form.get(key)}


@router.post("/{relationship_id}/sessions")
async def schedule(request: Request, subsidiary_id: str, relationship_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    """Book a session to come, or record one that already took place, with who was present
    (a box ticked per member: present; left empty: absent)."""
    fields: dict[str, Any] = {
        key: str(form.get(key) or "").strip() for key in ("format", "theme", "starts_at", "duration_minutes", "location", "video_link", "held")
    }
    target = "group_id" if fields["format"] == "mini-session" else "relationship_id"
    body = {target: relationship_id, "theme": fields["theme"], "starts_at": local_moment(fields["starts_at"], subsidiary["timezone"]), **place(fields)}
    present = {str(pid) for pid in form.getlist("present")}
    fields["present"] = present
    if fields["held"]:
        members = [str(pid) for pid in form.getlist("member")]
        body.update(held=True, attendance={pid: pid in present for pid in members})
    try:
        created = await api.post("sessions", _api_path(subsidiary_id) + "/sessions", body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await _relationship_page(request, api, subsidiary, relationship_id, fields, refusal(exc), exc.status)
    return redirect(request, f"/subsidiaries/{subsidiary_id}/sessions/{created['id']}", "completed" if fields["held"] else "scheduled")


@router.post("/{relationship_id}/close")
async def close(request: Request, subsidiary_id: str, relationship_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    try:
        await api.post("sessions", _api_path(subsidiary_id) + api_path("/relationships/{}/close", relationship_id), {"reason": str(form.get("close_reason") or "")})
    except ApiError as exc:
        if exc.status != 422:
            raise
        errors = {"close_reason": exc.field_errors().get("reason") or exc.problems()}
        return await _relationship_page(request, api, subsidiary, relationship_id, {}, errors, 422)
    return redirect(request, f"/subsidiaries/{subsidiary_id}/relationships/{relationship_id}", "closed")
