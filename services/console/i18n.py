"""English and French: the console's messages (gettext catalogues read with Babel), and
numbers and dates written the way each language writes them.

The French catalogue is `translations/fr/LC_MESSAGES/messages.po`, kept in step with the
templates by `make translations` (pybabel extract and update). It is compiled in memory at
start-up, so no build output is kept in the repository.
"""

import re
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from markupsafe import Markup

LANGUAGES = {"en": "English", "fr": "Français"}


def N_(message: str) -> str:
    """Marks a message for extraction (make translations); it is translated when shown."""
    return message


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a message said of one kind of thing (pybabel extracts pgettext with its context)."""
    return context, message


# A status is said of a noun, and in French the word agrees with it: a relationship (une
# relation) is "active", a match (un binôme) "actif". Each status's message carries its noun
# as its gettext context.
STATUSES = {
    "participant": dict(
        enrolled=pgettext("participant", "enrolled"), certified=pgettext("participant", "certified"), withdrawn=pgettext("participant", "withdrawn")
    ),
    "match": dict(
        active=pgettext("match", "active"), declined=pgettext("match", "declined"),
        ended=pgettext("match", "ended"), completed=pgettext("match", "completed"),
    ),
    "run": dict(draft=pgettext("run", "draft"), published=pgettext("run", "published")),
    "relationship": dict(active=pgettext("relationship", "active"), completed=pgettext("relationship", "completed"), closed=pgettext("relationship", "closed")),
    "session": dict(scheduled=pgettext("session", "scheduled"), held=pgettext("session", "held"), cancelled=pgettext("session", "cancelled")),
}
# "All", the first choice of a list's status filter, agrees with the noun too (tous, toutes).
EVERY = {
    "participant": pgettext("participant", "All"), "match": pgettext("match", "All"), "run": pgettext("run", "All"),
    "relationship": pgettext("relationship", "All"), "session": pgettext("session", "All"),
}
# The noun a status is said of when only one has it ("active" and "completed" need the page's).
NOUN_OF = {status: noun for noun, names in STATUSES.items() for status in names if sum(status in n for n in STATUSES.values()) == 1}
# The default programme's themes (services/enrolment/domain.py): shown in the page's language.
# A subsidiary's own themes are its words, shown as it wrote them.
THEMES = {
    marked[1]: marked
    for marked in (
        pgettext("theme", "information search"), pgettext("theme", "networking"),
        pgettext("theme", "managing one's data on social networks"), pgettext("theme", "online learning"),
    )
}

DEFAULT_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"


@cache
def translations(language: str) -> NullTranslations:
    """English is the source language; French comes from its catalogue."""
    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The language the user chose (cookie), else the browser's preference, else English."""
    if chosen in LANGUAGES:
        return chosen
    preferred = [part.split(";")[0].strip().replace("-", "_") for part in (accept_language or "").split(",") if part.strip()]
    found = Locale.negotiate(preferred, list(LANGUAGES))
    return found.language if found else DEFAULT_LANGUAGE


def region(language: str, accept_language: str | None) -> str:
    """The locale dates are written in: the page's language as the browser's region writes it
    (en-GB: 2 Dec 2026, 14:00; en-US: Dec 2, 2026, 2:00 PM), else the language's own."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        try:
            locale = Locale.parse(tag) if tag else None
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        if locale is not None and locale.language == language and locale.territory:
            return str(locale)
    return language


class Language:
    """What a template needs to speak one language: gettext in Jinja's new style (the
    message is translated, then its %(name)s placeholders filled in, escaped), numbers, dates
    (in `formats`, the browser's region for this language when it says one)."""

    def __init__(self, code: str, formats: str | None = None) -> None:
        self.code = code if code in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = Locale.parse(self.code)
        try:
            formats_locale = Locale.parse(formats) if formats else self.locale
        except (UnknownLocaleError, ValueError, TypeError):
            formats_locale = self.locale
        self.formats = formats_locale if formats_locale.language == self.code else self.locale
        self._translations = translations(self.code)

    def gettext(self, message: str, **values: Any) -> str:
        text = Markup(self._translations.gettext(message))
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = Markup(self._translations.ngettext(singular, plural, count))
        return text % {"num": self.number(count), **values}

    def pgettext(self, context: str, message: str, **values: Any) -> str:
        text = Markup(self._translations.pgettext(context, message))
        return text % values if values else text

    def status(self, status: str, noun: str | None = None) -> str:
        """A status in words, agreeing with the noun it is said of (participant, match, run,
        relationship, session); without one, the only noun that has it, else as given."""
        noun = noun or NOUN_OF.get(status)
        marked = STATUSES.get(noun or "", {}).get(status)
        return self.pgettext(*marked) if marked else status

    def every(self, noun: str | None) -> str:
        """The first choice of a filter: "All", agreeing with the noun listed."""
        return self.pgettext(*EVERY[noun]) if noun in EVERY else self.gettext("All")

    def theme(self, name: str | None) -> str | None:
        """One of the default programme's themes in this language; any other as written."""
        if not name:
            return name
        return self.pgettext(*THEMES[name]) if name in THEMES else name

    def number(self, value: float | int | None) -> str:
        return "–" if value is None else format_decimal(value, locale=self.locale)

    def decimal(self, value: float | int | None, places: int = 1) -> str:
        """A number with a fixed count of decimals (4.0, 4.2: side by side, one precision)."""
        return "–" if value is None else format_decimal(value, "#,##0." + "0" * places, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.locale)

    def moment(self, value: str | datetime | None, timezone: str | None = None) -> str:
        """A date and time to the minute, in the subsidiary's time zone when known (else as
        given), written as the browser's region writes them: CLDR skeletons, the locale's own
        order of day, month and year and its 12- or 24-hour clock."""
        if value is None:
            return "–"
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        zone = ZoneInfo(timezone) if timezone else moment.tzinfo
        locale = self.formats
        day = format_skeleton("yMMMd", moment, tzinfo=zone, locale=locale)
        time = format_skeleton(_hour_cycle(locale) + "m", moment, tzinfo=zone, locale=locale)
        return str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", time)


def _hour_cycle(locale: Locale) -> str:
    """The skeleton's "j" (the locale's preferred hour), which Babel does not resolve: h for a
    12-hour clock, H for 24 hours, as the locale's short time format has it (quoted text aside)."""
    pattern = re.sub(r"'[^']*'", "", locale.time_formats["short"].pattern)
    return "h" if "h" in pattern or "K" in pattern else "H"
