"""The console's FastAPI application: pages, static files, and how a failure is shown."""

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from services.console.gateway import ApiError, Services, ServiceUnavailable, UnsafePathPart
from services.console.i18n import N_, Language, negotiate
from services.console.jobs import Jobs
from services.console.settings import ConsoleSettings
from services.console.web.deps import CSRF_COOKIE, LANGUAGE_COOKIE, TOKEN_COOKIE, SignInRequired
from services.console.web.pages import render
from services.console.web.routers import dashboards, jobs, matching, participants, relationships, sessions, signin, subsidiaries

# No inline script or style, no other origin: what a page runs and loads is ours alone.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

NO_SUCH_ID = N_("No such page: an identifier in the address is not valid.")


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = Services(settings.service_urls(), settings.service_timeout_seconds)
        app.state.jobs = Jobs()
        yield
        await app.state.services.aclose()

    app = FastAPI(title="Tandem console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (signin, subsidiaries, participants, matching, relationships, sessions, dashboards, jobs):
        app.include_router(router.router)

    @app.middleware("http")
    async def per_request(request: Request, call_next: Callable[[Request], Any]) -> Response:
        request.state.correlation_id = str(uuid.uuid4())
        request.state.language = Language(negotiate(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")))
        known = request.cookies.get(CSRF_COOKIE)
        request.state.csrf_token = known or secrets.token_urlsafe(32)
        response: Response = await call_next(request)
        if not known:
            response.set_cookie(CSRF_COOKIE, request.state.csrf_token, httponly=True, samesite="strict", secure=settings.secure_cookies, path="/")
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        target = "/sign-in?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        if exc.reason:
            target += f"&reason={exc.reason}"
        response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
        if exc.reason:
            response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    @app.exception_handler(ApiError)
    async def refused(request: Request, exc: ApiError) -> Response:
        if exc.status == status.HTTP_401_UNAUTHORIZED:  # expired or revoked meanwhile
            return await sign_in_first(request, SignInRequired("expired"))
        return render(request, "error.html", exc.status, title=str(exc.status), problems=exc.messages(), service=exc.service)

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return render(request, "error.html", status.HTTP_503_SERVICE_UNAVAILABLE, title="503", problems=[str(exc)], service=exc.service)

    @app.exception_handler(UnsafePathPart)
    async def no_such_id(request: Request, exc: UnsafePathPart) -> Response:
        # "." or ".." as an id names nothing: never sent on, where it would reach another endpoint.
        return render(request, "error.html", status.HTTP_404_NOT_FOUND, title="404", problems=[request.state.language.gettext(NO_SUCH_ID)], service=None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # The console's own refusals are in the user's language (Starlette's "Not Found" stays as is).
        problem = request.state.language.gettext(str(exc.detail))
        return render(request, "error.html", exc.status_code, title=str(exc.status_code), problems=[problem], service=None)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        services = await app.state.services.health()
        ok = all(part["ok"] for part in services.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "services": services})

    return app
