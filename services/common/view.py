"""Read models kept in memory by following an application's notification log.

Queries never scan the event store: a view applies each stored event once, in log order,
and remembers its position. `catch_up()` is cheap when nothing is new (one indexed select),
so readers call it first and always see their own writes, and writes made by other
processes on the same store.
"""

import gc
import threading
from typing import Any

from eventsourcing.application import Application


class LogFollowingView:
    page_size = 5000

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self.position = 0
        self.lock = threading.RLock()

    def catch_up(self, until: int | None = None) -> None:
        """Apply every event stored since; with `until`, those up to that notification only
        (replay compares a rebuilt view with the live one at one position)."""
        with self.lock:
            # Looked up once, not per event: a singledispatchmethod builds a new wrapper
            # on every attribute access.
            apply, to_domain_event = self.apply, self.app.mapper.to_domain_event
            pause = _CollectorPause()
            try:
                while until is None or self.position < until:
                    notifications = self.app.recorder.select_notifications(
                        start=self.position, limit=self.page_size, stop=until, inclusive_of_start=False
                    )
                    for notification in notifications:
                        apply(to_domain_event(notification))
                        self.position = notification.id
                    if len(notifications) < self.page_size:
                        return
                    pause.start()  # a whole page: a backlog (a restart, a rebuild)
            finally:
                pause.end()

    def apply(self, domain_event: Any) -> None:
        raise NotImplementedError

    def snapshot(self) -> Any:
        """The whole state as plain, comparable data (a copy): replay compares a view
        rebuilt from the store with the live one."""
        raise NotImplementedError


class _CollectorPause:
    """Pauses Python's cyclic garbage collector while a view reads a backlog. The view's
    state then grows by thousands of objects a page, and the collector's full passes over
    all of it took a third of a rebuild's time (bench/replay.py). A projection's state holds
    no reference cycles, and the events' garbage goes by reference counting, so nothing
    waits for the collector meanwhile. Process-wide: left alone if someone else paused it."""

    def __init__(self) -> None:
        self.paused = False

    def start(self) -> None:
        if not self.paused and gc.isenabled():
            gc.disable()
            self.paused = True

    def end(self) -> None:
        if self.paused:
            gc.enable()
            self.paused = False
