"""Rendering pages: the Jinja environment, the context every page gets, and the notice a
page shows once after an action redirected to it ("12 participants enrolled")."""

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context

from services.console.i18n import N_, NOUN_OF
from services.console.problems import explain
from services.console.web.deps import CSRF_FIELD, NOTICE_COOKIE, TooLarge, cookies


# What an action can say after it redirected: key -> message (num: a count).
NOTICES = {
    "onboarded": N_("The subsidiary is onboarded. Set its programme next."),
    "programme-saved": N_("The programme's settings are saved."),
    "enrolled": N_("The participant is enrolled."),
    "imported": N_("%(num)s participants enrolled from the file."),
    "certified": N_("The mentor is certified."),
    "withdrawn": N_("The participant is withdrawn from the programme."),
    "erased": N_("The participant's personal data is erased, in every service."),
    "weights-saved": N_("The matching weights are saved."),
    "published": N_("The matching run is published: %(num)s matches confirmed."),
    "declined": N_("The match is declined; its members are back in the pool."),
    "scheduled": N_("The session is scheduled."),
    "rescheduled": N_("The session is moved."),
    "cancelled": N_("The session is cancelled."),
    "attendance": N_("Attendance recorded."),
    "feedback": N_("Feedback recorded."),
    "completed": N_("The session is marked as held."),
    "closed": N_("The relationship is closed."),
    "signed-out": N_("You are signed out."),
}

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt name fails the page (and its test) instead of showing nothing
    extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
)
# `_()` and `{% trans %}` call the `gettext` each page's context carries, for its language.
_ENVIRONMENT.newstyle_gettext = True  # type: ignore[attr-defined]  # set by the i18n extension, unknown to jinja2's types
_ENVIRONMENT.policies["ext.i18n.trimmed"] = True


@pass_context
def _theme(context: Any, name: str | None) -> str | None:
    """`{{ s.theme|theme }}`, `{{ p.themes|map("theme")|join(", ") }}`: a theme in the page's language."""
    return context["lang"].theme(name)


def _status_noun(status: str | list[str] | tuple[str, ...]) -> str | None:
    """The noun a status (or, for a filter's choices, the first of them) can only be said of."""
    statuses = [status] if isinstance(status, str) else list(status)
    return next((NOUN_OF[s] for s in statuses if s in NOUN_OF), None)


_ENVIRONMENT.filters["theme"] = _theme
_ENVIRONMENT.filters["status_noun"] = _status_noun
TEMPLATES = Jinja2Templates(env=_ENVIRONMENT)


def render(request: Request, template: str, status_code: int = status.HTTP_200_OK, **context: Any) -> HTMLResponse:
    language = request.state.language
    notice = _take_notice(request, language)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": getattr(request.state, "user", None),
            "subsidiary": getattr(request.state, "subsidiary", None),
            "lang": language,
            "gettext": language.gettext,
            "ngettext": language.ngettext,
            "explain": lambda problem: explain(problem, language),
            "csrf_field": CSRF_FIELD,
            "csrf_token": request.state.csrf_token,
            "notice": notice,
            "tab": None,
            **context,
        },
        status_code=status_code,
    )
    if notice is not None:
        cookies(request).delete(response, NOTICE_COOKIE)
    return response


TOO_LARGE_FILE = N_("The file is larger than the console accepts (%(size)s at most): split it into smaller files and import each one.")
TOO_LARGE_FORM = N_("The form is larger than the console accepts (%(size)s at most).")


def too_large_page(request: Request, exc: TooLarge) -> HTMLResponse:
    """413, with the limit, on a page of its own; the rest of the body is not read."""
    problem = request.state.language.gettext(TOO_LARGE_FILE if exc.upload else TOO_LARGE_FORM, size=_size(exc.limit))
    response = render(request, "error.html", status.HTTP_413_CONTENT_TOO_LARGE, title="413", problems=[problem], service=None)
    response.headers["Connection"] = "close"
    return response


def _size(count: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= factor:
            return f"{count / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} B"


def redirect(request: Request, url: str, notice: str | None = None, num: int | None = None) -> RedirectResponse:
    """After a successful POST: see the result on a page of its own (a reload does not post again)."""
    response = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    if notice is not None:
        assert notice in NOTICES, notice
        cookies(request).set(response, NOTICE_COOKIE, quote(json.dumps({"key": notice, "num": num})), max_age=60)
    return response


def _take_notice(request: Request, language: Any) -> str | None:
    raw = cookies(request).get(request, NOTICE_COOKIE)
    if not raw:
        return None
    try:
        notice = json.loads(unquote(raw))
        message = NOTICES[notice["key"]]
        num = notice.get("num")
    except (ValueError, KeyError, TypeError):
        return None
    return language.gettext(message, num=language.number(num)) if num is not None else language.gettext(message)
