"""What every service's eventsourcing Application has in common."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application


class ServiceApplication(Application[UUID]):
    """An Application that tells whoever listens (its relay) when new events are stored, so
    they are published at once rather than at the relay's next poll."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_saved: Callable[[], None] = lambda: None

    def _notify(self, recordings: list[Any]) -> None:  # the library's hook, called after each save
        super()._notify(recordings)
        self.on_saved()
