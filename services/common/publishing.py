"""The envelope of an integration event made from a stored domain event."""

from typing import Any
from uuid import UUID, uuid5


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
