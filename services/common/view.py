"""Read models kept in memory by following an application's notification log.

Queries never scan the event store: a view applies each stored event once, in log order,
and remembers its position. `catch_up()` is cheap when nothing is new (one indexed select),
so readers call it first and always see their own writes, and writes made by other
processes on the same store.
"""

import threading
from typing import Any

from eventsourcing.application import Application


class LogFollowingView:
    page_size = 5000

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self.position = 0
        self.lock = threading.RLock()

    def catch_up(self) -> None:
        with self.lock:
            while True:
                notifications = self.app.recorder.select_notifications(
                    start=self.position, limit=self.page_size, inclusive_of_start=False
                )
                for notification in notifications:
                    self.apply(self.app.mapper.to_domain_event(notification))
                    self.position = notification.id
                if len(notifications) < self.page_size:
                    return

    def apply(self, domain_event: Any) -> None:
        raise NotImplementedError
