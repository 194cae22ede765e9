"""English and French: the console's messages (gettext catalogues read with Babel), and
numbers and dates written the way each language writes them.

The French catalogue is `translations/fr/LC_MESSAGES/messages.po`, kept in step with the
templates by `make translations` (pybabel extract and update). It is compiled in memory at
start-up, so no build output is kept in the repository.
"""

from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from markupsafe import Markup

LANGUAGES = {"en": "English", "fr": "Français"}


def N_(message: str) -> str:
    """Marks a message for extraction (make translations); it is translated when shown."""
    return message


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


class Language:
    """What a template needs to speak one language: gettext in Jinja's new style (the
    message is translated, then its %(name)s placeholders filled in, escaped), numbers, dates."""

    def __init__(self, code: str) -> None:
        self.code = code if code in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = Locale.parse(self.code)
        self._translations = translations(self.code)

    def gettext(self, message: str, **values: Any) -> str:
        text = Markup(self._translations.gettext(message))
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = Markup(self._translations.ngettext(singular, plural, count))
        return text % {"num": self.number(count), **values}

    def number(self, value: float | int | None) -> str:
        return "–" if value is None else format_decimal(value, locale=self.locale)

    def decimal(self, value: float | int | None, places: int = 1) -> str:
        """A number with a fixed count of decimals (4.0, 4.2: side by side, one precision)."""
        return "–" if value is None else format_decimal(value, "#,##0." + "0" * places, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.locale)

    def moment(self, value: str | datetime | None, timezone: str | None = None) -> str:
        """A date and time in the subsidiary's time zone when known, else as given."""
        if value is None:
            return "–"
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        zone = ZoneInfo(timezone) if timezone else moment.tzinfo
        return format_datetime(moment, "medium", tzinfo=zone, locale=self.locale)
