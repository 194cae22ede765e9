"""What matching publishes: match book events translated into integration events."""

from typing import Any
from uuid import UUID, uuid5

from contracts import IntegrationEvent
from contracts import matching as published
from services.matching.domain import NAMESPACE, MatchBook


def event_id(domain_event: Any) -> UUID:
    """The same stored event always gets the same id, however often it is published."""
    return uuid5(NAMESPACE, f"{published.PRODUCER}:{domain_event.originator_id}:{domain_event.originator_version}")


def to_integration_event(e: Any) -> IntegrationEvent | None:
    if not isinstance(e, (MatchBook.MatchConfirmed, MatchBook.MatchDeclined, MatchBook.MatchEnded)):
        return None  # what matching learnt from enrolment, drafts, weights: not republished
    envelope = {
        "event_id": event_id(e),
        "subsidiary_id": e.context["subsidiary_id"],
        "occurred_at": e.timestamp,
        "producer": published.PRODUCER,
        "actor": e.context["actor"],
        "correlation_id": e.context["correlation_id"],
        "causation_id": e.context.get("causation_id"),
    }
    if isinstance(e, MatchBook.MatchConfirmed):
        proposal = e.proposal
        return published.MatchConfirmed(
            **envelope,
            payload={
                "match_id": e.match_id,
                "run_id": e.run_id,
                "format": e.format,
                "mentor_id": proposal["mentor_id"],
                "mentee_ids": proposal["mentee_ids"],
                "theme": proposal.get("theme"),
                "shared_themes": proposal.get("shared_themes", []),
                "language": proposal.get("language"),
                "score": proposal["score"],
            },
        )
    common = {"match_id": e.match_id, "mentor_id": e.mentor_id, "mentee_ids": e.mentee_ids}
    if isinstance(e, MatchBook.MatchDeclined):
        return published.MatchDeclined(**envelope, payload={**common, "by": e.by, "reason": e.reason})
    return published.MatchEnded(**envelope, payload={**common, "reason": e.reason})
