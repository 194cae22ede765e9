"""What every service's eventsourcing Application has in common."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from services.common.errors import Conflict

RETRIES = 5


class ServiceApplication(Application[UUID]):
    """An Application that tells whoever listens (its relay) when new events are stored, so
    they are published at once rather than at the relay's next poll."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_saved: Callable[[], None] = lambda: None

    def _notify(self, recordings: list[Any]) -> None:  # the library's hook, called after each save
        super()._notify(recordings)
        self.on_saved()

    @staticmethod
    def retrying(command: Callable[[], Any]) -> Any:
        """Run a load-change-save command; if another change to the same aggregates came
        first (optimistic concurrency), run it again on the new state, where it may then be
        refused."""
        for attempt in range(RETRIES):
            try:
                return command()
            except IntegrityError:
                if attempt == RETRIES - 1:
                    raise Conflict("the records kept changing meanwhile; nothing was recorded, try again") from None
        return None
