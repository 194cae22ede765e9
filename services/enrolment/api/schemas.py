"""Request and response bodies of enrolment's API."""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from contracts.enrolment import ProgrammeSettings
from contracts.types import LanguageCode, ParticipantStatus, Role, ShortText, Slot, SubsidiaryId, ThemeName
from services.enrolment.domain import DEFAULT_PROGRAMME

_TIMEZONES = frozenset(available_timezones())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class SubsidiaryIn(_Strict):
    id: SubsidiaryId
    name: ShortText
    timezone: str = Field(examples=["Europe/Paris"], description="IANA time zone")
    locale: str = Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", examples=["fr-FR"], description="BCP 47 locale")

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        if value not in _TIMEZONES:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class ProgrammeIn(_Strict, ProgrammeSettings):
    """The programme's settings; any field left out takes its default."""

    themes: list[ThemeName] = Field(default_factory=lambda: list(DEFAULT_PROGRAMME["themes"]), min_length=1, max_length=30)
    mentor_capacity: int = Field(DEFAULT_PROGRAMME["mentor_capacity"], ge=1, le=50)
    mini_session_max: int = Field(DEFAULT_PROGRAMME["mini_session_max"], ge=2, le=10)
    target_sessions: int = Field(DEFAULT_PROGRAMME["target_sessions"], ge=1, le=50)
    session_minutes: int = Field(DEFAULT_PROGRAMME["session_minutes"], ge=15, le=480)
    min_age_gap: int | None = Field(DEFAULT_PROGRAMME["min_age_gap"], ge=0, le=60, description="null turns the rule off")

    @field_validator("themes")
    @classmethod
    def distinct_themes(cls, themes: list[str]) -> list[str]:
        themes = [" ".join(t.split()) for t in themes]
        # Python's idea of whitespace is wider than pydantic's strip: check the length again.
        if any(len(t) < 2 for t in themes):
            raise ValueError("a theme has at least 2 characters besides spaces")
        seen = [t.casefold() for t in themes]
        if len(set(seen)) != len(seen):
            raise ValueError("each theme must appear once")
        return themes


class SubsidiaryOut(BaseModel):
    id: str
    name: str
    timezone: str
    locale: str
    programme: ProgrammeSettings | None
    onboarded_at: datetime


Languages = Annotated[
    list[LanguageCode], Field(min_length=1, max_length=20), AfterValidator(lambda codes: list(dict.fromkeys(codes)))
]
Themes = Annotated[list[ThemeName], Field(min_length=1, max_length=30, description="Ranked: the first is the favourite")]
Availability = Annotated[list[Slot], Field(max_length=10, description="Weekly half-days, e.g. mon-am")]
def _old_enough(year: int) -> int:
    # Checked at each request, not at import: a long-running service crosses New Year.
    if year > date.today().year - MIN_AGE:
        raise ValueError(f"participants are at least {MIN_AGE} years old")
    return year


MIN_AGE = 14
BirthYear = Annotated[int, Field(ge=1900), AfterValidator(_old_enough)]


class ParticipantIn(_Strict):
    role: Role
    name: ShortText
    email: EmailStr
    birth_year: BirthYear
    department: ShortText
    site: ShortText
    languages: Languages
    themes: Themes
    manager_email: EmailStr | None = None
    availability: Availability = Field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        """The stored shape: personal data kept apart from the rest."""
        data = self.model_dump(mode="json")
        personal = {k: data.pop(k) for k in ("name", "email", "birth_year", "manager_email")}
        return {**data, "personal_data": personal}


class ParticipantPatch(_Strict):
    """Only the fields given change. The role cannot change: withdraw and enrol anew."""

    name: ShortText | None = None
    email: EmailStr | None = None
    birth_year: BirthYear | None = None
    department: ShortText | None = None
    site: ShortText | None = None
    languages: Languages | None = None
    themes: Themes | None = None
    manager_email: EmailStr | None = None
    availability: Availability | None = None

    @field_validator("name", "email", "birth_year", "department", "site", "languages", "themes", "availability")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class WithdrawalIn(_Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class Enrolled(BaseModel):
    id: UUID


class Imported(BaseModel):
    imported: int


class ProfileUpdated(BaseModel):
    changed: list[str]


class ParticipantOut(BaseModel):
    id: UUID
    subsidiary_id: str
    role: Role
    status: ParticipantStatus
    name: str | None = Field(description="Null once the participant's personal data is erased (so are email, birth_year, manager_email)")
    email: str | None
    birth_year: int | None
    manager_email: str | None
    department: str
    site: str
    languages: list[str]
    themes: list[str]
    availability: list[str]
    enrolled_at: datetime
    certified_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    personal_data_erased: bool = Field(description="The participant's personal data is erased, everywhere (right to erasure)")
    version: int


class RowError(BaseModel):
    row: int = Field(description="Line in the file; the header is row 1")
    column: str
    message: str
