"""Request and response bodies of enrolment's API.

Every rule a validator here checks fails with a stable code and its parameters
(PydanticCustomError), and where the fix is obvious the parameters suggest it: the console
translates by code, and programs can offer the suggestion.
"""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from contracts.enrolment import ProgrammeSettings
from contracts.types import ParticipantStatus, Role, ShortText, Slot, SubsidiaryId, ThemeName, slug_of
from services.enrolment.domain import DEFAULT_PROGRAMME
from services.enrolment.vocabulary import LOCALE_PATTERN, language_problems, listed, locale_problem, problem, timezone_problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class SubsidiaryIn(_Strict):
    id: SubsidiaryId
    name: ShortText
    timezone: str = Field(examples=["Europe/Paris"], description="IANA time zone")
    locale: str = Field(examples=["fr-FR"], description="BCP 47 locale: an ISO 639 language, optionally a dash and an ISO 3166 country", json_schema_extra={"pattern": LOCALE_PATTERN})

    @field_validator("id", mode="wrap")
    @classmethod
    def slug(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> str:
        try:
            return str(handler(value))
        except ValidationError as exc:
            if not isinstance(value, str) or all(e["type"] != "string_pattern_mismatch" for e in exc.errors()):
                raise
            # Not a slug: say what one looks like, with the slug of what was typed.
            suggestion = slug_of(value)
            raise problem(
                "invalid_subsidiary_id",
                "use lower-case letters, digits and single dashes between them" + (f", e.g. {suggestion!r}" if suggestion else ""),
                suggestion=suggestion,
            ) from None

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        found = timezone_problem(value)
        if found is not None:
            raise found
        return value

    @field_validator("locale")
    @classmethod
    def known_locale(cls, value: str) -> str:
        found = locale_problem(value)
        if found is not None:
            raise found
        return value


class ProgrammeIn(_Strict, ProgrammeSettings):
    """The programme's settings; any field left out takes its default."""

    themes: list[ThemeName] = Field(default_factory=lambda: list(DEFAULT_PROGRAMME["themes"]), min_length=1, max_length=30)
    mentor_capacity: int = Field(DEFAULT_PROGRAMME["mentor_capacity"], ge=1, le=50)
    mini_session_max: int = Field(
        DEFAULT_PROGRAMME["mini_session_max"], ge=2, le=10, description="Most mentees in a mini-session, the mentor not included"
    )
    target_sessions: int = Field(DEFAULT_PROGRAMME["target_sessions"], ge=1, le=50)
    session_minutes: int = Field(DEFAULT_PROGRAMME["session_minutes"], ge=15, le=480)
    min_age_gap: int | None = Field(DEFAULT_PROGRAMME["min_age_gap"], ge=0, le=60, description="null turns the rule off")

    @field_validator("themes")
    @classmethod
    def distinct_themes(cls, themes: list[str]) -> list[str]:
        themes = [" ".join(t.split()) for t in themes]
        # Python's idea of whitespace is wider than pydantic's strip: check the length again.
        if any(len(t) < 2 for t in themes):
            raise PydanticCustomError("theme_too_short", "a theme has at least {min_length} characters besides spaces", {"min_length": 2})
        seen = [t.casefold() for t in themes]
        repeated = [t for i, t in enumerate(themes) if seen.index(t.casefold()) != i]
        if repeated:
            again = list(dict.fromkeys(repeated))
            raise problem("duplicate_programme_theme", f"each theme must appear once; given more than once: {listed(again)}", themes=again)
        return themes


class SubsidiaryOut(BaseModel):
    id: str
    name: str
    timezone: str
    locale: str
    programme: ProgrammeSettings | None
    onboarded_at: datetime


EMAILS_CHECKED = "emails_checked"


def _email(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> str:
    # A CSV file names the same managers on many rows: what email_validator (about 50 µs an
    # address) accepted once is taken as it gave it, within one file only (the validation's
    # context holds the dict: nothing personal outlives the request).
    checked = info.context.get(EMAILS_CHECKED) if isinstance(info.context, dict) else None
    if checked is not None and isinstance(value, str) and value in checked:
        return str(checked[value])
    try:
        email = str(handler(value))
    except ValidationError as exc:
        [error] = exc.errors(include_url=False)
        if error["type"] != "value_error":
            raise
        reason = str((error.get("ctx") or {}).get("reason", ""))
        raise problem("invalid_email", f"not a valid email address: {reason}", reason=reason) from None
    if checked is not None and isinstance(value, str):
        checked[value] = email
    return email


# pydantic's own check, its problem given a code of its own (pydantic's is "value_error").
Email = Annotated[EmailStr, WrapValidator(_email)]


def _known_languages(codes: list[str]) -> list[str]:
    found = language_problems(codes)
    if found is not None:
        raise found
    return list(dict.fromkeys(codes))


# Read without regard to case; every code is checked against ISO 639-1 and every unknown one
# listed in one problem (the events' contract keeps its older, looser rule: old events load).
LanguageInput = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40),
    Field(description="ISO 639-1 language code", examples=["fr"]),
]
Languages = Annotated[list[LanguageInput], Field(min_length=1, max_length=20), AfterValidator(_known_languages)]
Themes = Annotated[list[ThemeName], Field(min_length=1, max_length=30, description="Ranked: the first is the favourite")]
Availability = Annotated[list[Slot], Field(max_length=10, description="Weekly half-days, e.g. mon-am")]
def _old_enough(year: int) -> int:
    # Checked at each request, not at import: a long-running service crosses New Year.
    latest = date.today().year - MIN_AGE
    if year > latest:
        raise problem("too_young", f"participants are at least {MIN_AGE} years old (born in {latest} or before)", min_age=MIN_AGE, latest=latest)
    return year


MIN_AGE = 14
BirthYear = Annotated[int, Field(ge=1900), AfterValidator(_old_enough)]


class ParticipantIn(_Strict):
    role: Role
    name: ShortText
    email: Email
    birth_year: BirthYear
    department: ShortText
    site: ShortText
    languages: Languages
    themes: Themes
    manager_email: Email | None = None
    availability: Availability = Field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        """The stored shape: personal data kept apart from the rest."""
        data = self.model_dump(mode="json")
        personal = {k: data.pop(k) for k in ("name", "email", "birth_year", "manager_email")}
        return {**data, "personal_data": personal}


class ParticipantPatch(_Strict):
    """Only the fields given change. The role cannot change: withdraw and enrol anew."""

    name: ShortText | None = None
    email: Email | None = None
    birth_year: BirthYear | None = None
    department: ShortText | None = None
    site: ShortText | None = None
    languages: Languages | None = None
    themes: Themes | None = None
    manager_email: Email | None = None
    availability: Availability | None = None

    @field_validator("name", "email", "birth_year", "department", "site", "languages", "themes", "availability")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_not_allowed", "cannot be null: leave the field out to keep its value")
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
    message: str = Field(description="The English sentence")
    type: str = Field("value_error", description="The problem's stable code, e.g. unknown_language, missing_column")
    ctx: dict[str, Any] = Field(default_factory=dict, description="The code's parameters")
