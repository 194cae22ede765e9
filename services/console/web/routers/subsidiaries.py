"""Subsidiaries: the list and onboarding (group admin), a subsidiary's overview with its
dashboard, and its programme's settings."""

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, api_path
from services.console.web.deps import CurrentUser, Form, Services, Subsidiary, Writer
from services.console.web.pages import redirect, render
from services.console.web.routers.enrolment_forms import form_errors, identifier_suggestion

router = APIRouter(tags=["subsidiaries"])

TIMEZONES = sorted(available_timezones())
LOCALES = ["fr-FR", "en-GB", "de-DE", "es-ES", "it-IT", "nl-BE", "nl-NL", "pt-PT", "pl-PL", "en-US"]


@router.get("/subsidiaries")
async def list_subsidiaries(request: Request, user: CurrentUser, api: Services) -> Response:
    found = await api.get("enrolment", "/subsidiaries")
    return render(request, "subsidiaries.html", subsidiaries=found, form={}, errors={}, timezones=TIMEZONES, locales=LOCALES)


@router.post("/subsidiaries")
async def onboard(request: Request, user: Writer, api: Services, form: Form) -> Response:
    body = {key: str(form.get(key) or "").strip() for key in ("id", "name", "timezone", "locale")}
    try:
        created = await api.post("enrolment", "/subsidiaries", body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        found = await api.get("enrolment", "/subsidiaries")
        errors = form_errors(exc, {"invalid_subsidiary_id": identifier_suggestion(body["name"], body["id"])})
        return render(request, "subsidiaries.html", exc.status, subsidiaries=found, form=body, errors=errors, timezones=TIMEZONES, locales=LOCALES)
    return redirect(request, f"/subsidiaries/{created['id']}/programme", "onboarded")


async def optional(api: Api, service: str, path: str, **params: Any) -> Any:
    """What another service knows, or None while the subsidiary's events are still on their
    way to it (it answers 404 until then)."""
    try:
        return await api.get(service, path, **params)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


@router.get("/subsidiaries/{subsidiary_id}")
async def overview(request: Request, subsidiary_id: str, subsidiary: Subsidiary, api: Services) -> Response:
    dashboard = await optional(api, "sessions", api_path("/subsidiaries/{}/dashboard", subsidiary_id))
    return render(request, "overview.html", dashboard=dashboard, tab="overview")


@router.get("/subsidiaries/{subsidiary_id}/programme")
async def programme_page(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: CurrentUser) -> Response:
    programme = subsidiary.get("programme") or {}
    return render(request, "programme.html", form=_programme_form(programme), errors={}, tab="programme", configured=bool(subsidiary.get("programme")))


@router.post("/subsidiaries/{subsidiary_id}/programme")
async def configure_programme(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    fields = {key: str(form.get(key) or "").strip() for key in ("themes", "mentor_capacity", "mini_session_max", "target_sessions", "session_minutes", "min_age_gap")}
    # Numbers go as typed: the service checks them and names every one that is wrong. A field
    # left empty takes the programme's default, but an empty age gap turns the rule off.
    body: dict[str, Any] = {key: value for key, value in fields.items() if value and key != "themes"}
    themes = [line.strip() for line in fields["themes"].splitlines() if line.strip()]
    if themes:
        body["themes"] = themes
    body["min_age_gap"] = fields["min_age_gap"] or None
    try:
        await api.put("enrolment", api_path("/subsidiaries/{}/programme", subsidiary_id), body)
    except ApiError as exc:
        if exc.status != 422:
            raise
        return render(request, "programme.html", 422, form=fields, errors=form_errors(exc), tab="programme", configured=bool(subsidiary.get("programme")))
    return redirect(request, f"/subsidiaries/{subsidiary_id}/programme", "programme-saved")


def _programme_form(programme: dict[str, Any]) -> dict[str, str]:
    form = {key: "" if value is None else str(value) for key, value in programme.items() if key != "themes"}
    form["themes"] = "\n".join(programme.get("themes", []))
    return form
