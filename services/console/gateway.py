"""The three services' public APIs, called with the signed-in user's own token.

The console holds no credentials of its own: whatever a page shows or changes, the service
behind it decided with the user's token, exactly as for a call with curl.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


class UnsafePathPart(ValueError):
    """An id that cannot be one part of a service's path ("", "." or "..")."""


def path_part(value: object) -> str:
    """One id as one path segment: every character that could end it or change the path
    ("/", "?", "#", "%", ...) is percent-encoded, and dot segments are refused (the HTTP
    client would resolve them), so an id can never reach another endpoint."""
    text = str(value)
    if text in ("", ".", ".."):
        raise UnsafePathPart(f"{text!r} is not an id")
    return quote(text, safe="")


def api_path(template: str, *parts: object) -> str:
    """`template` with each `{}` replaced by one encoded part:
    api_path("/subsidiaries/{}/participants/{}", sid, pid)."""
    return template.format(*(path_part(part) for part in parts))


def _check_path(path: str) -> None:
    """The last guard: a path the console sends has no dot segment, query or fragment of its own."""
    segments = path.split("/")
    if not path.startswith("/") or any(s in (".", "..") for s in segments) or "?" in path or "#" in path:
        raise UnsafePathPart(f"not a path the console sends: {path!r}")


class ServiceUnavailable(Exception):
    def __init__(self, service: str, url: str, reason: str) -> None:
        super().__init__(f"{service} is not reachable at {url}: {reason}")
        self.service = service
        self.url = url


@dataclass(frozen=True)
class ServiceProblem:
    """One problem a service listed: its stable code (`type`) and parameters (`ctx`), which
    the console translates (services/console/problems.py), and the service's English
    sentence (`msg`), shown when the code is one the console does not know. `field_name` is
    the body field it is about ("" for none)."""

    msg: str
    type: str | None = None
    ctx: Mapping[str, Any] = field(default_factory=dict)
    field_name: str = ""

    def __str__(self) -> str:
        return self.msg

    @classmethod
    def read(cls, raw: Any) -> "ServiceProblem":
        if not isinstance(raw, dict):
            return cls(str(raw))
        loc = raw.get("loc") or []
        where = str(loc[1]) if len(loc) > 1 and loc[0] == "body" else ""
        given = raw.get("ctx")
        ctx: dict[str, Any] = given if isinstance(given, dict) else {}
        if "row" in raw:  # a CSV import's row error
            ctx = {**ctx, "row": raw["row"], "column": raw.get("column", "")}
        return cls(str(raw.get("msg", raw.get("message", ""))), raw.get("type"), ctx, where)


@dataclass
class ApiError(Exception):
    """A service refused the request: its status and the problems it listed."""

    service: str
    status: int
    detail: Any

    def __str__(self) -> str:
        return "; ".join(self.messages())

    def problems(self) -> list[ServiceProblem]:
        """Every problem (a 422 lists each field's; a 409 its refusal, then its reasons)."""
        detail = self.detail
        if isinstance(detail, list):
            return [ServiceProblem.read(p) for p in detail]
        if isinstance(detail, dict):
            return [ServiceProblem.read(detail), *(ServiceProblem.read(p) for p in detail.get("problems") or [])]
        return [ServiceProblem(str(detail))]

    def messages(self) -> list[str]:
        """Every problem as the service's English sentence (for a job's record and logs)."""
        return [_problem_text(p) for p in self.problems()]

    def field_errors(self) -> dict[str, list[ServiceProblem]]:
        """The problems by the body field they are about ("" for the rest)."""
        found: dict[str, list[ServiceProblem]] = {}
        for problem in self.problems():
            found.setdefault(problem.field_name, []).append(problem)
        return found


def _problem_text(problem: ServiceProblem) -> str:
    if "row" in problem.ctx:
        return f"row {problem.ctx['row']}, {problem.ctx['column']}: {problem.msg}"
    return f"{problem.field_name}: {problem.msg}" if problem.field_name else problem.msg


@dataclass
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int

    @property
    def previous_offset(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


class Services:
    """One connection pool per service, shared by every signed-in user."""

    def __init__(self, urls: Mapping[str, str], timeout: float) -> None:
        self.urls = dict(urls)
        self.clients = {name: httpx.AsyncClient(base_url=url, timeout=timeout) for name, url in self.urls.items()}

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def as_user(self, token: str, correlation_id: str | None = None) -> "Api":
        return Api(self, token, correlation_id)

    async def health(self) -> dict[str, Any]:
        """Each service's own health report, or why it cannot be reached."""
        report: dict[str, Any] = {}
        for name, client in self.clients.items():
            try:
                response = await client.get("/healthz", timeout=3.0)
                status = response.json().get("status")
                report[name] = {"ok": response.status_code == 200 and status == "ok", "status": status}
            except (httpx.HTTPError, ValueError) as exc:
                report[name] = {"ok": False, "status": "unreachable", "reason": str(exc) or type(exc).__name__}
        return report


@dataclass
class Api:
    """The services as one user sees them. Every call of one console request carries that
    request's correlation id, so the events it records can be traced back to it."""

    services: Services
    token: str
    correlation_id: str | None = None
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}
        if self.correlation_id:
            self.headers["X-Correlation-ID"] = self.correlation_id

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        _check_path(path)
        client = self.services.clients[service]
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            response = await client.request(method, path, params=query, json=json, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(service, self.services.urls[service], str(exc) or type(exc).__name__) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(service, response.status_code, detail)
        return response

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return (await self.request(service, "GET", path, params=params)).json()

    async def page(self, service: str, path: str, limit: int, offset: int, **params: Any) -> Page:
        response = await self.request(service, "GET", path, params={**params, "limit": limit, "offset": offset})
        return Page(response.json(), int(response.headers.get("X-Total-Count", "0")), limit, offset)

    async def post(self, service: str, path: str, body: Any = None) -> Any:
        response = await self.request(service, "POST", path, json=body)
        return response.json() if response.content else None

    async def put(self, service: str, path: str, body: Any) -> Any:
        return (await self.request(service, "PUT", path, json=body)).json()

    async def delete(self, service: str, path: str) -> None:
        await self.request(service, "DELETE", path)
