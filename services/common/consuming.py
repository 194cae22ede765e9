"""Applying other services' events: one path for every service that consumes them.

The EventConsumer (consumer.py) hands each polled batch, decoded and checked, to
`ConsumingApplication.apply_events`, which:

1. forgets the key of every participant erased in the batch, before anything is loaded or
   sealed with it;
2. groups the events by subsidiary (subsidiaries are independent: each group is its own
   transaction) and, within a group, puts the producers in the service's order (each topic's
   own order is kept: one subsidiary, one key, one partition);
3. skips the events already applied: their ids are recorded with their effects, in the same
   transaction, in the store's table of consumed events (chain.py), not in an aggregate;
4. applies each of the others with the handler its service registered for its contract
   class, given the event with its typed payload, within the event's own context (its
   actor, correlation, and itself as the cause: context.py);
5. saves every aggregate the group changed with the ids of the events it applied, both or
   neither; if another writer came first, the group is tried again from its stored state.
"""

from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from contracts import IntegrationEvent
from contracts.enrolment import ParticipantErased
from services.common.application import ServiceApplication
from services.common.context import acting

A = TypeVar("A", bound=Aggregate)


class ConsumedBatch:
    """The consumed events of one subsidiary, applied together: every aggregate they change is
    loaded once, and saved in one transaction. A service's handlers are methods of its own
    subclass, where what its events change is named in its language."""

    def __init__(self, app: "ConsumingApplication", subsidiary_id: str) -> None:
        self.app = app
        self.subsidiary_id = subsidiary_id
        self.changed: dict[UUID, Aggregate] = {}

    def get(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate as this batch has it (loaded once, then changed in place)."""
        found = self.changed.get(aggregate_id)
        if found is None:
            try:
                found = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            self.changed[aggregate_id] = found
        return found if isinstance(found, kind) else None

    def add(self, aggregate: A) -> A:
        self.changed[aggregate.id] = aggregate
        return aggregate

    def applied_before_tracking(self, event_id: str) -> bool:
        """Whether the event was applied before consumed events were tracked in the store
        (their ids were kept in an aggregate then): a service whose stores hold such streams
        says so."""
        return False


Handler = Callable[[Any, Any], None]  # (the service's batch, the contract event)


class ConsumingApplication(ServiceApplication):
    batch: ClassVar[type[ConsumedBatch]] = ConsumedBatch
    # What each consumed contract class does here; an event of a class not named changes
    # nothing (and is not recorded as applied: the table would grow with every one).
    handlers: ClassVar[Mapping[type[IntegrationEvent], Handler]] = {}
    # Within a subsidiary's batch, the producers' order (those not named come last).
    producers_first: ClassVar[tuple[str, ...]] = ()

    def apply_events(self, events: list[IntegrationEvent]) -> None:
        order = {producer: rank for rank, producer in enumerate(self.producers_first)}
        by_subsidiary: dict[str, list[IntegrationEvent]] = defaultdict(list)
        for e in sorted(events, key=lambda e: order.get(e.producer, len(order))):  # stable: each topic keeps its order
            by_subsidiary[e.subsidiary_id].append(e)
            if isinstance(e, ParticipantErased):
                self.forget_participant(e.payload.participant_id)
        for subsidiary_id, theirs in by_subsidiary.items():
            self.retrying(partial(self._apply_batch, subsidiary_id, theirs))

    def _apply_batch(self, subsidiary_id: str, events: list[IntegrationEvent]) -> None:
        applied = self.recorder.applied({str(e.event_id) for e in events})  # type: ignore[attr-defined]
        batch = self.batch(self, subsidiary_id)
        fresh: dict[str, IntegrationEvent] = {}  # an event published twice may come twice in one batch
        for e in events:
            event_id = str(e.event_id)
            if event_id in applied or event_id in fresh or batch.applied_before_tracking(event_id):
                continue
            handler = self.handlers.get(type(e))
            if handler is None:
                continue  # changes nothing here, however often it comes: not recorded either
            with acting(subsidiary_id=subsidiary_id, actor=e.actor.model_dump(mode="json"), correlation_id=e.correlation_id, causation_id=event_id):
                handler(batch, e)
            fresh[event_id] = e
        if fresh:
            changed = [a for a in batch.changed.values() if a.pending_events]
            self.save(*changed, consumed=[(event_id, subsidiary_id) for event_id in fresh])
