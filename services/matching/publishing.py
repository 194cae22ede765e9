"""What matching publishes: match book events translated into integration events."""

from typing import Any

from contracts import IntegrationEvent
from contracts import matching as published
from services.common.publishing import envelope as envelope_of
from services.matching.domain import NAMESPACE, MatchBook


def to_integration_event(e: Any) -> IntegrationEvent | None:
    if not isinstance(
        e, (MatchBook.MatchConfirmed, MatchBook.MatchDeclined, MatchBook.MatchEnded, MatchBook.MatchCompleted, MatchBook.MatchMemberLeft)
    ):
        return None  # what matching learnt from enrolment, drafts, weights: not republished
    envelope = envelope_of(e, published.PRODUCER, NAMESPACE)
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
    if isinstance(e, MatchBook.MatchMemberLeft):
        return published.MatchMemberLeft(**envelope, payload={**common, "participant_id": e.participant_id, "reason": e.reason})
    if isinstance(e, MatchBook.MatchDeclined):
        return published.MatchDeclined(**envelope, payload={**common, "by": e.by, "reason": e.reason})
    # Ended, or completed: either way the match is over, and the reason says which.
    return published.MatchEnded(**envelope, payload={**common, "reason": e.reason})
