"""What sessions publishes: relationship events translated into integration events."""

from typing import Any

from contracts import IntegrationEvent
from contracts import sessions as published
from services.common.publishing import envelope as envelope_of
from services.sessions.domain import NAMESPACE, Relationship


def to_integration_event(e: Any) -> IntegrationEvent | None:
    if not isinstance(e, Relationship.Event):
        return None  # what sessions learnt from enrolment, and agendas: not republished
    envelope = envelope_of(e, published.PRODUCER, NAMESPACE)
    rel = {"relationship_id": e.originator_id}
    match e:
        case Relationship.Opened():
            return published.RelationshipOpened(
                **envelope,
                payload={
                    **rel,
                    "match_id": e.match_id,
                    "format": e.format,
                    "mentor_id": e.mentor_id,
                    "mentee_ids": e.mentee_ids,
                    "theme": e.theme,
                    "target_sessions": e.target_sessions,
                    "session_minutes": e.session_minutes,
                    "matched_at": e.matched_at,
                },
            )
        case Relationship.SessionScheduled():
            return published.SessionScheduled(
                **envelope,
                payload={
                    **rel,
                    "session_id": e.session_id,
                    "format": e.format,
                    "theme": e.theme,
                    "starts_at": e.starts_at,
                    "duration_minutes": e.duration_minutes,
                    "location": e.location,
                    "video_link": e.video_link,
                    "participant_ids": e.participant_ids,
                },
            )
        case Relationship.SessionRescheduled():
            return published.SessionRescheduled(
                **envelope,
                payload={
                    **rel,
                    "session_id": e.session_id,
                    "starts_at": e.starts_at,
                    "duration_minutes": e.duration_minutes,
                    "location": e.location,
                    "video_link": e.video_link,
                    "sequence": e.sequence,
                },
            )
        case Relationship.SessionCancelled():
            return published.SessionCancelled(**envelope, payload={**rel, "session_id": e.session_id, "reason": e.reason})
        case Relationship.AttendanceRecorded():
            return published.AttendanceRecorded(
                **envelope, payload={**rel, "session_id": e.session_id, "participant_id": e.participant_id, "present": e.present}
            )
        case Relationship.FeedbackGiven():
            return published.FeedbackGiven(
                **envelope,
                payload={
                    **rel,
                    "session_id": e.session_id,
                    "participant_id": e.participant_id,
                    "role": e.role,
                    "rating": e.rating,
                    "comment": e.comment,
                },
            )
        case Relationship.SessionHeld():
            return published.SessionHeld(
                **envelope,
                payload={**rel, "session_id": e.session_id, "format": e.format, "theme": e.theme, "sessions_held": e.sessions_held},
            )
        case Relationship.Completed():
            return published.RelationshipCompleted(**envelope, payload={**rel, "match_id": e.match_id, "sessions_held": e.sessions_held})
        case Relationship.Closed():
            return published.RelationshipClosed(**envelope, payload={**rel, "match_id": e.match_id, "reason": e.reason, "sessions_held": e.sessions_held})
        case Relationship.MemberLeft():
            return published.RelationshipMemberLeft(**envelope, payload={**rel, "participant_id": e.participant_id, "reason": e.reason})
        case Relationship.NoteAdded():
            return published.FollowUpNoteAdded(**envelope, payload={**rel, "author_id": e.author_id, "note": e.note})
    return None
