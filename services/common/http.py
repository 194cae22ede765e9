"""HTTP plumbing every service shares: the app factory, error shapes, request context. (A
service's own app is built from its declaration: `create_service_app` in runtime.py.)"""

import logging
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import (
    DEFAULT_MAX_LIFETIME,
    CurrentPrincipal,
    InvalidToken,
    Principal,
    authenticate,
    require_group_admin,
    subsidiary_reader,
    subsidiary_writer,
    token_max_lifetime,
    verify_token,
)
from services.common.context import acting
from services.common.errors import Problem, ServiceError
from services.common.settings import ConfigurationError, check_secret


class ErrorOut(BaseModel):
    detail: Any


# The answers every protected route may give; routers add their own (409, ...).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No token, or an invalid or expired one"},
    403: {"model": ErrorOut, "description": "The role may not do this (e.g. an auditor writing)"},
    404: {"model": ErrorOut, "description": "Not found, or belongs to a subsidiary this token cannot see"},
}
BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    413: {"model": ErrorOut, "description": "The body is larger than TANDEM_MAX_BODY_BYTES"},
    415: {"model": ErrorOut, "description": "The body is not of the expected content type"},
}

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def create_http_app(
    *,
    title: str,
    description: str,
    version: str,
    token_secret: str,
    max_body_bytes: int,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    token_max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
) -> FastAPI:
    check_secret(token_secret, "TANDEM_SECRET")  # whoever builds the app, a weak key is refused
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
    )
    app.state.token_secret = token_secret
    app.state.token_max_lifetime = token_max_lifetime
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI validates the body before it runs any dependency: make sure an anonymous
        # caller still learns nothing but 401 from a protected route, and a caller who may
        # not do this nothing but its 403 or 404, whatever the body.
        refusal = _access_refusal(request)
        if refusal is not None:
            return refusal
        # Problems a route found beyond the body's shape (e.g. an unknown theme) are listed
        # with the body's own errors, so one answer names every problem.
        more: list[Problem] = getattr(request.state, "problems", [])
        # Each problem says where and what, never the value sent: an answer, like a log line,
        # must not carry a name or an email back in the clear.
        errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
        detail = [*jsonable_encoder(errors), *(p.as_dict() for p in more)]
        return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.middleware("http")
    async def request_ids(request: Request, call_next: Callable[[Request], Any]) -> Any:
        # Every request gets an id; it becomes the causation id of the events it records.
        request_id = _header_id(request, "x-request-id") or str(uuid.uuid4())
        request.state.request_id = request_id
        request.state.correlation_id = _header_id(request, "x-correlation-id") or request_id
        response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Correlation-ID"] = request.state.correlation_id
        return response

    for router in routers:
        app.include_router(router)
    return app


class BodySizeLimit:
    """Refuses request bodies over `max_bytes` with a JSON 413, whether announced by
    Content-Length or streamed, before a handler reads them whole. A subclass may choose the
    limit by path and answer otherwise (the console: a page)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def limit(self, scope: Scope) -> int:
        return self.max_bytes

    def too_large(self, scope: Scope, limit: int) -> Exception:
        """Raised from the first read past the limit. FastAPI lets an HTTPException out of
        body reading; its handler answers JSON."""
        return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"the body is larger than {limit} bytes")

    async def refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """The answer to a body announced too large: nothing of it is read."""
        response = JSONResponse({"detail": f"the body is larger than {limit} bytes"}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self.refuse(scope, receive, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise self.too_large(scope, limit)
            return message

        await self.app(scope, limited_receive, send)


def _dependencies(request: Request) -> set[Callable[..., Any]]:
    """Every dependency the matched route runs, however deeply nested."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return set()
    found, pending = set(), list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call is not None:
            found.add(dependency.call)
        pending.extend(dependency.dependencies)
    return found


def _access_refusal(request: Request) -> JSONResponse | None:
    """The answer the route's access rules give this caller, if they refuse it."""
    needed = _dependencies(request)
    if authenticate not in needed:
        return None
    principal = _principal(request)
    if principal is None:
        return JSONResponse({"detail": "missing or invalid bearer token"}, 401, headers={"WWW-Authenticate": "Bearer"})
    try:
        if subsidiary_reader in needed or subsidiary_writer in needed:
            subsidiary_reader(request.path_params.get("subsidiary_id", ""), principal)
        if subsidiary_writer in needed:
            subsidiary_writer(principal)
        if require_group_admin in needed:
            require_group_admin(principal)
    except HTTPException as refused:
        return JSONResponse({"detail": refused.detail}, refused.status_code)
    return None


def _principal(request: Request) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return verify_token(request.app.state.token_secret, token.strip(), token_max_lifetime(request))
    except InvalidToken:
        return None


def serve(service: str, app: FastAPI | Callable[[], FastAPI], host: str, port: int) -> None:
    """Run one service's app (or what builds it) in this process, until SIGTERM or Ctrl-C. A
    setting that keeps it from starting ends the process with its message, and exit code 2."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    if not isinstance(app, FastAPI):
        try:
            app = app()
        except ConfigurationError as exc:
            print(f"{service} cannot start: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
    uvicorn.run(app, host=host, port=port, log_level="info")


def _header_id(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value if value and _SAFE_ID.match(value) else None


async def acting_for_request(request: Request, principal: CurrentPrincipal) -> AsyncIterator[None]:
    """Who is acting and on behalf of which request, for every event the request's command
    records; and the subsidiary, when the path names it. Async, so that the context is set in
    the request's task and the (sync) endpoint, run in a thread with a copy of it, reads it."""
    subsidiary_id = request.path_params.get("subsidiary_id")
    with acting(
        actor={"subject": principal.subject, "role": str(principal.role)},
        correlation_id=request.state.correlation_id,
        causation_id=request.state.request_id,
        **({"subsidiary_id": str(subsidiary_id)} if subsidiary_id is not None else {}),
    ):
        yield


# A command endpoint depends on this (`dependencies=[Acting]` or a parameter `_: Acting`).
Acting = Depends(acting_for_request)


def authenticated_body(*accepted: str) -> list[Any]:
    """The dependencies of a route taking a body of an accepted type. Authentication first,
    so an anonymous caller learns nothing but 401."""
    return [Depends(authenticate), Depends(content_type(*accepted))]


def content_type(*accepted: str) -> Callable[[Request], None]:
    """A dependency answering 415 when a request with a body is not of an accepted type."""

    def check(request: Request) -> None:
        if request.method not in ("POST", "PUT", "PATCH"):
            return
        given = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.headers.get("content-length") in (None, "0") and not given:
            return  # no body at all; the endpoint decides whether it needs one
        if given not in accepted:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"content type must be {' or '.join(accepted)}, not {given or 'missing'}",
            )

    return check


JSON_BODY = authenticated_body("application/json")

# A list's page: `limit` and `offset` query parameters; the total is in X-Total-Count.
Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many items")]
Offset = Annotated[int, Query(ge=0, description="Skip this many items first")]


def page(response: Response, rows: list[Any], limit: int, offset: int) -> list[Any]:
    """The page asked for, with the number of items on every page in X-Total-Count."""
    response.headers["X-Total-Count"] = str(len(rows))
    return rows[offset : offset + limit]


def health_router(checks: Callable[[], dict[str, Any]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness and what is degraded")
    def healthz() -> JSONResponse:
        report = checks()
        ok = all(part.get("ok", True) for part in report.values() if isinstance(part, dict))
        return JSONResponse({"status": "ok" if ok else "degraded", **report})

    return router


__all__ = [
    "BODY_ERROR_RESPONSES",
    "ERROR_RESPONSES",
    "JSON_BODY",
    "Limit",
    "Offset",
    "Acting",
    "Principal",
    "page",
    "authenticated_body",
    "content_type",
    "create_http_app",
    "health_router",
]
