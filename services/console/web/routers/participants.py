"""Participants: the list with its filters, enrolling one, importing a CSV file (in the
background, every row error shown next to its row), certifying mentors, withdrawing,
erasing personal data."""

import asyncio
import csv
import io
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import Api, ApiError, ServiceProblem, ServiceUnavailable, api_path
from services.console.jobs import Job
from services.console.web.deps import CurrentUser, Form, Services, Subsidiary, Writer
from services.console.web.pages import redirect, render
from services.console.web.routers.enrolment_forms import form_errors, worded

router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/participants", tags=["participants"])

PAGE_SIZE = 50
ROLES = ("mentor", "mentee")
STATUSES = ("enrolled", "certified", "withdrawn")
SLOTS = [f"{day}-{half}" for day in ("mon", "tue", "wed", "thu", "fri") for half in ("am", "pm")]
RANKS = 5  # theme choices offered on the form, in order of preference


def _path(subsidiary_id: str) -> str:
    return api_path("/subsidiaries/{}/participants", subsidiary_id)


@router.get("")
async def list_participants(
    request: Request, subsidiary_id: str, subsidiary: Subsidiary, api: Services, role: str = "", status: str = "", offset: int = 0
) -> Response:
    role, status = (role if role in ROLES else ""), (status if status in STATUSES else "")
    found = await api.page("enrolment", _path(subsidiary_id), PAGE_SIZE, max(offset, 0), role=role, status=status)
    return render(request, "participants.html", page=found, role=role, status=status, roles=ROLES, statuses=STATUSES, tab="participants")


@router.get("/new")
async def new_participant(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer) -> Response:
    return _enrol_form(request, subsidiary, {"role": "mentee", "themes": [], "availability": []}, {})


def _enrol_form(request: Request, subsidiary: dict[str, Any], form: dict[str, Any], errors: dict[str, list[ServiceProblem]], status_code: int = 200) -> Response:
    themes = (subsidiary.get("programme") or {}).get("themes") or []
    return render(
        request, "participant_new.html", status_code, form=form, errors=errors, themes=themes, ranks=min(RANKS, max(len(themes), 1)), slots=SLOTS, tab="participants"
    )


@router.post("/new")
async def enrol(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    text = {key: str(form.get(key) or "").strip() for key in ("role", "name", "email", "birth_year", "department", "site", "languages", "manager_email")}
    themes = [str(t) for t in form.getlist("themes") if str(t).strip()]
    availability = [str(s) for s in form.getlist("availability")]
    body: dict[str, Any] = {key: value for key, value in text.items() if key not in ("languages", "manager_email")}
    body["languages"] = [code.strip() for code in text["languages"].replace(";", ",").split(",") if code.strip()]
    body["themes"] = list(dict.fromkeys(themes))
    body["availability"] = availability
    if text["manager_email"]:
        body["manager_email"] = text["manager_email"]
    try:
        created = await api.post("enrolment", _path(subsidiary_id), body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return _enrol_form(request, subsidiary, {**text, "themes": themes, "availability": availability}, form_errors(exc), exc.status)
    return redirect(request, _path(subsidiary_id) + api_path("/{}", created["id"]), "enrolled")


@router.get("/import")
async def import_page(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer) -> Response:
    return render(request, "import.html", tab="participants", problems=[])


@router.post("/import")
async def start_import(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    upload = form.get("file")
    content = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    if not content.strip():
        return render(request, "import.html", 422, tab="participants", problems=["empty"])
    job = request.app.state.jobs.start(user.owner, "import", subsidiary_id, lambda job: _import(job, api, subsidiary_id, content))
    job.result["filename"] = getattr(upload, "filename", None) or "participants.csv"
    return redirect(request, f"/jobs/{job.id}")


async def _import(job: Job, api: Api, subsidiary_id: str, content: bytes) -> None:
    """The file and its rows live only in this coroutine, while the job runs: what the job
    keeps once it ends is row numbers, columns and messages, without anyone's name or email."""
    job.at("reading")
    rows = _rows(content)
    job.at("enrolling", rows=len(rows))
    refused: ApiError | None = None
    try:
        response = await api.request("enrolment", "POST", _path(subsidiary_id) + "/import", content=content, content_type="text/csv")
    except ApiError as exc:
        if exc.status != 422 or not isinstance(exc.detail, list):
            raise
        refused = exc
    if refused is None:
        job.result["imported"] = response.json()["imported"]
        job.result["done_url"] = None
        return
    # Every row error, by the row it is about (the header is row 1).
    problems = [_row_problem(problem, rows) for problem in refused.detail]
    by_row: dict[int, list[dict[str, Any]]] = {}
    for problem in problems:
        by_row.setdefault(problem["row"], []).append(problem)
    job.result["row_errors"] = [{"row": n, "problems": by_row[n]} for n in sorted(by_row)]
    job.result["error_count"] = len(problems)
    del rows, refused
    raise ApiError("enrolment", 422, problems)


# The cells that say who someone is: never kept once the job ends, even inside a message.
PERSONAL_COLUMNS = ("name", "email", "manager_email")
_EMAIL = re.compile(r"[^\s@'\"<>,;]+@[^\s@'\"<>,;]+")


def _row_problem(problem: Any, rows: dict[int, dict[str, str]]) -> dict[str, Any]:
    """A row error as the job keeps it: its row, its column, its code and parameters (shown
    in the page's language), its message; the row's personal cells (and anything like an
    email address) taken out of the message and the parameters."""
    if not isinstance(problem, dict):
        message = _EMAIL.sub("[email]", str(problem))
        return {"row": 0, "column": "", "message": message, "problem": ServiceProblem(message)}
    try:
        row = int(problem.get("row", 0))
    except (TypeError, ValueError):
        row = 0
    cells = rows.get(row, {})

    def scrubbed(text: str) -> str:
        for column in PERSONAL_COLUMNS:
            value = (cells.get(column) or "").strip()
            parts = [value, *value.split("@")] if column.endswith("email") else [value]
            for part in sorted({p for p in parts if len(p) >= 3}, key=len, reverse=True):
                text = re.sub(re.escape(part), f"[{column}]", text, flags=re.IGNORECASE)
        return _EMAIL.sub("[email]", text)

    message = scrubbed(str(problem.get("message", "")))
    given = problem.get("ctx")
    raw_ctx: dict[str, Any] = given if isinstance(given, dict) else {}
    ctx = {key: scrubbed(value) if isinstance(value, str) else value for key, value in raw_ctx.items()}
    column = str(problem.get("column", ""))
    code = problem.get("type") if isinstance(problem.get("type"), str) else None
    return {"row": row, "column": column, "message": message, "problem": worded(ServiceProblem(message, code, ctx, column))}


def _rows(content: bytes) -> dict[int, dict[str, str]]:
    """The file's rows by number as enrolment counts them (the header is row 1), to count
    them and to keep their personal cells out of the errors."""
    try:
        reader = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
        header = [name.strip().lower() for name in next(reader, [])]
        return {number: dict(zip(header, cells)) for number, cells in enumerate(reader, start=2)}
    except (UnicodeDecodeError, csv.Error):
        return {}


@router.post("/certify")
async def certify_selected(request: Request, subsidiary_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    """Certify every mentor ticked on the list, one command each."""
    chosen = [str(p) for p in form.getlist("participant_id")]
    for participant_id in chosen:
        await api.post("enrolment", _path(subsidiary_id) + api_path("/{}/certify", participant_id))
    back = str(form.get("back") or _path(subsidiary_id))
    return redirect(request, back if back.startswith(_path(subsidiary_id)) else _path(subsidiary_id), "certified" if chosen else None)


async def _followed(api: Api, service: str, path: str, participant_id: str) -> dict[str, Any]:
    """What another service holds about the participant: {"items": [...]}, or {"state":
    "unknown"} while it has not heard of them yet (it answers 404 until enrolment's events
    reach it), or {"state": "unreachable"}: the page says so instead of failing."""
    try:
        return {"items": await api.get(service, path, participant_id=participant_id), "state": "known"}
    except ApiError as exc:
        if exc.status == 404:
            return {"items": [], "state": "unknown"}
        raise
    except ServiceUnavailable:
        return {"items": [], "state": "unreachable"}


async def _participant_page(
    request: Request, api: Api, subsidiary_id: str, participant_id: str, status_code: int = 200, errors: dict[str, Any] | None = None, problems: list[Any] | None = None
) -> Response:
    """The participant, with their matches, relationships and sessions (each linked to its page)."""
    found = await api.get("enrolment", _path(subsidiary_id) + api_path("/{}", participant_id))
    pid = str(found["id"])
    matches, relationships, sessions = await asyncio.gather(
        _followed(api, "matching", api_path("/subsidiaries/{}/matches", subsidiary_id), pid),
        _followed(api, "sessions", api_path("/subsidiaries/{}/relationships", subsidiary_id), pid),
        _followed(api, "sessions", api_path("/subsidiaries/{}/sessions", subsidiary_id), pid),
    )
    return render(
        request,
        "participant.html",
        status_code,
        participant=found,
        errors=errors or {},
        problems=problems or [],
        matches=matches,
        relationships=relationships,
        sessions=sessions,
        tab="participants",
    )


@router.get("/{participant_id}")
async def participant(request: Request, subsidiary_id: str, participant_id: str, subsidiary: Subsidiary, user: CurrentUser, api: Services) -> Response:
    return await _participant_page(request, api, subsidiary_id, participant_id)


@router.post("/{participant_id}/certify")
async def certify(request: Request, subsidiary_id: str, participant_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    try:
        await api.post("enrolment", _path(subsidiary_id) + api_path("/{}/certify", participant_id))
    except ApiError as exc:
        if exc.status != 409:  # a mentee, or withdrawn: said on their page
            raise
        return await _participant_page(request, api, subsidiary_id, participant_id, 409, problems=exc.problems())
    return redirect(request, _path(subsidiary_id) + api_path("/{}", participant_id), "certified")


@router.post("/{participant_id}/withdraw")
async def withdraw(request: Request, subsidiary_id: str, participant_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    try:
        await api.post("enrolment", _path(subsidiary_id) + api_path("/{}/withdraw", participant_id), {"reason": str(form.get("reason") or "")})
    except ApiError as exc:
        if exc.status == 409:  # withdrawn meanwhile
            return await _participant_page(request, api, subsidiary_id, participant_id, 409, problems=exc.problems())
        if exc.status != 422:
            raise
        errors = form_errors(exc)
        return await _participant_page(request, api, subsidiary_id, participant_id, 422, errors={"reason": [p for ps in errors.values() for p in ps]})
    return redirect(request, _path(subsidiary_id) + api_path("/{}", participant_id), "withdrawn")


@router.post("/{participant_id}/erase")
async def erase(request: Request, subsidiary_id: str, participant_id: str, subsidiary: Subsidiary, user: Writer, api: Services, form: Form) -> Response:
    if form.get("confirm") != "yes":
        return await _participant_page(request, api, subsidiary_id, participant_id, 422, errors={"confirm": ["confirm"]})
    await api.delete("enrolment", _path(subsidiary_id) + api_path("/{}/personal-data", participant_id))
    return redirect(request, _path(subsidiary_id) + api_path("/{}", participant_id), "erased")
