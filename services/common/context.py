"""Who is acting, in which subsidiary, on behalf of what: set once per command or consumed
event, read by every event its aggregates record (as the eventsourcing `contentmanagement`
example sets the user once per request).

    with acting(subsidiary_id="acme-fr", actor={...}, correlation_id=..., causation_id=...):
        application.certify(...)

The HTTP layer opens it for each request (services/common/http.py `acting_for_request`), each
application's `apply_events` for each consumed event (its actor and correlation, its id as
the causation: services/common/consuming.py). An event recorded outside of it is a bug,
and refused: a stored event must say who caused it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import field
from typing import Any

from eventsourcing.domain import Aggregate as LibraryAggregate

_current: ContextVar[dict[str, Any] | None] = ContextVar("tandem_command_context", default=None)


@contextmanager
def acting(**context: Any) -> Iterator[dict[str, Any]]:
    """Within this block, every recorded event carries `context` (merged over any context
    already set: an inner block may name the subsidiary the outer one did not know)."""
    merged = {**(_current.get() or {}), **context}
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)


def current_context() -> dict[str, Any]:
    context = _current.get()
    if context is None:
        raise RuntimeError("an event was recorded outside of a command or consumed event: no actor is known (services.common.context.acting)")
    return dict(context)


class Aggregate(LibraryAggregate):
    """The library's aggregate, whose events each carry the command's context."""

    class Event(LibraryAggregate.Event):
        context: dict[str, Any] = field(default_factory=current_context, init=False)
