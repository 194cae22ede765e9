"""What a service's problem says, in the page's language: each stable code (a problem's
`type`, services/common/errors.py) has a sentence here, its parameters (`ctx`) filled in.
A code the console does not know yet shows the service's own English sentence.

A sentence can be given for one field only, as "code@field" (the subsidiary's identifier
says what an identifier looks like); it is looked up before the code alone.
"""

from collections.abc import Callable, Mapping
from typing import Any

from services.console.gateway import ServiceProblem
from services.console.i18n import N_, Language

MESSAGES: dict[str, str] = {
    # -- pydantic's own codes, for any field ---------------------------------------------
    "missing": N_("Fill this in."),
    "string_type": N_("Type some text."),
    "string_too_short": N_("Type at least %(min_length)s characters."),
    "string_too_long": N_("Type at most %(max_length)s characters."),
    "string_pattern_mismatch": N_("This is not in the expected form."),
    "int_parsing": N_("Type a whole number."),
    "int_type": N_("Type a whole number."),
    "int_from_float": N_("Type a whole number."),
    "float_parsing": N_("Type a number."),
    "greater_than_equal": N_("Type a number of at least %(ge)s."),
    "greater_than": N_("Type a number greater than %(gt)s."),
    "less_than_equal": N_("Type a number of at most %(le)s."),
    "less_than": N_("Type a number smaller than %(lt)s."),
    "literal_error": N_("Choose one of: %(expected)s."),
    "enum": N_("Choose one of: %(expected)s."),
    "too_short": N_("Give at least %(min_length)s."),
    "too_long": N_("Give at most %(max_length)s."),
    "list_type": N_("Give a list."),
    "bool_parsing": N_("Answer yes or no."),
    "datetime_parsing": N_("Type a date and time."),
    "datetime_from_date_parsing": N_("Type a date and time."),
    "timezone_aware": N_("Give the time with its time zone."),
    "date_parsing": N_("Type a date."),
    "uuid_parsing": N_("This is not a valid identifier."),
    "url_parsing": N_("Type a web address."),
    "url_scheme": N_("Type a web address starting with https://."),
    "extra_forbidden": N_("The console does not send this field."),
    "json_invalid": N_("The request could not be read."),
    # -- every service ----------------------------------------------------------------------
    "changed_meanwhile": N_("Someone else changed these records at the same moment; nothing was recorded: try again."),
    # -- enrolment --------------------------------------------------------------------------
    # ("code+suggestion": the same problem when the service, or the form, suggests the fix.)
    "invalid_subsidiary_id": N_("Type lower-case letters, digits and dashes only (no spaces or accents), e.g. %(suggestion)s."),
    "already_onboarded": N_("A subsidiary with the identifier %(subsidiary_id)s is already onboarded: choose another identifier."),
    "unknown_timezone": N_("Type a time zone by its IANA name, e.g. Europe/Paris (the list offers them as you type)."),
    "unknown_timezone+suggestion": N_("This is not an IANA time zone: type %(suggestion)s if that is the one meant."),
    "unknown_locale": N_("Type a language code, optionally a dash and a country code, e.g. fr-FR or en-GB."),
    "unknown_locale+suggestion": N_("This is not a known locale: type %(suggestion)s if that is the one meant."),
    "unknown_language": N_("Unknown language codes: %(codes)s. Type two-letter ISO 639-1 codes, e.g. fr, en."),
    "unknown_language+suggestion": N_("Unknown language codes: %(codes)s. Type two-letter ISO 639-1 codes: %(suggestion)s."),
    "invalid_email": N_("Type an email address, e.g. name@example.com."),
    "too_young": N_("Participants are at least %(min_age)s years old: type a year of birth of %(latest)s or before."),
    "null_not_allowed": N_("Fill this in."),
    "theme_too_short": N_("Each theme has at least %(min_length)s characters."),
    "duplicate_programme_theme": N_("Each theme appears once; given more than once: %(themes)s."),
    "unknown_theme": N_("%(theme)s is not one of the programme's themes: choose among %(themes)s."),
    "duplicate_theme": N_("%(theme)s is chosen twice: choose each theme once."),
    "duplicate_email": N_("This email appears more than once: each participant has their own."),
    "already_enrolled": N_("This email is already enrolled in the subsidiary: a participant enrols once."),
    "not_a_mentor": N_("Only mentors are certified: this participant is a mentee."),
    "participant_withdrawn": N_("This participant has withdrawn from the programme: nothing about them can change."),
    "already_withdrawn": N_("This participant has already withdrawn."),
    # the CSV import's own problems (the column is shown beside them)
    "not_utf8": N_("The file is not UTF-8 text (byte %(byte)s): save it as \"CSV UTF-8\" and import it again."),
    "empty_file": N_("The file is empty: its first row names the columns."),
    "no_participants": N_("The file has a header row but no participants."),
    "wrong_cell_count": N_("This row has %(found)s cells where the header has %(expected)s."),
    "formula_cell": N_("This cell starts with %(character)s: a spreadsheet would run it as a formula. Remove that character."),
    "missing_column": N_("This column is missing from the header row."),
    "unknown_column": N_("Unknown column: the columns are %(columns)s."),
    "duplicate_column": N_("This column appears twice in the header row."),
    "malformed_csv": N_("The file is not valid CSV here (a quote left open?)."),
    # -- matching ---------------------------------------------------------------------------
    # -- sessions ---------------------------------------------------------------------------
}


def explain(problem: ServiceProblem | str, language: Language) -> str:
    """The problem as a sentence in the page's language (a console message translated)."""
    if not isinstance(problem, ServiceProblem):
        return language.gettext(problem)
    for key in (f"{problem.type}@{problem.field_name}", str(problem.type)):
        template = MESSAGES.get(key)
        if template is not None:
            try:
                return language.gettext(template, **_values(problem.ctx, language.number))
            except (KeyError, TypeError, ValueError):  # a parameter missing or of another kind
                break
    return problem.msg.removeprefix("Value error, ")


def _values(ctx: Mapping[str, Any], number: Callable[[Any], str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in ctx.items():
        if isinstance(value, bool) or value is None:
            values[key] = str(value)
        elif isinstance(value, int | float):
            values[key] = number(value)
        elif isinstance(value, list | tuple):
            values[key] = ", ".join(str(v) for v in value)
        else:
            values[key] = str(value)
    return values
