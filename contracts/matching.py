"""Events published by the matching service on the matching topic."""

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent

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
    reason: Annotated[str, Field(max_length=500)]


class MatchEndedPayload(_Payload):
    match_id: UUID
    mentor_id: UUID
    mentee_ids: list[UUID]
    reason: Annotated[str, Field(max_length=600)]


class MatchMemberLeftPayload(_Payload):
    """A mentee left a mini-session group that goes on without them."""

    match_id: UUID
    mentor_id: UUID
    participant_id: UUID = Field(description="The mentee who left")
    mentee_ids: Annotated[list[UUID], Field(min_length=1, max_length=10, description="The mentees who remain")]
    reason: Annotated[str, Field(max_length=600)]


class _MatchingEvent(IntegrationEvent):
    PRODUCER: ClassVar[str] = PRODUCER


class MatchConfirmed(_MatchingEvent):
    type: Literal["MatchConfirmed"] = "MatchConfirmed"
    schema_version: Literal[1] = 1
    payload: MatchConfirmedPayload


class MatchDeclined(_MatchingEvent):
    type: Literal["MatchDeclined"] = "MatchDeclined"
    schema_version: Literal[1] = 1
    payload: MatchDeclinedPayload


class MatchEnded(_MatchingEvent):
    type: Literal["MatchEnded"] = "MatchEnded"
    schema_version: Literal[1] = 1
    payload: MatchEndedPayload


class MatchMemberLeft(_MatchingEvent):
    type: Literal["MatchMemberLeft"] = "MatchMemberLeft"
    schema_version: Literal[1] = 1
    payload: MatchMemberLeftPayload


EVENTS: tuple[type[IntegrationEvent], ...] = (MatchConfirmed, MatchDeclined, MatchEnded, MatchMemberLeft)
