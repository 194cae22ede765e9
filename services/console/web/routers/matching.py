"""Matching: the pool, starting a run (in the background), reviewing its proposals with
their explanations and the unmatched with their reasons, publishing, declining a match,
the score's weights."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, api_path
from services.console.jobs import Job
from services.console.web.deps import CurrentUser, Form, Services, Subsidiary, Writer
from services.console.web.pages import redirect, render
from services.console.web.routers.subsidiaries import optional

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/matching", tags=["matching"])

FORMATS = ("pair", "mini-session")
MATCH_STATUSES = ("active", "declined", "ended", "completed")
WEIGHTS = ("theme", "same_site", "cross_department", "availability")
PAGE_SIZE = 50


def _api_path(subsidiary_id: str) -> str:
    return api_path("/subsidiaries/{}", subsidiary_id)


@router.get("")
async def matching_page(request: Request, subsidiary_id: str, subsidiary: Subsidiary, api: Services, status: str = "active", offset: int = 0) -> Response:
    return await _matching_page(request, api, subsidiary_id, status, offset, weight_errors={}, weights_form=None)


async def _matching_page(
    request: Request, api: Api, subsidiary_id: str, status: str, offset: int, weight_errors: dict[str, list[str]], weights_form: dict[str, str] | None, status_code: int = 200
) -> Response:
    status = status if status in MATCH_STATUSES else ""
    pool = await optional(api, "matching", _api_path(subsidiary_id) + "/pool")
    matches, names = None, {}
    if pool is not None:
        matches = await api.page("matching", _api_path(subsidiary_id) + "/matches", PAGE_SIZE, max(offset, 0), status=status)
        names = await participant_names(api, subsidiary_id) if matches.items else {}
    weights = weights_form or ({k: str(v) for k, v in pool["weights"].items()} if pool else {})
    return render(
        request, "matching.html", status_code, pool=pool, matches=matches, status=status, statuses=MATCH_STATUSES, formats=FORMATS,
        weights=weights, weight_names=WEIGHTS, weight_errors=weight_errors, names=names, tab="matching",
    )  # fmt: skip


async def participant_names(api: Api, subsidiary_id: str) -> dict[str, str | None]:
    """Matches name their members by id; enrolment knows their names (None once erased)."""
    everyone = await api.get("enrolment", _api_path(subsidiary_id) + "/participants", limit=10_000)
    return {p["id"]: p["name"] for p in everyone}


@router.post("/runs")
async def start_run(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    format = str(form.get("format") or "pair")
    job = request.app.state.jobs.start(user.owner, "matching-run", subsidiary_id, lambda job: _run(job, api, subsidiary_id, format))
    return redirect(request, f"/jobs/{job.id}")


async def _run(job: Job, api: Api, subsidiary_id: str, format: str) -> None:
    job.at("reading-pool")
    pool = await api.get("matching", _api_path(subsidiary_id) + "/pool")
    job.at("matching", mentors=len(pool["mentors"]), mentees=len(pool["mentees"]))
    run = await api.post("matching", _api_path(subsidiary_id) + "/matching-runs", {"format": format})
    job.counts.update(proposals=len(run["proposals"]), unmatched=len(run["unmatched"]))
    job.result["done_url"] = f"/subsidiaries/{subsidiary_id}/matching/runs/{run['id']}"


@router.get("/runs/{run_id}")
async def run_page(request: Request, subsidiary_id: str, run_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services) -> Response:
    run = await api.get("matching", _api_path(subsidiary_id) + api_path("/matching-runs/{}", run_id))
    return render(request, "run.html", run=run, tab="matching")


@router.post("/runs/{run_id}/publish")
async def publish(request: Request, subsidiary_id: str, run_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    published = await api.post("matching", _api_path(subsidiary_id) + api_path("/matching-runs/{}/publish", run_id))
    return redirect(request, f"/subsidiaries/{subsidiary_id}/matching/runs/{run_id}", "published", len(published["match_ids"]))


@router.post("/matches/{match_id}/decline")
async def decline(request: Request, subsidiary_id: str, match_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    body = {"by": str(form.get("by") or "admin"), "reason": str(form.get("reason") or "")}
    try:
        await api.post("matching", _api_path(subsidiary_id) + api_path("/matches/{}/decline", match_id), body)
    except ApiError as exc:
        if exc.status != 422:
            raise
        match = await api.get("matching", _api_path(subsidiary_id) + api_path("/matches/{}", match_id))
        names = await participant_names(api, subsidiary_id)
        return render(request, "match.html", 422, match=match, names=names, errors=exc.field_errors(), tab="matching")
    return redirect(request, f"/subsidiaries/{subsidiary_id}/matching", "declined")


@router.get("/matches/{match_id}")
async def match_page(request: Request, subsidiary_id: str, match_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services) -> Response:
    match = await api.get("matching", _api_path(subsidiary_id) + api_path("/matches/{}", match_id))
    names = await participant_names(api, subsidiary_id)
    return render(request, "match.html", match=match, names=names, errors={}, tab="matching")


@router.post("/weights")
async def set_weights(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    body: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in WEIGHTS}
    try:
        await api.put("matching", _api_path(subsidiary_id) + "/matching-weights", body)
    except ApiError as exc:
        if exc.status != 422:
            raise
        return await _matching_page(request, api, subsidiary_id, "active", 0, exc.field_errors(), body, 422)
    return redirect(request, f"/subsidiaries/{subsidiary_id}/matching", "weights-saved")
