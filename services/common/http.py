"""HTTP plumbing every service shares: the app factory, error shapes, request context."""

import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse

from services.common.auth import CurrentPrincipal, Principal
from services.common.errors import ServiceError

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def create_service_app(
    *,
    title: str,
    description: str,
    version: str,
    token_secret: str,
    max_body_bytes: int,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        max_body_size=max_body_bytes,  # oversized bodies: 413 before the handler runs
    )
    app.state.token_secret = token_secret

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status_code)

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


def _header_id(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value if value and _SAFE_ID.match(value) else None


def command_context(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Who is acting and on behalf of which request: stored on every event a command records."""
    return {
        "actor": {"subject": principal.subject, "role": str(principal.role)},
        "correlation_id": request.state.correlation_id,
        "causation_id": request.state.request_id,
    }


CommandContext = Annotated[dict[str, Any], Depends(command_context)]


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


def health_router(checks: Callable[[], dict[str, Any]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness and what is degraded")
    def healthz() -> JSONResponse:
        report = checks()
        ok = all(part.get("ok", True) for part in report.values() if isinstance(part, dict))
        return JSONResponse({"status": "ok" if ok else "degraded", **report})

    return router


__all__ = ["CommandContext", "Principal", "command_context", "content_type", "create_service_app", "health_router"]
