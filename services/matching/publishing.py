"""What matching publishes: the match book's match events as their contracts (what matching
learnt from enrolment and sessions, drafts and weights are not republished)."""

from typing import Any

from contracts import matching as published
from services.common.publishing import PublishedAs, translator
from services.matching.domain import NAMESPACE, MatchBook


def _proposed(e: Any) -> dict[str, Any]:
    """A confirmed match is its proposal's pair or group."""
    proposal = e.proposal
    return {
        "mentor_id": proposal["mentor_id"],
        "mentee_ids": proposal["mentee_ids"],
        "theme": proposal.get("theme"),
        "shared_themes": proposal.get("shared_themes", []),
        "language": proposal.get("language"),
        "score": proposal["score"],
    }


PUBLISHED_AS: dict[type, PublishedAs] = {
    MatchBook.MatchConfirmed: PublishedAs(published.MatchConfirmed, _proposed),
    MatchBook.MatchMemberLeft: PublishedAs(published.MatchMemberLeft),
    MatchBook.MatchDeclined: PublishedAs(published.MatchDeclined),
    MatchBook.MatchEnded: PublishedAs(published.MatchEnded),
    # Completed: the match is over all the same, and its reason says why.
    MatchBook.MatchCompleted: PublishedAs(published.MatchEnded),
}

to_integration_event = translator(published.PRODUCER, NAMESPACE, PUBLISHED_AS)
