"""Integration events made from stored domain events: the envelope, and the table that says
which contract each domain event is published as."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel

from contracts import IntegrationEvent


def envelope(domain_event: Any, producer: str, namespace: UUID) -> dict[str, Any]:
    """Every domain event carries a `context` (subsidiary, actor, correlation, causation).
    The event id is derived from the stored event, so it is the same however often the
    event is published: consumers deduplicate by it."""
    context = domain_event.context
    return {
        "event_id": uuid5(namespace, f"{producer}:{domain_event.originator_id}:{domain_event.originator_version}"),
        "subsidiary_id": context["subsidiary_id"],
        "occurred_at": domain_event.timestamp,
        "producer": producer,
        "actor": context["actor"],
        "correlation_id": context["correlation_id"],
        "causation_id": context.get("causation_id"),
    }


def _nothing(_: Any) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class PublishedAs:
    """A domain event's contract: the payload takes each of the contract's fields from the
    event's field of the same name, and `named_otherwise(event)` gives those it holds under
    another name or in another shape (the relationship's id is the event's originator)."""

    contract: type[IntegrationEvent]
    named_otherwise: Callable[[Any], Mapping[str, Any]] = field(default=_nothing)

    def payload(self, domain_event: Any) -> dict[str, Any]:
        model = self.contract.model_fields["payload"].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        stored = vars(domain_event)
        return {**{name: stored[name] for name in model.model_fields if name in stored}, **self.named_otherwise(domain_event)}


def translator(producer: str, namespace: UUID, table: Mapping[type, PublishedAs]) -> Callable[[Any], IntegrationEvent | None]:
    """Stored domain event -> the integration event its table names, or None (not published)."""

    def to_integration_event(domain_event: Any) -> IntegrationEvent | None:
        published = next((table[kind] for kind in type(domain_event).__mro__ if kind in table), None)
        if published is None:
            return None
        return published.contract(**envelope(domain_event, producer, namespace), payload=published.payload(domain_event))

    return to_integration_event
