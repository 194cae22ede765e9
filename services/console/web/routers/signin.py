"""Signing in with a token (`tandem token` prints one), signing out, choosing the language."""

from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.gateway import ApiError
from services.console.i18n import LANGUAGES
from services.console.web.deps import LANGUAGE_COOKIE, TOKEN_COOKIE, Form, User, cookies, signed_in_user
from services.console.web.pages import redirect, render

router = APIRouter(tags=["sign-in"])


def _local(target: str | None) -> str:
    """Only a path of this console: never send the user to another site after signing in."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    return render(request, "sign_in.html", next=_local(next), reason=reason, problems=[])


@router.post("/sign-in")
async def sign_in(request: Request, form: Form) -> Response:
    token = str(form.get("token") or "").strip()
    target = _local(str(form.get("next") or ""))
    problems = []
    try:
        user = User.from_token(token)
    except ValueError:
        problems.append("not-a-token")
    else:
        if user.expired:
            problems.append("expired")
        else:
            # The services are the judges: a token they refuse does not sign anyone in.
            try:
                await request.app.state.services.as_user(token).get("enrolment", "/subsidiaries")
            except ApiError as exc:
                problems.append("refused" if exc.status == 401 else "unexpected")
    if problems:
        return render(request, "sign_in.html", 401, next=target, reason=None, problems=problems)
    response = redirect(request, target)
    # HttpOnly: no script can read it; SameSite=Strict: no other site's page can send it;
    # Secure and __Host- (by default): over HTTPS only, set by this host only.
    max_age = max(int((user.expires_at - datetime.now(UTC)).total_seconds()), 0)
    cookies(request).set(response, TOKEN_COOKIE, token, max_age=max_age)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, form: Form) -> Response:
    response = redirect(request, "/sign-in", "signed-out")
    cookies(request).delete(response, TOKEN_COOKIE)
    return response


@router.post("/language")
async def choose_language(request: Request, form: Form) -> Response:
    language = str(form.get("language") or "")
    response = redirect(request, _local(str(form.get("next") or "/")))
    if language in LANGUAGES:
        cookies(request).set(response, LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    user = signed_in_user(request)
    if user is None:
        return redirect(request, "/sign-in")
    if user.sees_group:
        return redirect(request, "/subsidiaries")
    return redirect(request, f"/subsidiaries/{user.subsidiary}")

