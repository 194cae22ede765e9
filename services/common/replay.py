"""Replay: rebuild a service's read models from its own event store and compare them with
the live ones, so an auditor can see that what the API shows is what the events say.

Two kinds of read model:
- views that follow the notification log (`LogFollowingView`, e.g. EnrolmentView): a new
  instance of the same class reads the same store from position 0;
- aggregates a service reads through its repository's cache instead of a view (matching's
  `MatchBook`): each is rebuilt by folding its events from the log, without the cache.
Each application names them: `views()` and `read_through_cache` (common/application.py).

The live application may be taking writes meanwhile, so each comparison is made at one
point: a view is caught up and copied under its own lock, and the rebuilt one reads exactly
up to that position; a cached aggregate is compared at the version the cache serves.
"""

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import zip_longest
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.common.application import ServiceApplication
from services.common.view import LogFollowingView

MAX_DIFFERENCES = 50  # per read model: enough to see what went wrong, not a dump of the store
MAX_VALUE_CHARS = 1000  # a differing value longer than this is summarised
ABSENT = "<absent>"


def replay_read_models(application: ServiceApplication) -> dict[str, Any]:
    """Rebuild every read model of `application` from its event store into fresh instances
    and compare each with the live one. JSON-ready:
    {"service", "events", "read_models": [{"name", "position", "events", "differences",
    "differences_total", "seconds"}], "ok"}; a difference is {"path", "live", "rebuilt"}
    ("differences" holds the first MAX_DIFFERENCES). "position": the notification the
    comparison was made at; "events": how many were replayed (for a view, its position: the
    log numbers events from 1)."""
    reports = [_replay_view(application, view) for view in application.views()]
    if application.read_through_cache:
        reports.append(_replay_cached(application, application.read_through_cache))
    return {
        "service": application.name,
        "events": max((r["events"] for r in reports), default=0),
        "read_models": reports,
        "ok": all(not r["differences"] for r in reports),
    }


# -- views ----------------------------------------------------------------------------------


def _replay_view(application: ServiceApplication, live: LogFollowingView) -> dict[str, Any]:
    started = time.perf_counter()
    with live.lock:  # nobody moves it on while it is caught up and copied
        live.catch_up()
        position = live.position
        live_state = live.snapshot()
    rebuilt = type(live)(application)
    rebuilt.catch_up(until=position)  # the service's own path, stopped where the live one is
    return _report(type(live).__name__, position, rebuilt.position, live_state, rebuilt.snapshot(), started)


def _follow(application: ServiceApplication, until: int, apply: Callable[[Any], None]) -> int:
    """Apply every stored event up to notification `until`, in log order; how many there were."""
    position = count = 0
    to_domain_event = application.mapper.to_domain_event
    while position < until:
        notifications = application.recorder.select_notifications(
            start=position, limit=LogFollowingView.page_size, stop=until, inclusive_of_start=False
        )
        if not notifications:
            break
        for notification in notifications:
            apply(to_domain_event(notification))
        count += len(notifications)
        position = notifications[-1].id
    return count


# -- aggregates read through the cache --------------------------------------------------------


def _replay_cached(application: ServiceApplication, classes: tuple[type[Aggregate], ...]) -> dict[str, Any]:
    started = time.perf_counter()
    position = application.recorder.max_notification_id() or 0
    event_classes = tuple(cls.Event for cls in classes)
    rebuilt: dict[UUID, Any] = {}

    def fold(event: Any) -> None:
        if isinstance(event, event_classes):
            rebuilt[event.originator_id] = event.mutate(rebuilt.get(event.originator_id))

    events = _follow(application, position, fold)
    live_state, rebuilt_state = {}, {}
    for aggregate_id, aggregate in sorted(rebuilt.items(), key=lambda item: str(item[0])):
        served: Aggregate = application.repository.get(aggregate_id)  # through the cache, as commands read it
        # Saved since the log was read: the rebuilt one catches up to the version served.
        later: Iterable[Any] = application.events.get(aggregate_id, gt=aggregate.version, lte=served.version)
        for event in later:
            aggregate = event.mutate(aggregate)
        key = getattr(served, "subsidiary_id", None) or str(aggregate_id)
        live_state[key], rebuilt_state[key] = _state_of(served), _state_of(aggregate)
    name = ", ".join(cls.__name__ for cls in classes)
    return _report(name, position, events, live_state, rebuilt_state, started)


def _state_of(aggregate: Any) -> dict[str, Any]:
    """An aggregate's attributes, its id and version included, without unsaved events."""
    return {name.lstrip("_"): value for name, value in vars(aggregate).items() if name != "_pending_events"}


# -- comparing ------------------------------------------------------------------------------


def _report(name: str, position: int, events: int, live: Any, rebuilt: Any, started: float) -> dict[str, Any]:
    found = differences(live, rebuilt)
    return {
        "name": name,
        "position": position,
        "events": events,
        "differences": found[:MAX_DIFFERENCES],
        "differences_total": len(found),
        "seconds": round(time.perf_counter() - started, 3),
    }


def differences(live: Any, rebuilt: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two snapshots differ: {"path": "a/b/c", "live": ..., "rebuilt": ...} each,
    values made JSON-ready ("<absent>" where one side has nothing)."""
    found: list[dict[str, Any]] = []
    _compare(live, rebuilt, path, found)
    return found


def _compare(live: Any, rebuilt: Any, path: str, found: list[dict[str, Any]]) -> None:
    live, rebuilt = _normal(live), _normal(rebuilt)
    if live == rebuilt:
        return
    if isinstance(live, dict) and isinstance(rebuilt, dict):
        for key in sorted(live.keys() | rebuilt.keys(), key=str):
            _compare(live.get(key, ABSENT), rebuilt.get(key, ABSENT), f"{path}/{key}", found)
    elif isinstance(live, list) and isinstance(rebuilt, list):
        for index, (left, right) in enumerate(zip_longest(live, rebuilt, fillvalue=ABSENT)):
            _compare(left, right, f"{path}/{index}", found)
    else:
        found.append({"path": path or "/", "live": _shown(live), "rebuilt": _shown(rebuilt)})


def _normal(value: Any) -> Any:
    """Counters without their zeros (a count back to 0 is no count); tuples as lists."""
    if isinstance(value, Counter):
        return {key: n for key, n in value.items() if n}
    if isinstance(value, tuple):
        return list(value)
    return value


def _shown(value: Any) -> Any:
    plain = _jsonable(value)
    text = json.dumps(plain, sort_keys=True)
    if len(text) > MAX_VALUE_CHARS:
        size = f" of {len(plain)} items" if isinstance(plain, dict | list) else ""
        return f"<{type(value).__name__}{size}: {text[:MAX_VALUE_CHARS]}...>"
    return plain


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(item) for item in value), key=str)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [_jsonable(item) for item in value]
    return str(value)  # UUIDs, and anything else, as text
