"""Matching: the pool, starting a run (in the background), reviewing its proposals with
their explanations and the unmatched with their reasons, publishing, declining a match,
the score's weights."""

import unicodedata
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, Page, ServiceProblem, api_path
from services.console.jobs import Job
from services.console.web.deps import CurrentUser, Form, Services, Subsidiary, Writer
from services.console.web.pages import redirect, render
from services.console.web.routers.subsidiaries import optional

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/matching", tags=["matching"])

FORMATS = ("pair", "mini-session")
MATCH_STATUSES = ("active", "declined", "ended", "completed")
WEIGHTS = ("theme", "same_site", "cross_department", "availability")
PAGE_SIZE = 50
RUNS_PAGE_SIZE = 10
PROPOSALS_PAGE_SIZE = 25
UNMATCHED_PAGE_SIZE = 50
ROLES = ("mentor", "mentee")


def _api_path(subsidiary_id: str) -> str:
    return api_path("/subsidiaries/{}", subsidiary_id)


@router.get("")
async def matching_page(
    request: Request, subsidiary_id: str, subsidiary: Subsidiary, api: Services, status: str = "active", offset: int = 0, runs_offset: int = 0
) -> Response:
    return await _matching_page(request, api, subsidiary_id, status, offset, weight_errors={}, weights_form=None, runs_offset=runs_offset)


async def _matching_page(
    request: Request, api: Api, subsidiary_id: str, status: str, offset: int, weight_errors: dict[str, list[ServiceProblem]], weights_form: dict[str, str] | None,
    status_code: int = 200, runs_offset: int = 0,
) -> Response:  # fmt: skip
    status = status if status in MATCH_STATUSES else ""
    pool = await optional(api, "matching", _api_path(subsidiary_id) + "/pool")
    matches, names, runs = None, {}, None
    if pool is not None:
        matches = await api.page("matching", _api_path(subsidiary_id) + "/matches", PAGE_SIZE, max(offset, 0), status=status)
        names = await participant_names(api, subsidiary_id) if matches.items else {}
        runs = await api.page("matching", _api_path(subsidiary_id) + "/matching-runs", RUNS_PAGE_SIZE, max(runs_offset, 0))
    weights = weights_form or ({k: str(v) for k, v in pool["weights"].items()} if pool else {})
    return render(
        request, "matching.html", status_code, pool=pool, matches=matches, status=status, statuses=MATCH_STATUSES, formats=FORMATS,
        weights=weights, weight_names=WEIGHTS, weight_errors=weight_errors, names=names, runs=runs, tab="matching",
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
async def run_page(
    request: Request, subsidiary_id: str, run_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services,
    theme: str = "", min_score: str = "", max_score: str = "", offset: int = 0, role: str = "", unmatched_offset: int = 0,
) -> Response:  # fmt: skip
    filters = {"theme": theme, "min_score": min_score, "max_score": max_score, "role": role}
    return await _run_page(request, api, subsidiary_id, run_id, filters, "", offset, unmatched_offset)


@router.post("/runs/{run_id}")
async def search_run(request: Request, subsidiary_id: str, run_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services, form: Form) -> Response:
    """The proposals of the people whose name holds the words typed. A form sent by POST: a name
    must not travel in an address, which logs keep (the matching API has no search by name)."""
    filters = {name: str(form.get(name) or "") for name in ("theme", "min_score", "max_score", "role")}
    return await _run_page(request, api, subsidiary_id, run_id, filters, str(form.get("q") or "").strip()[:100], 0, 0)


async def _run_page(
    request: Request, api: Api, subsidiary_id: str, run_id: str, filters: dict[str, str], q: str, offset: int, unmatched_offset: int,
    problems: list[ServiceProblem] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    path = _api_path(subsidiary_id) + api_path("/matching-runs/{}", run_id)
    run = await api.get("matching", path)
    themes = sorted({p["theme"] for p in run["proposals"] if p["theme"]})
    theme = filters["theme"] if filters["theme"] in themes else ""
    scores = {k: _integer(filters[k]) for k in ("min_score", "max_score")}
    role = filters["role"] if filters["role"] in ROLES else ""
    query = {"theme": theme or None, **scores}
    if q:  # by name, here: every proposal of the other filters, then those naming the words
        everything = await api.page("matching", path + "/proposals", 10_000, 0, **query)
        found = [p for p in everything.items if _names_hold(p, q)]
        proposals = Page(found[:PROPOSALS_PAGE_SIZE], len(found), PROPOSALS_PAGE_SIZE, 0)
    else:
        proposals = await api.page("matching", path + "/proposals", PROPOSALS_PAGE_SIZE, max(offset, 0), **query)
    unmatched = await api.page("matching", path + "/unmatched", UNMATCHED_PAGE_SIZE, max(unmatched_offset, 0), role=role or None)
    for u in unmatched.items:
        u["why"] = ServiceProblem(u["reason"], u.get("reason_code"), u.get("reason_params") or {})
    shown = {"theme": theme, "min_score": "" if scores["min_score"] is None else str(scores["min_score"]),
             "max_score": "" if scores["max_score"] is None else str(scores["max_score"]), "role": role}  # fmt: skip
    return render(
        request, "run.html", status_code, run=run, proposals=proposals, unmatched=unmatched, themes=themes, roles=ROLES, filters=shown, q=q,
        problems=problems or [], tab="matching",
    )  # fmt: skip


def _integer(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _folded(text: str) -> str:
    """Case and accents aside: "lea" finds Léa."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _names_hold(proposal: dict[str, Any], q: str) -> bool:
    names = " ".join(n for n in [proposal["mentor_name"], *proposal["mentee_names"]] if n)
    return all(word in _folded(names) for word in _folded(q).split())


@router.post("/runs/{run_id}/publish")
async def publish(request: Request, subsidiary_id: str, run_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    try:
        published = await api.post("matching", _api_path(subsidiary_id) + api_path("/matching-runs/{}/publish", run_id))
    except ApiError as exc:
        if exc.status != 409:
            raise
        names = await participant_names(api, subsidiary_id)
        problems = [_named(p, names) for p in exc.problems()]
        filters = dict.fromkeys(("theme", "min_score", "max_score", "role"), "")
        return await _run_page(request, api, subsidiary_id, run_id, filters, "", 0, 0, problems, 409)
    return redirect(request, f"/subsidiaries/{subsidiary_id}/matching/runs/{run_id}", "published", len(published["match_ids"]))


def _named(problem: ServiceProblem, names: dict[str, str | None]) -> ServiceProblem:
    """The service names people by id; the page by name (or says their data is erased)."""
    ctx = dict(problem.ctx)
    for role in ("mentor", "mentee"):
        if f"{role}_id" in ctx:
            ctx[role] = names.get(str(ctx[f"{role}_id"])) or "–"
    return replace(problem, ctx=ctx)


@router.post("/matches/{match_id}/decline")
async def decline(request: Request, subsidiary_id: str, match_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    body = {"by": str(form.get("by") or "admin"), "reason": str(form.get("reason") or "")}
    try:
        await api.post("matching", _api_path(subsidiary_id) + api_path("/matches/{}/decline", match_id), body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        match = await api.get("matching", _api_path(subsidiary_id) + api_path("/matches/{}", match_id))
        names = await participant_names(api, subsidiary_id)
        return render(request, "match.html", exc.status, match=match, names=names, errors=exc.field_errors(), tab="matching")
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
