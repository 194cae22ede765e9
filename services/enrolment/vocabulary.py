"""The standard lists enrolment checks what people type against (IANA time zones, ISO 639-1
languages, ISO 3166 countries), and the nearest right value when one is mistyped.

Each check returns the problem (a PydanticCustomError: a stable code and its parameters) or
None, so the API's validators raise it and the console can offer the suggestion.
"""

import difflib
import re
from functools import cache
from zoneinfo import available_timezones

import pycountry
from pydantic_core import PydanticCustomError


def problem(code: str, message: str, **params: object) -> PydanticCustomError:
    """The problem with its English sentence written out (pydantic would fill `{param}`s, but
    writes a list as Python does and a string without quotes)."""
    # A brace typed by someone must not read as a placeholder.
    return PydanticCustomError(code, message.replace("{", "(").replace("}", ")"), params)


def listed(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)

LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"
_LOCALE = re.compile(LOCALE_PATTERN)


@cache
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _zones_by_key() -> dict[str, str]:
    """Case-folded name, and case-folded city (Paris, New York), to the zone's name."""
    found: dict[str, str] = {}
    for zone in sorted(timezones(), key=lambda z: ("/" not in z, z.startswith(("Etc/", "SystemV/")), z)):
        found.setdefault(zone.casefold(), zone)
        found.setdefault(zone.rsplit("/", 1)[-1].casefold(), zone)
    return found


def nearest_timezone(typed: str) -> str | None:
    """The IANA zone meant by a mistyped one: the same name in another case, the zone of a
    city named alone ("paris"), or the closest name (Europe/Pari: Europe/Paris)."""
    key = "_".join(typed.strip().split()).casefold()
    if not key:
        return None
    by_key = _zones_by_key()
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.75)
    return by_key[close[0]] if close else None


def timezone_problem(value: str) -> PydanticCustomError | None:
    if value in timezones():
        return None
    suggestion = nearest_timezone(value)
    return problem(
        "unknown_timezone",
        f"unknown IANA time zone {value!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ", e.g. 'Europe/Paris'"),
        timezone=value,
        suggestion=suggestion,
    )


def _language(code: str) -> bool:
    return len(code) in (2, 3) and code.isascii() and pycountry.languages.get(**{f"alpha_{len(code)}": code}) is not None


def _country(code: str) -> bool:
    return len(code) == 2 and code.isascii() and pycountry.countries.get(alpha_2=code) is not None


def locale_problem(value: str) -> PydanticCustomError | None:
    """A BCP 47 locale as the services use it: an ISO 639 language, optionally a dash and an
    ISO 3166 country (fr, fr-FR). The suggestion mends case and separator (fr_fr: fr-FR)."""
    language, _, country = value.strip().replace("_", "-").partition("-")
    mended = language.lower() + (f"-{country.upper()}" if country else "")
    if _LOCALE.match(value) and _language(language) and (not country or _country(country)):
        return None
    known = bool(_LOCALE.match(mended)) and _language(language.lower()) and (not country or _country(country.upper()))
    suggestion = mended if known else None
    return problem(
        "unknown_locale",
        f"unknown locale {value!r}: a language, optionally a dash and a country, e.g. 'fr-FR'" + (f"; did you mean {suggestion!r}?" if suggestion else ""),
        locale=value,
        suggestion=suggestion,
    )


def iso_639_1(code: str) -> str | None:
    """The ISO 639-1 code of a language given by another code or its English name (fra, French: fr)."""
    try:
        language = pycountry.languages.lookup(code)
    except LookupError:
        return None
    return getattr(language, "alpha_2", None)


def language_problems(codes: list[str]) -> PydanticCustomError | None:
    """Every code that is not ISO 639-1, in one problem; when each of them names a language
    that has one, the list as it should be written is suggested."""
    unknown = [code for code in dict.fromkeys(codes) if not (len(code) == 2 and _language(code))]
    if not unknown:
        return None
    mended = [code if code not in unknown else iso_639_1(code) for code in codes]
    suggestion = list(dict.fromkeys(m for m in mended if m)) if all(mended) else None
    return problem(
        "unknown_language",
        f"not ISO 639-1 language codes: {listed(unknown)}" + (f"; did you mean {listed(suggestion)}?" if suggestion else ""),
        codes=unknown,
        suggestion=suggestion,
    )
