"""Relationships (pairs and mini-session groups): the list with its filters, one with its
health, notes and sessions, scheduling a session, closing early."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, api_path
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
    request: Request, api: Api, subsidiary: dict[str, Any], relationship_id: str, form: dict[str, str], errors: dict[str, list[str]], status_code: int = 200
) -> Response:
    base = _api_path(subsidiary["id"])
    found = await api.get("sessions", base + api_path("/relationships/{}", relationship_id))
    sessions = await api.get("sessions", base + "/sessions", relationship_id=relationship_id, limit=1000)
    themes = list(dict.fromkeys([t for t in [found.get("theme")] if t] + ((subsidiary.get("programme") or {}).get("themes") or [])))
    return render(
        request, "relationship.html", status_code, relationship=found, sessions=sessions, themes=themes, form=form, errors=errors, tab="relationships"
    )


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
    fields = {key: str(form.get(key) or "").strip() for key in ("format", "theme", "starts_at", "duration_minutes", "location", "video_link")}
    target = "group_id" if fields["format"] == "mini-session" else "relationship_id"
    body = {target: relationship_id, "theme": fields["theme"], "starts_at": local_moment(fields["starts_at"], subsidiary["timezone"]), **place(fields)}
    try:
        created = await api.post("sessions", _api_path(subsidiary_id) + "/sessions", body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await _relationship_page(request, api, subsidiary, relationship_id, fields, exc.field_errors(), exc.status)
    return redirect(request, f"/subsidiaries/{subsidiary_id}/sessions/{created['id']}", "scheduled")


@router.post("/{relationship_id}/close")
async def close(request: Request, subsidiary_id: str, relationship_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    try:
        await api.post("sessions", _api_path(subsidiary_id) + api_path("/relationships/{}/close", relationship_id), {"reason": str(form.get("close_reason") or "")})
    except ApiError as exc:
        if exc.status != 422:
            raise
        errors = {"close_reason": exc.field_errors().get("reason", exc.messages())}
        return await _relationship_page(request, api, subsidiary, relationship_id, {}, errors, 422)
    return redirect(request, f"/subsidiaries/{subsidiary_id}/relationships/{relationship_id}", "closed")
