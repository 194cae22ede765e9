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
    "unknown_theme": N_("“%(theme)s” is not one of the programme's themes: choose among %(themes)s."),
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
    # Publishing a run, declining a match (the console puts names in place of the ids).
    "run_already_published": N_("This run is already published."),
    "pool_changed": N_("The pool changed since this run: publishing it would break the rules below. Start a new run."),
    "mentor_no_longer_available": N_("The mentor %(mentor)s is no longer available (withdrawn, or no longer certified)."),
    "mentee_no_longer_waiting": N_("The mentee %(mentee)s is no longer waiting (withdrawn, or matched meanwhile)."),
    "pair_declined_meanwhile": N_("%(mentor)s and %(mentee)s were declined or matched meanwhile."),
    "pair_no_shared_language": N_("%(mentor)s and %(mentee)s no longer share a language."),
    "pair_too_close_in_age": N_("%(mentor)s is not younger than %(mentee)s by at least %(min_age_gap)s years."),
    "pair_mentor_manages_mentee": N_("%(mentor)s is the manager of %(mentee)s."),
    "pair_mentee_manages_mentor": N_("%(mentee)s is the manager of %(mentor)s."),
    "pair_declined_before": N_("%(mentor)s and %(mentee)s were declined or matched before."),
    "mentor_capacity_exceeded": N_("The mentor %(mentor)s has room for %(capacity_left)s more matches, not %(proposed)s."),
    "not_a_match_member": N_("Whoever declines must be a member of this match, or the programme's admin."),
    "match_already_declined": N_("This match is already declined."),
    "match_already_ended": N_("This match has already ended."),
    "match_already_completed": N_("This match is already completed."),
    # Why a run left someone unmatched.
    "no_mentor_available": N_("No mentor is available."),
    "allowed_mentors_full": N_("Every mentor who may be matched with them is full (%(allowed)s)."),
    "no_mentor_shares_language": N_("No mentor speaks one of their languages."),
    "every_mentor_too_close_in_age": N_("Every mentor is too close in age (mentors must be at least %(min_age_gap)s years younger)."),
    "every_mentor_manager_or_managed": N_("Every mentor is their manager or managed by them."),
    "every_mentor_declined_before": N_("Every mentor was declined or matched with them before."),
    "no_mentor_allowed": N_(
        "No mentor may be matched with them. Of %(mentors)s mentors: %(no_language)s share no language with them, "
        "%(too_close_in_age)s are too close in age, %(manager)s are their manager or managed by them, %(declined)s were declined or matched before."
    ),
    "ranked_no_programme_theme": N_("They ranked none of the programme's themes."),
    "no_mentor_with_capacity": N_("No mentor has room left in this run."),
    "no_group_on_ranked_theme": N_("No group is on a theme they ranked."),
    "groups_in_another_language": N_("The groups on a theme they ranked are in a language they do not speak."),
    "suitable_groups_full": N_("Every group that suits them is full."),
    "mentor_full": N_("No room left: they lead as many matches as the programme allows."),
    "no_mentee_for_mentor": N_("No waiting mentee is left who may be matched with them."),
    # -- sessions ---------------------------------------------------------------------------
    # (a router puts the participant's name in %(name)s and each moment in the subsidiary's time zone)
    "session_not_scheduled": N_("The session cannot be scheduled."),
    "session_not_recorded": N_("The session cannot be recorded."),
    "session_not_moved": N_("The session cannot be moved there."),
    "relationship_closed": N_("The relationship is closed: no session can be booked or recorded."),
    "relationship_already_ended": N_("The relationship has already ended."),
    "group_too_large": N_(
        "The group has %(mentees)s mentees; the programme allows at most %(mini_session_max)s mentees in a mini-session (the mentor not counted)."
    ),
    # unknown_theme: enrolment's sentence above serves both services (same code, same params).
    "participant_already_booked": N_("%(name)s is already booked in another session from %(starts_at)s to %(ends_at)s."),
    "in_the_past": N_("This start has passed (%(starts_at)s): choose a time to come, or tick “It already took place”."),
    "in_the_past@starts_at": N_("This start has passed (%(starts_at)s): choose a time to come."),
    "before_the_match": N_("The session would start (%(starts_at)s) before the relationship's match (%(matched_at)s)."),
    "held_in_the_future": N_("A session that already took place has started: this start is still to come (%(starts_at)s)."),
    "attendance_missing": N_("Say whether %(name)s was present."),
    "attendance_required": N_("Tick who was present."),
    "attendance_without_held": N_("Who was present is said for a session that already took place only."),
    "not_a_session_member": N_("%(name)s is not a member of this session."),
    "not_a_relationship_member": N_("%(name)s is not a member of this relationship."),
    "place_required": N_("Give a place, a video link, or both."),
    "video_link_not_https": N_("Type a video link starting with https://."),
    "relationship_or_group": N_("Give a pair or a group, one of them."),
    "session_cancelled": N_("The session is cancelled."),
    "session_already_held": N_("The session is already marked as held."),
    "session_no_show": N_("The mentor, or every mentee, is recorded as absent: cancel the session as a no-show instead."),
    "session_no_show@mark_held": N_(
        "The session cannot be marked as held: the mentor, or every mentee, is recorded as absent. Cancel it as a no-show instead."
    ),
    "session_not_started": N_("The session has not started yet (it starts on %(starts_at)s)."),
    "session_not_started@record_attendance": N_("Attendance can be recorded once the session has started (on %(starts_at)s)."),
    "session_not_started@give_feedback": N_("Feedback can be given once the session has started (on %(starts_at)s)."),
    "session_not_started@mark_held": N_("The session can be marked as held once it has started (on %(starts_at)s)."),
    "feedback_complete": N_("Every member present has given their feedback."),
    "feedback_already_given": N_("%(name)s has already given feedback on this session."),
    "participant_absent": N_("%(name)s is recorded as absent from this session: no feedback from them."),
}


def explain(problem: ServiceProblem | str, language: Language) -> str:
    """The problem as a sentence in the page's language (a console message translated)."""
    if not isinstance(problem, ServiceProblem):
        # Plain text, escaped when shown: an exception's text may hold what someone typed.
        return str(language.gettext(problem))
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
