"""Events published by the matching service on the matching topic."""

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent, personal
from contracts.personal import Sealed

PRODUCER = "matching"

Format = Literal["pair", "mini-session"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class MatchConfirmedPayload(_Payload):
    match_id: UUID
    run_id: UUID = Field(description="The matching run whose proposal this match is")
    format: Format
    mentor_id: UUID
    mentee_ids: Annotated[list[UUID], Field(min_length=1, max_length=10)]
    theme: str | None = Field(description="The mini-session's theme; for a pair, the mentee's favourite shared theme")
    shared_themes: list[str] = Field(description="Themes the mentor and every mentee share, in the mentees' order")
    language: str | None = Field(description="A language every member speaks")
    score: int = Field(description="The pair's score, or the group's theme preference")


class MatchDeclinedPayload(_Payload):
    match_id: UUID
    mentor_id: UUID
    mentee_ids: list[UUID]
    by: str = Field(description="Who declined: a member's participant id, or 'admin'")
    reason: Sealed[Annotated[str, Field(max_length=500)]] = personal(
        "Free text about the match: sealed with the match's key (since schema version 2), destroyed "
        "once any of its members is erased; null from then on"
    )


class MatchEndedPayload(_Payload):
    match_id: UUID
    mentor_id: UUID
    mentee_ids: list[UUID]
    reason: Sealed[Annotated[str, Field(max_length=600)]] = personal(
        "Why it ended, which may quote a member's words: sealed with the match's key (since schema "
        "version 2), destroyed once any of its members is erased; null from then on"
    )


class MatchMemberLeftPayload(_Payload):
    """A mentee left a mini-session group that goes on without them."""

    match_id: UUID
    mentor_id: UUID
    participant_id: UUID = Field(description="The mentee who left")
    mentee_ids: Annotated[list[UUID], Field(min_length=1, max_length=10, description="The mentees who remain")]
    reason: Sealed[Annotated[str, Field(max_length=600)]] = personal(
        "Why they left, in their words: sealed with their key (since schema version 2); null once they are erased"
    )


def free_text_sealed(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the same fields; v2 seals the free text (the reason). Decoding opens either (a
    v1 message's plaintext reads as it is, or as erased once its key is destroyed)."""
    return {**data, "schema_version": 2}


# The match's own key: free text about a match is sealed with it, and matching destroys it
# when any of the match's members is erased.
MATCH_TEXT = {"payload.reason": "payload.match_id"}


class _MatchingEvent(IntegrationEvent):
    PRODUCER: ClassVar[str] = PRODUCER


class MatchConfirmed(_MatchingEvent):
    type: Literal["MatchConfirmed"] = "MatchConfirmed"
    schema_version: Literal[1] = 1
    payload: MatchConfirmedPayload


class MatchDeclined(_MatchingEvent):
    PERSONAL: ClassVar[dict[str, str]] = MATCH_TEXT
    UPCASTERS: ClassVar[dict[int, Any]] = {1: free_text_sealed}
    type: Literal["MatchDeclined"] = "MatchDeclined"
    schema_version: Literal[2] = 2
    payload: MatchDeclinedPayload


class MatchEnded(_MatchingEvent):
    PERSONAL: ClassVar[dict[str, str]] = MATCH_TEXT
    UPCASTERS: ClassVar[dict[int, Any]] = {1: free_text_sealed}
    type: Literal["MatchEnded"] = "MatchEnded"
    schema_version: Literal[2] = 2
    payload: MatchEndedPayload


class MatchMemberLeft(_MatchingEvent):
    PERSONAL: ClassVar[dict[str, str]] = {"payload.reason": "payload.participant_id"}
    UPCASTERS: ClassVar[dict[int, Any]] = {1: free_text_sealed}
    type: Literal["MatchMemberLeft"] = "MatchMemberLeft"
    schema_version: Literal[2] = 2
    payload: MatchMemberLeftPayload


EVENTS: tuple[type[IntegrationEvent], ...] = (MatchConfirmed, MatchDeclined, MatchEnded, MatchMemberLeft)
