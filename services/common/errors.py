"""Errors an application service raises, mapped to HTTP status codes at the edge.

Every problem an API lists has one shape, the one FastAPI gives its own 422s: a stable code
(`type`), its parameters (`ctx`) and the English sentence (`msg`); a 422's also say where
(`loc`). Programs (and the console, which translates by code) read `type` and `ctx`; people
reading the raw answer read `msg`. A code, once published, keeps its meaning.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reason:
    """Why a command is refused: a stable code, its parameters, the English sentence.
    Domains raise these (they hold no I/O); the edge answers with `as_dict()`."""

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.code, "msg": self.message, "ctx": dict(self.params)}


class ServiceError(Exception):
    status_code = 400

    def detail(self) -> Any:
        return str(self)


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    """The request clashes with the state of things. The answer gives the refusal's code and
    lists every reason: {"type", "msg", "ctx", "message", "problems": [{"type", "msg", "ctx"}]}
    ("message" repeats "msg", for the clients written before codes)."""

    status_code = 409

    def __init__(self, reason: Reason | str, problems: Sequence[Reason | str] | None = None) -> None:
        self.reason = _reason(reason)
        super().__init__(self.reason.message)
        self.problems = None if problems is None else [_reason(p) for p in problems]

    def detail(self) -> Any:
        detail = {**self.reason.as_dict(), "message": self.reason.message}
        if self.problems is not None:
            detail["problems"] = [p.as_dict() for p in self.problems]
        return detail


def _reason(reason: Reason | str) -> Reason:
    # A refusal not given a code of its own yet: the generic one (its message is still English).
    return reason if isinstance(reason, Reason) else Reason("conflict", reason)


@dataclass
class Problem:
    """One thing wrong with the input: where it is, its code and parameters, what is wrong."""

    loc: list[str | int]
    msg: str
    type: str = "value_error"
    ctx: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "msg": self.msg, "type": self.type, "ctx": self.ctx, **self.extra}


class Invalid(ServiceError):
    """The input breaks a rule that needs the programme's state (e.g. an unknown theme).
    Answered 422 with every problem listed, in the same shape as FastAPI's own 422."""

    status_code = 422

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.msg for p in problems))
        self.problems = problems

    def detail(self) -> Any:
        return [p.as_dict() for p in self.problems]
