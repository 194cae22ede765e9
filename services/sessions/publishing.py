"""What sessions publishes: each relationship event as its contract (agendas, and what
sessions learnt from enrolment, are not republished)."""

from typing import Any

from contracts import sessions as published
from services.common.publishing import PublishedAs, translator
from services.sessions.domain import NAMESPACE, Relationship


def _of_relationship(e: Any) -> dict[str, Any]:
    return {"relationship_id": e.originator_id}


PUBLISHED_AS: dict[type, PublishedAs] = {
    Relationship.Opened: PublishedAs(published.RelationshipOpened, _of_relationship),
    Relationship.SessionScheduled: PublishedAs(published.SessionScheduled, _of_relationship),
    Relationship.SessionRescheduled: PublishedAs(published.SessionRescheduled, _of_relationship),
    Relationship.SessionCancelled: PublishedAs(published.SessionCancelled, _of_relationship),
    Relationship.AttendanceRecorded: PublishedAs(published.AttendanceRecorded, _of_relationship),
    Relationship.FeedbackGiven: PublishedAs(published.FeedbackGiven, _of_relationship),
    Relationship.SessionHeld: PublishedAs(published.SessionHeld, _of_relationship),
    Relationship.Completed: PublishedAs(published.RelationshipCompleted, _of_relationship),
    Relationship.Closed: PublishedAs(published.RelationshipClosed, _of_relationship),
    Relationship.MemberLeft: PublishedAs(published.RelationshipMemberLeft, _of_relationship),
    Relationship.NoteAdded: PublishedAs(published.FollowUpNoteAdded, _of_relationship),
}

to_integration_event = translator(published.PRODUCER, NAMESPACE, PUBLISHED_AS)
