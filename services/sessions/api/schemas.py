"""Request and response bodies of sessions' API."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

Format = Literal["pair", "mini-session"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Location = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Duration = Annotated[int, Field(ge=15, le=480, description="Minutes; default: the programme's session length")]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _video_link(link: HttpUrl | None) -> str | None:
    if link is None:
        return None
    if link.scheme != "https":
        raise PydanticCustomError("video_link_not_https", "a video link must be an https:// address", {"scheme": link.scheme})
    return str(link)


class SessionIn(_Strict):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    relationship_id: UUID | None = Field(None, description="A pair's relationship")
    group_id: UUID | None = Field(None, description="A mini-session group (its relationship id)")
    theme: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
    starts_at: AwareDatetime = Field(
        description="ISO 8601 with an offset, e.g. 2026-03-10T14:00:00+01:00; in the future, or already started for a session `held`"
    )
    duration_minutes: Duration | None = None
    location: Location | None = Field(None, description="Where the members meet")
    video_link: HttpUrl | None = Field(None, description="An https:// link for a video session")
    held: bool = Field(
        False,
        description="It already took place (an admin heard of it afterwards): recorded as scheduled, attended and held at once; "
        "give `attendance` for every member. Its start lies between the match and now.",
    )
    attendance: dict[UUID, bool] | None = Field(
        None, description="With `held`: whether each member (the mentor and every mentee, by participant id) was present"
    )

    # Validated even when absent, so that their problems are listed with every other
    # field's (a model validator would only run once every field is valid).
    @field_validator("group_id", mode="after")
    @classmethod
    def one_of_relationship_or_group(cls, group_id: UUID | None, info: ValidationInfo) -> UUID | None:
        if "relationship_id" in info.data and (info.data["relationship_id"] is None) == (group_id is None):
            raise PydanticCustomError(
                "relationship_or_group", "give relationship_id (a pair) or group_id (a mini-session), exactly one of them"
            )
        return group_id

    @field_validator("video_link", mode="after")
    @classmethod
    def somewhere_to_meet(cls, link: HttpUrl | None, info: ValidationInfo) -> HttpUrl | None:
        _video_link(link)
        if "location" in info.data and info.data["location"] is None and link is None:
            raise PydanticCustomError("place_required", "give a place (location), a video link, or both")
        return link

    @field_validator("attendance", mode="after")
    @classmethod
    def attendance_with_held(cls, attendance: dict[UUID, bool] | None, info: ValidationInfo) -> dict[UUID, bool] | None:
        if "held" in info.data and info.data["held"] and not attendance:
            raise PydanticCustomError("attendance_required", "a session recorded as held needs each member's attendance")
        if "held" in info.data and not info.data["held"] and attendance:
            raise PydanticCustomError("attendance_without_held", "attendance is given with a session recorded as held only (held: true)")
        return attendance

    @property
    def attendance_by_id(self) -> dict[str, bool] | None:
        return {str(pid): present for pid, present in self.attendance.items()} if self.held and self.attendance else None

    @property
    def target(self) -> tuple[UUID, Format]:
        if self.relationship_id is not None:
            return self.relationship_id, "pair"
        assert self.group_id is not None
        return self.group_id, "mini-session"


class RescheduleIn(_Strict):
    starts_at: AwareDatetime = Field(description="The new start, in the future")
    duration_minutes: Duration | None = Field(None, description="Default: unchanged")
    location: Location | None = Field(
        None, description="Default: the place is unchanged, unless video_link is given (then the session is online only)"
    )
    video_link: HttpUrl | None = Field(None, description="Default: unchanged, unless location is given")

    @field_validator("video_link", mode="after")
    @classmethod
    def https_only(cls, link: HttpUrl | None) -> HttpUrl | None:
        _video_link(link)
        return link

    @property
    def keeps_place(self) -> bool:
        return self.location is None and self.video_link is None


class CancelIn(_Strict):
    reason: Text


class AttendanceIn(_Strict):
    participant_id: UUID
    present: bool


class FeedbackIn(_Strict):
    participant_id: UUID = Field(description="Who gives the feedback: the mentor or a mentee")
    rating: int = Field(ge=1, le=5)
    comment: LongText | None = None


class CloseIn(_Strict):
    reason: Text


class NoteIn(_Strict):
    author_id: UUID = Field(description="The member who writes the note")
    note: LongText


class Person(BaseModel):
    id: UUID
    name: str | None = Field(description="Null until enrolment's event about them has arrived, and once their personal data is erased")
    email: str | None
    personal_data_erased: bool = Field(description="Their personal data is erased (right to erasure): nothing personal is shown")


class Participant(Person):
    role: Literal["mentor", "mentee"]
    present: bool | None = Field(description="Attendance as recorded; null: not recorded")


class Feedback(BaseModel):
    participant_id: UUID
    role: Literal["mentor", "mentee"]
    rating: int
    comment: str | None = Field(description="Null when none was given, and once the giver's personal data is erased")
    given_at: datetime


class Refusal(BaseModel):
    type: str = Field(description="A stable code, e.g. session_not_started")
    msg: str
    ctx: dict[str, Any]


class Action(BaseModel):
    allowed: bool
    reason: Refusal | None = Field(description="Why not, when not allowed: the refusal the command would answer with")


class Actions(BaseModel):
    record_attendance: Action
    give_feedback: Action
    mark_held: Action
    move: Action
    cancel: Action


class SessionOut(BaseModel):
    id: UUID
    subsidiary_id: str
    relationship_id: UUID
    format: Format
    theme: str
    starts_at: datetime
    local_starts_at: datetime = Field(description="The same instant in the subsidiary's time zone")
    duration_minutes: int
    location: str | None
    video_link: str | None
    status: Literal["scheduled", "held", "cancelled"]
    sequence: int = Field(description="How many times it was rescheduled")
    cancellation_reason: str | None
    participants: list[Participant]
    feedback: list[Feedback]
    scheduled_at: datetime
    held_at: datetime | None
    actions: Actions = Field(description="What the session allows now, and why not the rest (the commands follow the same rule)")
    feedback_due: list[UUID] = Field(description="The members who may still give feedback now (not yet given, not recorded absent)")


class Note(BaseModel):
    author_id: UUID
    note: str | None = Field(description="Null once the author's personal data is erased")
    written_at: datetime


class RelationshipOut(BaseModel):
    id: UUID = Field(description="For a mini-session, this is its group id")
    subsidiary_id: str
    match_id: UUID
    format: Format
    mentor: Person
    mentees: list[Person]
    theme: str | None
    target_sessions: int
    session_minutes: int
    matched_at: datetime
    opened_at: datetime
    status: Literal["active", "completed", "closed"]
    reason: str | None = Field(description="Why it was closed early")
    ended_at: datetime | None
    sessions_held: int
    sessions_scheduled: int = Field(description="Sessions booked and still to be held")
    next_session_at: datetime | None
    stalled: bool = Field(description="Active, and no session booked 21 days after the match")
    no_shows: dict[str, int] = Field(description="Sessions each member missed, by participant id")
    notes: list[Note]


class Dashboard(BaseModel):
    mentors: int = Field(description="Mentors taking part (withdrawn ones excluded)")
    certified_mentors: int
    mentees: int
    matched_mentees: int = Field(description="Mentees in an active or completed relationship")
    match_rate: float | None = Field(description="matched_mentees / mentees")
    relationships: dict[str, int] = Field(description="By status")
    stalled_relationships: int
    sessions: dict[str, int] = Field(description="By status: scheduled, held, cancelled (no-shows and others)")
    sessions_held_by_theme: dict[str, int]
    sessions_held_by_format: dict[str, int]
    attendance: dict[str, Any] = Field(description="recorded, present, no_shows, rate (present / recorded)")
    average_rating: dict[str, dict[str, Any]] = Field(
        description="Ratings given BY each role (mentor: given by mentors; mentee: given by mentees): count and average"
    )


class SubsidiaryDashboard(Dashboard):
    subsidiary_id: str
    stalled: list[UUID] = Field(
        description="The longest-stalled relationships (at most 20), oldest match first; `/relationships?stalled=true` lists them all"
    )


class SubsidiaryFigures(Dashboard):
    subsidiary_id: str
    name: str | None


class GroupDashboard(Dashboard):
    subsidiaries_count: int
    subsidiaries: list[SubsidiaryFigures]
