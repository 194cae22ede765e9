"""What the enrolment forms (onboarding, programme, enrolling) do with the problems enrolment
answers: each next to the field it is about (a refusal too: a taken identifier or email), and
the suggestion offered where the fix is obvious."""

from dataclasses import replace
from typing import Any

from services.console.gateway import ApiError, ServiceProblem
from contracts.types import slug_of

# The refusals (409) that are about one field of the form they came from.
REFUSAL_FIELDS = {"already_onboarded": "id", "already_enrolled": "email"}

# A code whose parameters may hold a suggestion: with one, the console says "did you mean ...?"
# (its sentence is MESSAGES' "code+suggestion"); without, what to type.
SUGGESTING = ("unknown_timezone", "unknown_locale", "unknown_language")


def worded(problem: ServiceProblem) -> ServiceProblem:
    """The problem as the console words it: a year written as a year (not 2,012), the
    sentence that offers the suggestion when there is one."""
    if "latest" in problem.ctx:
        problem = replace(problem, ctx={**problem.ctx, "latest": str(problem.ctx["latest"])})
    if problem.type in SUGGESTING and problem.ctx.get("suggestion"):
        problem = replace(problem, type=f"{problem.type}+suggestion")
    return problem


def form_errors(exc: ApiError, suggestions: dict[str, Any] | None = None) -> dict[str, list[ServiceProblem]]:
    """The problems by field, each placed and worded for the form. `suggestions` gives, by
    code, the suggestion when the console knows a better one than the service (the slug of
    the name typed, for an identifier that is not one)."""
    suggestions = suggestions or {}
    found: dict[str, list[ServiceProblem]] = {}
    for problem in exc.problems():
        field = problem.field_name or REFUSAL_FIELDS.get(str(problem.type), "")
        problem = replace(problem, field_name=field)
        if suggestions.get(str(problem.type)):
            problem = replace(problem, ctx={**problem.ctx, "suggestion": suggestions[str(problem.type)]})
        found.setdefault(field, []).append(worded(problem))
    return found


def identifier_suggestion(name: str, typed: str) -> str:
    """The identifier to offer: the slug of the name, else of what was typed, else the hint's example."""
    return slug_of(name) or slug_of(typed) or "assurance-fr"
