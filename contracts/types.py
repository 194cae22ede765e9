"""Value types shared by every contract, with their validation rules."""

import re
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, WithJsonSchema

# A subsidiary's id is a slug: it appears in URLs, Kafka keys and headers.
SubsidiaryId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=2, max_length=63),
    Field(description="Subsidiary slug, e.g. 'axa-france'", examples=["axa-france"]),
]


def slug_of(text: str, max_length: int = 63) -> str | None:
    """A subsidiary id made of a name: AXA Belgium! gives axa-belgium (None when nothing is left)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = "-".join(re.findall(r"[a-z0-9]+", plain))[:max_length].strip("-")
    return slug if len(slug) >= 2 else None


# ISO 639-1 language code, lower case.
LanguageCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2}$"),
    Field(description="ISO 639-1 language code", examples=["fr"]),
]

ThemeName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=80),
    Field(description="A programme theme", examples=["networking"]),
]

# An email address inside an event. The services validate addresses fully (and normalise
# them) where people type them; on the wire a structural check is enough, and it keeps
# publishing and consuming cheap (full validation costs ~20 µs an address).
Email = Annotated[
    str,
    StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320),
    WithJsonSchema({"type": "string", "format": "email"}),
]

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"


class ParticipantStatus(StrEnum):
    ENROLLED = "enrolled"  # a mentee ready to be matched, or a mentor still in training
    CERTIFIED = "certified"  # a mentor who finished the pedagogy training
    WITHDRAWN = "withdrawn"


class Slot(StrEnum):
    """A weekly half-day a participant is available for sessions."""

    MON_AM = "mon-am"
    MON_PM = "mon-pm"
    TUE_AM = "tue-am"
    TUE_PM = "tue-pm"
    WED_AM = "wed-am"
    WED_PM = "wed-pm"
    THU_AM = "thu-am"
    THU_PM = "thu-pm"
    FRI_AM = "fri-am"
    FRI_PM = "fri-pm"
