"""Errors an application service raises, mapped to HTTP status codes at the edge."""

from dataclasses import dataclass, field
from typing import Any


class ServiceError(Exception):
    status_code = 400

    def detail(self) -> Any:
        return str(self)


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    """The request clashes with the state of things. With `problems`, the answer lists every
    reason: {"message": ..., "problems": [...]}."""

    status_code = 409

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems

    def detail(self) -> Any:
        if self.problems is None:
            return str(self)
        return {"message": str(self), "problems": self.problems}


@dataclass
class Problem:
    """One thing wrong with the input: where it is and what is wrong."""

    loc: list[str | int]
    msg: str
    type: str = "value_error"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "msg": self.msg, "type": self.type, **self.extra}


class Invalid(ServiceError):
    """The input breaks a rule that needs the programme's state (e.g. an unknown theme).
    Answered 422 with every problem listed, in the same shape as FastAPI's own 422."""

    status_code = 422

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.msg for p in problems))
        self.problems = problems

    def detail(self) -> Any:
        return [p.as_dict() for p in self.problems]
