"""Request and response bodies of matching's API."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Format = Literal["pair", "mini-session"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunIn(_Strict):
    format: Format = Field(description="pair: one mentor, one mentee; mini-session: one mentor and up to mini_session_max mentees besides them")


class Proposal(BaseModel):
    mentor_id: UUID
    mentee_ids: list[UUID]
    mentor_name: str | None
    mentee_names: list[str | None]
    theme: str | None
    shared_themes: list[str]
    language: str | None
    score: int = Field(description="A pair's score (the sum of its terms) or a group's theme preference")
    explanation: dict[str, Any] = Field(
        description="Pairs: every term's contribution, shared themes with their ranks, sites, departments, shared "
        "languages and availability, the constraints satisfied. Groups: the theme, the language, why each member fits."
    )


class Unmatched(BaseModel):
    participant_id: UUID
    role: Literal["mentor", "mentee"]
    name: str | None
    reason: str = Field(description="Why, in English")
    reason_code: str | None = Field(None, description="Why, as a stable code (None in runs made before codes)")
    reason_params: dict[str, Any] = Field(default_factory=dict, description="The code's parameters: counts and rule settings")


class RunSummary(BaseModel):
    id: UUID
    format: Format
    status: Literal["draft", "published"]
    created_at: datetime
    proposals: int
    unmatched: int
    matched: int = Field(description="Mentees with a proposal")
    confirmed: int | None = Field(description="Matches confirmed when the run was published (None: a draft)")


class RunOut(BaseModel):
    id: UUID
    subsidiary_id: str
    format: Format
    status: Literal["draft", "published"]
    created_at: datetime
    summary: dict[str, Any]
    proposals: list[Proposal]
    unmatched: list[Unmatched]
    match_ids: list[UUID]


class Published(BaseModel):
    run_id: UUID
    match_ids: list[UUID]


class MatchOut(BaseModel):
    id: UUID
    run_id: UUID
    format: Format
    mentor_id: UUID
    mentee_ids: list[UUID]
    theme: str | None
    shared_themes: list[str]
    language: str | None
    score: int
    status: Literal["active", "declined", "ended", "completed"]
    reason: str | None
    declined_by: str | None


class DeclineIn(_Strict):
    by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        description="The participant id of the member who declines, or 'admin'"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class Weights(_Strict):
    theme: int = Field(1, ge=0, le=100, description="Per point of shared-theme preference")
    same_site: int = Field(3, ge=0, le=100)
    cross_department: int = Field(2, ge=0, le=100, description="Mentor and mentee from different departments")
    availability: int = Field(1, ge=0, le=100, description="Per weekly half-day both are available")


class PoolMember(BaseModel):
    id: UUID
    role: Literal["mentor", "mentee"]
    name: str | None
    site: str
    department: str
    languages: list[str]
    themes: list[str]
    availability: list[str]
    capacity_left: int | None = Field(None, description="Mentors: matches they can still take")


class PoolOut(BaseModel):
    subsidiary_id: str
    programme: dict[str, Any]
    weights: Weights
    mentors: list[PoolMember] = Field(description="Certified mentors, not withdrawn, with room for another match (capacity_left >= 1)")
    full_mentors: int = Field(description="Certified mentors, not withdrawn, at capacity: in no run until a match of theirs ends")
    mentees: list[PoolMember]
