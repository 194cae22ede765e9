"""The console's FastAPI application: pages, static files, and how a failure is shown."""

import re
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
from services.console.i18n import N_, Language, negotiate, region
from services.console.jobs import Jobs
from services.console.settings import ConsoleSettings
from services.console.web.deps import LANGUAGE_COOKIE, SESSION_COOKIE, TOKEN_COOKIE, AntiForgery, Cookies, SignInRequired, TooLarge
from services.console.web.limits import BodyLimit
from services.console.web.pages import render, too_large_page
from services.console.web.routers import dashboards, jobs, matching, participants, relationships, sessions, signin, subsidiaries

# No inline script or style, no other origin: what a page runs and loads is ours alone.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

NO_SUCH_ID = N_("No such page: an identifier in the address is not valid.")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


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
    app.state.cookies = jar = Cookies(settings.secure_cookies)
    # The forms' tokens are an HMAC with this key: it lives in this process only (a restart
    # asks the user to reload a form they had open).
    app.state.forgery = forgery = AntiForgery(secrets.token_bytes(32))
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (signin, subsidiaries, participants, matching, relationships, sessions, dashboards, jobs):
        app.include_router(router.router)

    # Inside per_request (added first), so what it raises while the form is read reaches the
    # exception handlers below, which answer with a page.
    app.add_middleware(BodyLimit, form_bytes=settings.max_form_bytes, upload_bytes=settings.max_upload_bytes)

    @app.middleware("http")
    async def per_request(request: Request, call_next: Callable[[Request], Any]) -> Response:
        request.state.correlation_id = str(uuid.uuid4())
        accept_language = request.headers.get("accept-language")
        language = negotiate(jar.get(request, LANGUAGE_COOKIE), accept_language)
        request.state.language = Language(language, region(language, accept_language))
        session = jar.get(request, SESSION_COOKIE)
        new_session = session is None or not _SESSION_ID.match(session)
        if new_session:
            session = secrets.token_urlsafe(32)
        assert session is not None
        request.state.csrf_token = forgery.token(session, jar.get(request, TOKEN_COOKIE))
        response: Response = await call_next(request)
        if new_session:
            jar.set(response, SESSION_COOKIE, session)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if not request.url.path.startswith("/static/"):
            # Pages carry personal data and the user's forms: no cache, shared or private, keeps them.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        target = "/sign-in?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        if exc.reason:
            target += f"&reason={exc.reason}"
        response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
        if exc.reason:
            jar.delete(response, TOKEN_COOKIE)
        return response

    @app.exception_handler(ApiError)
    async def refused(request: Request, exc: ApiError) -> Response:
        if exc.status == status.HTTP_401_UNAUTHORIZED:  # expired or revoked meanwhile
            return await sign_in_first(request, SignInRequired("expired"))
        return render(request, "error.html", exc.status, title=str(exc.status), problems=exc.problems(), service=exc.service)

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return render(request, "error.html", status.HTTP_503_SERVICE_UNAVAILABLE, title="503", problems=[str(exc)], service=exc.service)

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge) -> Response:
        return too_large_page(request, exc)

    @app.exception_handler(UnsafePathPart)
    async def no_such_id(request: Request, exc: UnsafePathPart) -> Response:
        # "." or ".." as an id names nothing: never sent on, where it would reach another endpoint.
        return render(request, "error.html", status.HTTP_404_NOT_FOUND, title="404", problems=[request.state.language.gettext(NO_SUCH_ID)], service=None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # The console's own refusals are in the user's language (Starlette's "Not Found" stays as is).
        problem = request.state.language.gettext(str(exc.detail))
        return render(request, "error.html", exc.status_code, title=str(exc.status_code), problems=[problem], service=None)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # Pages link the SVG; a browser (or a tab opened on a JSON answer) may still ask here.
        return RedirectResponse("/static/favicon.svg", status_code=status.HTTP_308_PERMANENT_REDIRECT)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        services = await app.state.services.health()
        ok = all(part["ok"] for part in services.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "services": services})

    return app
