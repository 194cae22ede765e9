"""Events published by the enrolment service on the enrolment topic."""

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent, bound_tokens, personal
from contracts.personal import Sealed
from contracts.types import Email, LanguageCode, Role, ShortText, Slot, ThemeName

PRODUCER = "enrolment"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- subsidiaries and their programme ---------------------------------------------------


class SubsidiaryOnboardedPayload(_Payload):
    name: ShortText
    timezone: str = Field(description="IANA time zone, e.g. Europe/Paris")
    locale: str = Field(description="BCP 47 locale, e.g. fr-FR")


class ProgrammeSettings(_Payload):
    themes: list[ThemeName] = Field(min_length=1, description="The themes mentees can choose from")
    mentor_capacity: int = Field(ge=1, le=50, description="Active matches a mentor can hold at once")
    mini_session_max: int = Field(ge=2, le=10, description="Most mentees in a mini-session, the mentor not included")
    target_sessions: int = Field(ge=1, le=50, description="Sessions recommended per relationship")
    session_minutes: int = Field(ge=15, le=480, description="Recommended length of a session")
    min_age_gap: int | None = Field(
        ge=0, le=60, description="The mentor is younger than the mentee by at least this many years; null: no rule"
    )


def canonical_theme(themes: list[str], name: str) -> str | None:
    """The programme's spelling of a theme, matched without regard to case or spacing:
    every service reads the themes a person types the same way."""
    wanted = " ".join(name.split()).casefold()
    return next((theme for theme in themes if theme.casefold() == wanted), None)


# --- participants ------------------------------------------------------------------------


class PersonalData(_Payload):
    """Everything in here is personal data. Since schema version 2 each value travels sealed
    with the participant's own key (contracts/personal.py); null once they are erased."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"x-personal-data": True})

    name: Sealed[ShortText] = personal("Full name")
    email: Sealed[Email] = personal("Work email; unique among a subsidiary's active participants")
    birth_year: Sealed[Annotated[int, Field(ge=1900, le=2100)]] = personal("Year of birth, for the reverse-mentoring age rule")
    manager_email: Sealed[Email] = personal("The participant's manager, so nobody is matched with their manager")


class Profile(_Payload):
    """A participant's profile: what matching needs."""

    role: Role
    personal_data: PersonalData
    department: ShortText
    site: ShortText
    languages: Annotated[list[LanguageCode], Field(min_length=1)]
    themes: Annotated[list[ThemeName], Field(min_length=1, description="Ranked: the first is the favourite")]
    availability: list[Slot] = Field(default_factory=list, description="Weekly half-days available")


class ParticipantEnrolledPayload(Profile):
    participant_id: UUID


class ParticipantProfileUpdatedPayload(Profile):
    """The whole profile after the update, so consumers need no earlier state."""

    participant_id: UUID
    changed: list[str] = Field(description="Names of the profile fields this update changed")


class MentorCertifiedPayload(_Payload):
    participant_id: UUID


class ParticipantWithdrawnPayload(_Payload):
    participant_id: UUID
    role: Role
    reason: Sealed[Annotated[str, Field(min_length=1, max_length=500)]] = personal(
        "Why they withdrew, in their words: sealed with their key (since schema version 2); null once they are erased"
    )


class ParticipantErasedPayload(_Payload):
    """The participant's personal data is erased everywhere: their key is destroyed."""

    participant_id: UUID


# Whose the personal data of a participant event is: the participant's.
PARTICIPANT_DATA = {f"payload.personal_data.{field}": "payload.participant_id" for field in PersonalData.model_fields}


def personal_data_sealed(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the same fields; v2 seals the personal ones (ParticipantWithdrawn: the
    reason). Decoding opens either (a v1 message's plaintext reads as it is, or as erased once
    its participant is)."""
    return {**data, "schema_version": 2}


# --- the events --------------------------------------------------------------------------


class _EnrolmentEvent(IntegrationEvent):
    PRODUCER: ClassVar[str] = PRODUCER


class SubsidiaryOnboarded(_EnrolmentEvent):
    type: Literal["SubsidiaryOnboarded"] = "SubsidiaryOnboarded"
    schema_version: Literal[1] = 1
    payload: SubsidiaryOnboardedPayload


class ProgrammeConfigured(_EnrolmentEvent):
    type: Literal["ProgrammeConfigured"] = "ProgrammeConfigured"
    schema_version: Literal[1] = 1
    payload: ProgrammeSettings


class ParticipantEnrolled(_EnrolmentEvent):
    PERSONAL: ClassVar[dict[str, str]] = PARTICIPANT_DATA
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed, 2: bound_tokens}
    type: Literal["ParticipantEnrolled"] = "ParticipantEnrolled"
    schema_version: Literal[3] = 3
    payload: ParticipantEnrolledPayload


class MentorCertified(_EnrolmentEvent):
    type: Literal["MentorCertified"] = "MentorCertified"
    schema_version: Literal[1] = 1
    payload: MentorCertifiedPayload


class ParticipantProfileUpdated(_EnrolmentEvent):
    PERSONAL: ClassVar[dict[str, str]] = PARTICIPANT_DATA
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed, 2: bound_tokens}
    type: Literal["ParticipantProfileUpdated"] = "ParticipantProfileUpdated"
    schema_version: Literal[3] = 3
    payload: ParticipantProfileUpdatedPayload


class ParticipantWithdrawn(_EnrolmentEvent):
    PERSONAL: ClassVar[dict[str, str]] = {"payload.reason": "payload.participant_id"}
    UPCASTERS: ClassVar[dict[int, Any]] = {1: personal_data_sealed}
    type: Literal["ParticipantWithdrawn"] = "ParticipantWithdrawn"
    schema_version: Literal[2] = 2
    payload: ParticipantWithdrawnPayload


class ParticipantErased(_EnrolmentEvent):
    type: Literal["ParticipantErased"] = "ParticipantErased"
    schema_version: Literal[1] = 1
    payload: ParticipantErasedPayload


EVENTS: tuple[type[IntegrationEvent], ...] = (
    SubsidiaryOnboarded,
    ProgrammeConfigured,
    ParticipantEnrolled,
    MentorCertified,
    ParticipantProfileUpdated,
    ParticipantWithdrawn,
    ParticipantErased,
)
