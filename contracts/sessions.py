"""Events published by the sessions service on the sessions topic.

A match becomes a relationship: a pair, or a mini-session group. A relationship holds
sessions; each is scheduled, perhaps rescheduled, then held or cancelled. Members record
their attendance and give feedback both ways. A relationship completes when its target
number of sessions has been held, or is closed early with a reason.
"""

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent, bound_tokens, personal
from contracts.matching import Format
from contracts.personal import Sealed
from contracts.types import Role, ThemeName

PRODUCER = "sessions"

Reason = Annotated[str, Field(min_length=1, max_length=600)]


def _relationship_text(what: str) -> Any:
    return personal(
        f"{what}: free text about the relationship, sealed with the relationship's key (since schema version 2), "
        "destroyed once any of its members is erased; null from then on"
    )


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- relationships -------------------------------------------------------------------------


class RelationshipOpenedPayload(_Payload):
    relationship_id: UUID = Field(description="For a mini-session, also called its group id")
    match_id: UUID
    format: Format
    mentor_id: UUID
    mentee_ids: Annotated[list[UUID], Field(min_length=1, max_length=10)]
    theme: str | None
    target_sessions: int = Field(ge=1, description="Sessions to hold before the relationship completes")
    session_minutes: int = Field(ge=1, description="A session's usual length")
    matched_at: AwareDatetime = Field(description="When the match was confirmed: the clock for `stalled`")


class RelationshipCompletedPayload(_Payload):
    relationship_id: UUID
    match_id: UUID
    sessions_held: int


class RelationshipClosedPayload(_Payload):
    relationship_id: UUID
    match_id: UUID
    reason: Sealed[Reason] = _relationship_text("Why it was closed")
    sessions_held: int


class RelationshipMemberLeftPayload(_Payload):
    """A mentee left a mini-session group: they are no longer invited to its sessions."""

    relationship_id: UUID
    participant_id: UUID
    reason: Sealed[Reason] = personal(
        "Why they left, in their words: sealed with their key (since schema version 2); null once they are erased"
    )


class FollowUpNoteAddedPayload(_Payload):
    relationship_id: UUID
    author_id: UUID = Field(description="The member who wrote the note")
    note: Sealed[Annotated[str, Field(min_length=1, max_length=2000)]] = personal(
        "Free text written by a member, sealed with their key; null once they are erased"
    )


# --- sessions ------------------------------------------------------------------------------


class SessionScheduledPayload(_Payload):
    session_id: UUID
    relationship_id: UUID
    format: Format
    theme: ThemeName
    starts_at: AwareDatetime
    duration_minutes: int = Field(ge=1)
    location: Sealed[str] = _relationship_text("Where the members meet, or null for a video session")
    video_link: Sealed[str] = _relationship_text("The video session's link, or null")
    participant_ids: Annotated[list[UUID], Field(min_length=2, description="The mentor first, then the mentees")]


class SessionRescheduledPayload(_Payload):
    """The session's time and place after the change, whole."""

    session_id: UUID
    relationship_id: UUID
    starts_at: AwareDatetime
    duration_minutes: int = Field(ge=1)
    location: Sealed[str] = _relationship_text("Where the members meet, or null for a video session")
    video_link: Sealed[str] = _relationship_text("The video session's link, or null")
    sequence: int = Field(ge=1, description="How many times the session has been rescheduled")


class SessionCancelledPayload(_Payload):
    session_id: UUID
    relationship_id: UUID
    reason: Sealed[Reason] = _relationship_text("Why it was cancelled")


class AttendanceRecordedPayload(_Payload):
    """The last record for a member and a session is the one that counts."""

    session_id: UUID
    relationship_id: UUID
    participant_id: UUID
    present: bool


class FeedbackGivenPayload(_Payload):
    session_id: UUID
    relationship_id: UUID
    participant_id: UUID
    role: Role = Field(description="The giver's role: feedback goes both ways")
    rating: int = Field(ge=1, le=5)
    comment: Sealed[Annotated[str, Field(max_length=2000)]] = personal(
        "Free text from the participant, sealed with their key; null when none was given or once they are erased"
    )


class SessionHeldPayload(_Payload):
    session_id: UUID
    relationship_id: UUID
    format: Format
    theme: ThemeName
    sessions_held: int = Field(description="Sessions the relationship has held, this one included")


def personal_data_sealed(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the same fields; v2 seals the free text (with its writer's key, or the
    relationship's). Decoding opens either (a v1 message's plaintext reads as it is, or as
    erased once its key is destroyed)."""
    return {**data, "schema_version": 2}


# The relationship's own key: free text about a relationship or its sessions is sealed with
# it, and sessions destroys it when any of the relationship's members is erased.
RELATIONSHIP_TEXT = {"payload.reason": "payload.relationship_id"}
PLACE = {"payload.location": "payload.relationship_id", "payload.video_link": "payload.relationship_id"}


# --- the events ----------------------------------------------------------------------------


class _SessionsEvent(IntegrationEvent):
    PRODUCER: ClassVar[str] = PRODUCER


class RelationshipOpened(_SessionsEvent):
    type: Literal["RelationshipOpened"] = "RelationshipOpened"
    schema_version: Literal[1] = 1
    payload: RelationshipOpenedPayload


class RelationshipCompleted(_SessionsEvent):
    type: Literal["RelationshipCompleted"] = "RelationshipCompleted"
    schema_version: Literal[1] = 1
    payload: RelationshipCompletedPayload


class RelationshipClosed(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = RELATIONSHIP_TEXT
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed}
    type: Literal["RelationshipClosed"] = "RelationshipClosed"
    schema_version: Literal[2] = 2
    payload: RelationshipClosedPayload


class RelationshipMemberLeft(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = {"payload.reason": "payload.participant_id"}
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed}
    type: Literal["RelationshipMemberLeft"] = "RelationshipMemberLeft"
    schema_version: Literal[2] = 2
    payload: RelationshipMemberLeftPayload


class FollowUpNoteAdded(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = {"payload.note": "payload.author_id"}
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed, 2: bound_tokens}
    type: Literal["FollowUpNoteAdded"] = "FollowUpNoteAdded"
    schema_version: Literal[3] = 3
    payload: FollowUpNoteAddedPayload


class SessionScheduled(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = PLACE
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed}
    type: Literal["SessionScheduled"] = "SessionScheduled"
    schema_version: Literal[2] = 2
    payload: SessionScheduledPayload


class SessionRescheduled(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = PLACE
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed}
    type: Literal["SessionRescheduled"] = "SessionRescheduled"
    schema_version: Literal[2] = 2
    payload: SessionRescheduledPayload


class SessionCancelled(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = RELATIONSHIP_TEXT
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed}
    type: Literal["SessionCancelled"] = "SessionCancelled"
    schema_version: Literal[2] = 2
    payload: SessionCancelledPayload


class AttendanceRecorded(_SessionsEvent):
    type: Literal["AttendanceRecorded"] = "AttendanceRecorded"
    schema_version: Literal[1] = 1
    payload: AttendanceRecordedPayload


class FeedbackGiven(_SessionsEvent):
    PERSONAL: ClassVar[dict[str, str]] = {"payload.comment": "payload.participant_id"}
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed, 2: bound_tokens}
    type: Literal["FeedbackGiven"] = "FeedbackGiven"
    schema_version: Literal[3] = 3
    payload: FeedbackGivenPayload


class SessionHeld(_SessionsEvent):
    type: Literal["SessionHeld"] = "SessionHeld"
    schema_version: Literal[1] = 1
    payload: SessionHeldPayload


EVENTS: tuple[type[IntegrationEvent], ...] = (
    RelationshipOpened,
    RelationshipCompleted,
    RelationshipClosed,
    RelationshipMemberLeft,
    FollowUpNoteAdded,
    SessionScheduled,
    SessionRescheduled,
    SessionCancelled,
    AttendanceRecorded,
    FeedbackGiven,
    SessionHeld,
)
