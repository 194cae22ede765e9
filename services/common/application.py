"""What every service's eventsourcing Application has in common."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import Environment, EnvType

from services.common.chain import UNPLACED, Placement
from services.common.errors import Conflict

RETRIES = 5


class ServiceApplication(Application[UUID]):
    """An Application that tells whoever listens (its relay) when new events are stored, so
    they are published at once rather than at the relay's next poll."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_saved: Callable[[], None] = lambda: None

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        environment = super().construct_env(name, env)
        # Every event is stored with its link in its subsidiary's hash chain (chain.py).
        chained = {
            "eventsourcing.sqlite": "services.common.chain:ChainedSQLiteApplicationRecorder",
            "eventsourcing.postgres": "services.common.chain:ChainedPostgresApplicationRecorder",
        }.get(environment.get("PERSISTENCE_MODULE") or "")
        if chained and not environment.get("APPLICATION_RECORDER_TOPIC"):
            environment["APPLICATION_RECORDER_TOPIC"] = chained
        return environment

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Any]:  # the library's hook
        # Tell the recorder which subsidiary's chain each event joins, and when it happened.
        processing_event.saved_kwargs["placements"] = [
            Placement(self.subsidiary_of(e, processing_event.aggregates.get(e.originator_id)), e.timestamp)
            for e in processing_event.events
        ]
        return super()._record(processing_event)

    @staticmethod
    def subsidiary_of(domain_event: Any, aggregate: Any) -> str:
        """Every event's context names its subsidiary; an aggregate without one knows it."""
        context = getattr(domain_event, "context", None)
        if isinstance(context, dict) and context.get("subsidiary_id"):
            return str(context["subsidiary_id"])
        return str(getattr(aggregate, "subsidiary_id", None) or UNPLACED)

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
