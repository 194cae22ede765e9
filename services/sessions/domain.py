"""Sessions' domain model. No I/O; the clock is an argument (`now`).

- `Roster`: what sessions knows of one subsidiary from enrolment's events (its time zone,
  the programme, participants' names and roles), each source event applied at most once.
- `Relationship`: what a confirmed match becomes, a pair or a mini-session group, with its
  sessions. The rules that span sessions (completion after the target number held) live
  here, so it is the consistency boundary for its sessions.
- `Agenda`: one participant's booked time. Scheduling saves the relationship and the agenda
  of every member in one transaction, so two sessions booked at once for the same person
  in different relationships conflict in the event store instead of overlapping.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from contracts.enrolment import canonical_theme
from services.common.context import Aggregate
from services.common.errors import Reason

NAMESPACE = UUID("b1f4c2d0-6a2e-4e0b-9a57-2f61d7c9e3a8")



class RelationshipStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"  # its target of sessions held
    CLOSED = "closed"  # ended early


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


# (Stored as their plain values.)
ACTIVE, COMPLETED, CLOSED = RelationshipStatus
SCHEDULED, HELD, CANCELLED = SessionStatus
MENTOR, MENTEE = "mentor", "mentee"
STALLED_AFTER = timedelta(days=21)  # a relationship with no session booked this long after its match


class SessionsError(Exception):
    """A command the domain refuses: its `reason` (a stable code, its parameters, the English
    sentence) and, when several things are wrong at once, every one of them (`problems`)."""

    def __init__(self, reason: Reason, problems: list[Reason] | None = None) -> None:
        super().__init__(reason.message)
        self.reason = reason
        self.problems = problems


# -- why not: every refusal of the sessions side, with its code and parameters ---------------
# Params carry ids, numbers and instants (ISO 8601), never a person's name or free text.


def relationship_closed() -> Reason:
    return Reason("relationship_closed", "the relationship is closed")


def relationship_ended(status: str) -> Reason:
    return Reason("relationship_already_ended", f"the relationship is already {status}", {"status": status})


def group_too_large(mentees: int, limit: int) -> Reason:
    return Reason(
        "group_too_large",
        f"the group has {mentees} mentees; the programme allows at most {limit} mentees in a mini-session (the mentor not counted)",
        {"mentees": mentees, "mini_session_max": limit},
    )


def unknown_theme(theme: str, themes: list[str]) -> Reason:
    return Reason(
        "unknown_theme", f"theme {theme!r} is not one of the programme's themes: {', '.join(themes)}", {"theme": theme, "themes": list(themes)}
    )


def already_booked(participant_id: str, session_id: str, starts_at: datetime, ends_at: datetime) -> Reason:
    return Reason(
        "participant_already_booked",
        f"participant {participant_id} is already booked in session {session_id} from {starts_at.isoformat()} to {ends_at.isoformat()}",
        {"participant_id": participant_id, "session_id": session_id, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
    )


def in_the_past(starts_at: datetime) -> Reason:
    return Reason("in_the_past", f"the session would start in the past ({starts_at.isoformat()})", {"starts_at": starts_at.isoformat()})


def start_problems(starts_at: datetime, now: datetime, *, held: bool = False) -> list[Reason]:
    """When a session may start: still to come when it is booked or moved; already started
    when it is recorded as held. The one place this is decided (the API lists it with a
    body's other problems: sessions' router)."""
    if held:
        return [held_in_the_future(starts_at)] if starts_at > now else []
    return [in_the_past(starts_at)] if starts_at <= now else []


def before_the_match(starts_at: datetime, matched_at: datetime) -> Reason:
    return Reason(
        "before_the_match",
        f"the session would start ({starts_at.isoformat()}) before the relationship's match ({matched_at.isoformat()})",
        {"starts_at": starts_at.isoformat(), "matched_at": matched_at.isoformat()},
    )


def held_in_the_future(starts_at: datetime) -> Reason:
    return Reason(
        "held_in_the_future",
        f"a session recorded as held must have started already; this one starts at {starts_at.isoformat()}",
        {"starts_at": starts_at.isoformat()},
    )


def attendance_missing(participant_id: str) -> Reason:
    return Reason(
        "attendance_missing", f"say whether participant {participant_id} was present", {"participant_id": participant_id}
    )


def not_a_member(participant_id: str) -> Reason:
    return Reason("not_a_session_member", f"participant {participant_id} is not a member of this session", {"participant_id": participant_id})


def not_a_relationship_member(participant_id: str) -> Reason:
    return Reason(
        "not_a_relationship_member", f"participant {participant_id} is not a member of this relationship", {"participant_id": participant_id}
    )


SESSION_CANCELLED = Reason("session_cancelled", "the session is cancelled")
SESSION_HELD = Reason("session_already_held", "the session is already held")
NO_SHOW = Reason(
    "session_no_show", "the mentor or every mentee is recorded as absent: cancel the session as a no-show instead"
)
FEEDBACK_COMPLETE = Reason("feedback_complete", "every member not recorded as absent has given feedback")


def not_started(starts_at: datetime) -> Reason:
    return Reason(
        "session_not_started", f"the session has not started yet (it starts at {starts_at.isoformat()})", {"starts_at": starts_at.isoformat()}
    )


def feedback_already_given(participant_id: str) -> Reason:
    return Reason(
        "feedback_already_given", f"participant {participant_id} already gave feedback on this session", {"participant_id": participant_id}
    )


def recorded_absent(participant_id: str) -> Reason:
    return Reason(
        "participant_absent", f"participant {participant_id} is recorded as absent from this session", {"participant_id": participant_id}
    )


# -- what a session allows now: the one rule the commands and the API's view both follow -------

SESSION_ACTIONS = ("record_attendance", "give_feedback", "mark_held", "move", "cancel")


def session_refusals(session: Mapping[str, Any], mentor_id: str, now: datetime) -> dict[str, Reason | None]:
    """For each of a session's actions, why it is not possible now (None: it is).
    `session` holds its status, starts_at, participant_ids, attendance {id: present} and
    feedback {id: ...}, as the aggregate and the read model both keep them."""
    status = session["status"]
    started = SESSION_CANCELLED if status == CANCELLED else not_started(session["starts_at"]) if session["starts_at"] > now else None
    # Moving and cancelling are for a session still to be held (once started, it may still move).
    changeable = SESSION_CANCELLED if status == CANCELLED else SESSION_HELD if status == HELD else None
    return {
        "record_attendance": started,
        "give_feedback": started or (None if feedback_due(session) else FEEDBACK_COMPLETE),
        "mark_held": (SESSION_HELD if status == HELD else None) or started or (NO_SHOW if _no_show(session, mentor_id) else None),
        "move": changeable,
        "cancel": changeable,
    }


def feedback_due(session: Mapping[str, Any]) -> list[str]:
    """The members who may still give feedback: those who have not, and are not recorded absent."""
    return [
        pid for pid in session["participant_ids"] if pid not in session["feedback"] and session["attendance"].get(pid) is not False
    ]


def feedback_refusal(session: Mapping[str, Any], participant_id: str, now: datetime) -> Reason | None:
    """Why this member cannot give feedback on the session now (None: they can)."""
    if session["status"] == CANCELLED:
        return SESSION_CANCELLED
    if session["starts_at"] > now:
        return not_started(session["starts_at"])
    if participant_id not in session["participant_ids"]:
        return not_a_member(participant_id)
    if participant_id in session["feedback"]:
        return feedback_already_given(participant_id)
    if session["attendance"].get(participant_id) is False:
        return recorded_absent(participant_id)
    return None


def _no_show(session: Mapping[str, Any], mentor_id: str) -> bool:
    """The mentor, or every mentee, is recorded absent: a no-show is no session held."""
    absent = {pid for pid, present in session["attendance"].items() if not present}
    mentees = set(session["participant_ids"]) - {mentor_id}
    return mentor_id in absent or (bool(mentees) and mentees <= absent)


def because(what: str, reason: str | None) -> str:
    """`what: reason`, or `what` alone once the reason is erased."""
    return f"{what}: {reason}" if reason else what


def text_goes_with(participant_id: str, mentor_id: str, mentee_ids: list[str], format: str, status: str) -> bool:  # noqa: A002
    """Whether the relationship's free text (places, reasons) goes when this participant is
    erased: they are its mentor, or one of its mentees, except in a group that goes on with
    other mentees (an erased mentee withdrew first: matching takes them off the group, and
    the group keeps its key and its places)."""
    if participant_id == mentor_id:
        return True
    if participant_id not in mentee_ids:
        return False
    return not (format == "mini-session" and len(mentee_ids) > 1 and status != CLOSED)


def roster_id(subsidiary_id: str) -> UUID:
    return uuid5(NAMESPACE, f"roster:{subsidiary_id}")


def relationship_id(match_id: str) -> UUID:
    """A match opens exactly one relationship, however often its event is delivered."""
    return uuid5(NAMESPACE, f"relationship:{match_id}")


def agenda_id(participant_id: str) -> UUID:
    return uuid5(NAMESPACE, f"agenda:{participant_id}")


class Roster(Aggregate):
    """What sessions' commands and consumer need to know of a subsidiary: its programme, and
    the matches waiting for it. What enrolment says of its participants (names, roles,
    certifications, withdrawals, erasures) is recorded here as it comes, in this stream and in
    order, for the view (view.py), which shows it; no command reads it, so the roster keeps
    none of it."""

    # The aggregates' events are declared, not left to @event to make from the methods'
    # signatures, so that mypy knows them (the library subclasses each; names, topics and
    # fields are unchanged).
    class Opened(Aggregate.Created):
        subsidiary_id: str

    class SubsidiaryNoted(Aggregate.Event):
        name: str
        timezone: str
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class ProgrammeNoted(Aggregate.Event):
        settings: dict[str, Any]
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class ParticipantNoted(Aggregate.Event):
        participant_id: str
        role: str
        name: str | None
        email: str | None
        as_of: str
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class ParticipantErased(Aggregate.Event):
        participant_id: str
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class MentorCertified(Aggregate.Event):
        participant_id: str
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class ParticipantWithdrawn(Aggregate.Event):
        participant_id: str
        reason: str | None
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class MatchWaiting(Aggregate.Event):
        match: dict[str, Any]
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class MatchesReleased(Aggregate.Event):
        match_ids: list[str]

    class MatchMemberLeftNoted(Aggregate.Event):
        match_id: str
        mentee_ids: list[str]
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    class MatchEndNoted(Aggregate.Event):
        match_id: str
        source_event_id: str | None  # only in streams stored before consumed events were tracked

    @staticmethod
    def create_id(subsidiary_id: str, **_: Any) -> UUID:
        return roster_id(subsidiary_id)

    @event(Opened)
    def __init__(self, subsidiary_id: str) -> None:
        self.subsidiary_id = subsidiary_id
        self.programme: dict[str, Any] | None = None
        # Matches confirmed before the programme was known (the topics are read
        # independently): opened as soon as it is.
        self.waiting_matches: dict[str, dict[str, Any]] = {}
        # Consumed events applied while their ids were kept here (an inbox that grew with
        # every event): the ids in streams stored then. They are now recorded with their
        # effects in the store (services/common/consuming.py); new events carry none.
        self.processed: dict[str, bool] = {}

    def has_processed(self, source_event_id: str) -> bool:
        return source_event_id in self.processed

    def _noted(self, source_event_id: str | None) -> None:
        if source_event_id is not None:
            self.processed[source_event_id] = True

    @event(SubsidiaryNoted)
    def note_subsidiary(self, name: str, timezone: str, source_event_id: str | None = None) -> None:
        self._noted(source_event_id)

    @event(ProgrammeNoted)
    def note_programme(self, settings: dict[str, Any], source_event_id: str | None = None) -> None:
        self.programme = settings
        self._noted(source_event_id)

    @event(ParticipantNoted)
    def note_participant(self, participant_id: str, role: str, name: str | None, email: str | None, as_of: str, source_event_id: str | None = None) -> None:
        """An enrolment or a profile update (the view keeps the newest)."""
        self._noted(source_event_id)

    @event(ParticipantErased)
    def note_erased(self, participant_id: str, source_event_id: str | None = None) -> None:
        """Their personal data is erased (the view shows none of it any more)."""
        self._noted(source_event_id)

    @event(MentorCertified)
    def note_certified(self, participant_id: str, source_event_id: str | None = None) -> None:
        self._noted(source_event_id)

    @event(ParticipantWithdrawn)
    def note_withdrawn(self, participant_id: str, reason: str | None, source_event_id: str | None = None) -> None:
        self._noted(source_event_id)

    @event(MatchWaiting)
    def hold_match(self, match: dict[str, Any], source_event_id: str | None = None) -> None:
        self.waiting_matches[match["match_id"]] = match
        self._noted(source_event_id)

    @event(MatchesReleased)
    def release_matches(self, match_ids: list[str]) -> None:
        for match_id in match_ids:
            self.waiting_matches.pop(match_id, None)

    @event(MatchMemberLeftNoted)
    def note_member_left(self, match_id: str, mentee_ids: list[str], source_event_id: str | None = None) -> None:
        """A mentee left a group: a match still waiting for the programme opens without them."""
        if match_id in self.waiting_matches:
            self.waiting_matches[match_id]["mentee_ids"] = list(mentee_ids)
        self._noted(source_event_id)

    @event(MatchEndNoted)
    def note_match_end(self, match_id: str, source_event_id: str | None = None) -> None:
        """A match that ended before its relationship could open never opens."""
        self.waiting_matches.pop(match_id, None)
        self._noted(source_event_id)

    # -- the programme's rules ------------------------------------------------------------

    @property
    def rules(self) -> "ProgrammeRules":
        return ProgrammeRules(self.programme or {})


@dataclass(frozen=True)
class ProgrammeRules:
    """What a programme's settings say about sessions."""

    settings: dict[str, Any]

    @property
    def themes(self) -> list[str]:
        return list(self.settings.get("themes", []))

    @property
    def mini_session_max(self) -> int:
        return int(self.settings.get("mini_session_max", 10))

    def canonical_theme(self, name: str) -> str | None:
        return canonical_theme(self.themes, name)


class Relationship(Aggregate):
    """A pair (one mentor, one mentee) or a mini-session group (one mentor, several mentees)."""

    class Opened(Aggregate.Created):
        subsidiary_id: str
        match_id: str
        format: str
        mentor_id: str
        mentee_ids: list[str]
        theme: str | None
        target_sessions: int
        session_minutes: int
        matched_at: datetime

    class SessionScheduled(Aggregate.Event):
        session_id: str
        theme: str
        starts_at: datetime
        duration_minutes: int
        location: str | None
        video_link: str | None
        participant_ids: list[str]
        format: str

    class SessionRescheduled(Aggregate.Event):
        session_id: str
        starts_at: datetime
        duration_minutes: int
        location: str | None
        video_link: str | None
        sequence: int

    class SessionCancelled(Aggregate.Event):
        session_id: str
        reason: str

    class AttendanceRecorded(Aggregate.Event):
        session_id: str
        participant_id: str
        present: bool

    class FeedbackGiven(Aggregate.Event):
        session_id: str
        participant_id: str
        role: str
        rating: int
        comment: str | None

    class SessionHeld(Aggregate.Event):
        session_id: str
        sessions_held: int
        format: str
        theme: str

    class Completed(Aggregate.Event):
        match_id: str
        sessions_held: int

    class NoteAdded(Aggregate.Event):
        author_id: str
        note: str
        written_at: datetime

    class MemberLeft(Aggregate.Event):
        participant_id: str
        reason: str | None  # erased with its author
        session_ids: list[str]

    class Closed(Aggregate.Event):
        match_id: str
        reason: str | None  # erased with a member
        sessions_held: int


    @staticmethod
    def create_id(match_id: str, **_: Any) -> UUID:
        return relationship_id(match_id)

    @event(Opened)
    def __init__(
        self,
        subsidiary_id: str,
        match_id: str,
        format: str,  # noqa: A002
        mentor_id: str,
        mentee_ids: list[str],
        theme: str | None,
        target_sessions: int,
        session_minutes: int,
        matched_at: datetime,
    ) -> None:
        self.subsidiary_id = subsidiary_id
        self.match_id = match_id
        self.format = format
        self.mentor_id = mentor_id
        self.mentee_ids = list(mentee_ids)
        self.theme = theme
        self.target_sessions = target_sessions
        self.session_minutes = session_minutes
        self.matched_at = matched_at
        self.status = ACTIVE
        self.reason: str | None = None
        self.sessions: dict[str, dict[str, Any]] = {}
        self.held = 0
        self.notes: list[dict[str, Any]] = []

    @property
    def members(self) -> list[str]:
        return [self.mentor_id, *self.mentee_ids]

    def role_of(self, participant_id: str) -> str | None:
        if participant_id == self.mentor_id:
            return MENTOR
        return MENTEE if participant_id in self.mentee_ids else None

    # -- sessions -------------------------------------------------------------------------

    def scheduling_problems(self, size_limit: int) -> list[Reason]:
        """Why no session can be booked now, beyond the theme, the time and the members'
        agendas (checked by the caller, who knows the programme and the clock). The size
        limit counts the mentees, the mentor not included."""
        problems = []
        if self.status == CLOSED:
            problems.append(relationship_closed())
        if self.format == "mini-session" and len(self.mentee_ids) > size_limit:
            problems.append(group_too_large(len(self.mentee_ids), size_limit))
        return problems

    def past_session_problems(self, starts_at: datetime, attendance: Mapping[str, bool], now: datetime) -> list[Reason]:
        """Why a session cannot be recorded as held after the fact: it must lie within the
        relationship's life (from its match, already started: a closed relationship takes no
        session at all), with every member's attendance, and not be a no-show."""
        problems = []
        if starts_at < self.matched_at:
            problems.append(before_the_match(starts_at, self.matched_at))
        problems += start_problems(starts_at, now, held=True)
        problems += [not_a_member(pid) for pid in attendance if pid not in self.members]
        problems += [attendance_missing(pid) for pid in self.members if pid not in attendance]
        if not problems and _no_show({"participant_ids": self.members, "attendance": attendance}, self.mentor_id):
            problems.append(NO_SHOW)
        return problems

    def schedule(
        self,
        session_id: str,
        theme: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        now: datetime,
    ) -> None:
        if self.status == CLOSED:
            raise SessionsError(relationship_closed())
        if problems := start_problems(starts_at, now):
            raise SessionsError(problems[0])
        self._book(session_id, theme, starts_at, duration_minutes, location, video_link)

    def _book(self, session_id: str, theme: str, starts_at: datetime, duration_minutes: int, location: str | None, video_link: str | None) -> None:
        self._scheduled(
            session_id=session_id,
            theme=theme,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            location=location,
            video_link=video_link,
            participant_ids=self.members,
            format=self.format,
        )

    def record_held_session(
        self,
        session_id: str,
        theme: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        attendance: Mapping[str, bool],
        now: datetime,
    ) -> None:
        """A session that already took place, heard of afterwards: scheduled, its attendance
        recorded and held, the same events a session followed live gives (so every figure
        and consumer counts it, and the target of sessions may complete the relationship)."""
        problems = ([relationship_closed()] if self.status == CLOSED else []) + self.past_session_problems(starts_at, attendance, now)
        if problems:
            raise SessionsError(problems[0], problems)
        self._book(session_id, theme, starts_at, duration_minutes, location, video_link)  # in the past: that is the point
        for participant_id in self.members:
            self.record_attendance(session_id, participant_id, attendance[participant_id], now)
        self.complete_session(session_id, now)

    @event(SessionScheduled)
    def _scheduled(
        self,
        session_id: str,
        theme: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        participant_ids: list[str],
        format: str,  # noqa: A002 - carried so that the published event is whole
    ) -> None:
        self.sessions[session_id] = {
            "id": session_id,
            "theme": theme,
            "starts_at": starts_at,
            "duration_minutes": duration_minutes,
            "location": location,
            "video_link": video_link,
            "participant_ids": list(participant_ids),
            "status": SCHEDULED,
            "sequence": 0,
            "reason": None,
            "attendance": {},
            "feedback": {},
        }

    def reschedule(
        self,
        session_id: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        now: datetime,
    ) -> None:
        session = self._allowed(session_id, "move", now)
        if problems := start_problems(starts_at, now):
            raise SessionsError(problems[0])
        self._rescheduled(
            session_id=session_id,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            location=location,
            video_link=video_link,
            sequence=session["sequence"] + 1,
        )

    @event(SessionRescheduled)
    def _rescheduled(
        self,
        session_id: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        sequence: int,
    ) -> None:
        self.sessions[session_id].update(
            starts_at=starts_at, duration_minutes=duration_minutes, location=location, video_link=video_link, sequence=sequence
        )

    def cancel(self, session_id: str, reason: str) -> None:
        self._allowed(session_id, "cancel", None)
        self._cancelled(session_id=session_id, reason=reason)

    @event(SessionCancelled)
    def _cancelled(self, session_id: str, reason: str) -> None:
        self.sessions[session_id].update(status=CANCELLED, reason=reason)

    def record_attendance(self, session_id: str, participant_id: str, present: bool, now: datetime) -> None:
        session = self._allowed(session_id, "record_attendance", now)
        self._member_of(session, participant_id)
        if session["attendance"].get(participant_id) is present:
            return  # recorded already: a retried request records nothing more
        self._attendance_recorded(session_id=session_id, participant_id=participant_id, present=present)

    @event(AttendanceRecorded)
    def _attendance_recorded(self, session_id: str, participant_id: str, present: bool) -> None:
        self.sessions[session_id]["attendance"][participant_id] = present

    def give_feedback(
        self, session_id: str, participant_id: str, rating: int, comment: str | None, now: datetime
    ) -> None:
        session = self._session(session_id)
        refusal = feedback_refusal(session, participant_id, now)
        if refusal is not None:
            raise SessionsError(refusal)
        role = self._member_of(session, participant_id)
        self._feedback_given(
            session_id=session_id, participant_id=participant_id, role=role, rating=rating, comment=comment
        )

    @event(FeedbackGiven)
    def _feedback_given(
        self, session_id: str, participant_id: str, role: str, rating: int, comment: str | None
    ) -> None:
        self.sessions[session_id]["feedback"][participant_id] = {"role": role, "rating": rating, "comment": comment}

    def complete_session(self, session_id: str, now: datetime) -> None:
        """The session was held. Holding the target number completes the relationship;
        members may go on meeting and writing notes afterwards."""
        session = self._allowed(session_id, "mark_held", now)  # a no-show does not count towards the target
        self._held(session_id=session_id, sessions_held=self.held + 1, format=self.format, theme=session["theme"])
        if self.status == ACTIVE and self.held >= self.target_sessions:
            self._completed(match_id=self.match_id, sessions_held=self.held)

    @event(SessionHeld)
    def _held(self, session_id: str, sessions_held: int, format: str, theme: str) -> None:  # noqa: A002
        self.sessions[session_id]["status"] = HELD
        self.held = sessions_held

    @event(Completed)
    def _completed(self, match_id: str, sessions_held: int) -> None:
        self.status = COMPLETED

    # -- the relationship -----------------------------------------------------------------

    def add_note(self, author_id: str, note: str, now: datetime) -> None:
        """Follow-up notes: the exchange goes on after completion, not after closing."""
        if self.status == CLOSED:
            raise SessionsError(relationship_closed())
        if self.role_of(author_id) is None:
            raise SessionsError(not_a_relationship_member(author_id))
        self._note_added(author_id=author_id, note=note, written_at=now)

    @event(NoteAdded)
    def _note_added(self, author_id: str, note: str, written_at: datetime) -> None:
        self.notes.append({"author_id": author_id, "note": note, "written_at": written_at})

    def note_withdrawal(self, participant_id: str, reason: str | None, at: datetime) -> tuple[list[str], list[str]]:
        """A member withdrew. An active relationship closes (or its group loses a mentee)
        when matching says so; a completed one has no match left, so it is done here: its
        sessions still to come are cancelled, or, when a mentee leaves a group that still
        has others, they are taken off them. Returns (sessions cancelled, sessions left)."""
        if self.status != COMPLETED or (participant_id != self.mentor_id and participant_id not in self.mentee_ids):
            return [], []
        if self.format == "mini-session" and participant_id != self.mentor_id and len(self.mentee_ids) > 1:
            return [], self.remove_member(participant_id, because("a mentee withdrew", reason), at)
        who = "the mentor" if participant_id == self.mentor_id else "the mentee"
        upcoming = [s["id"] for s in self.sessions.values() if s["status"] == SCHEDULED and s["starts_at"] > at]
        for session_id in upcoming:
            self._cancelled(session_id=session_id, reason=because(f"{who} withdrew", reason))
        return upcoming, []

    def remove_member(self, participant_id: str, reason: str | None, at: datetime) -> list[str]:
        """A mentee left the group, which goes on without them: they are taken off its
        sessions still to come (returned, so their agenda can be freed)."""
        if self.format != "mini-session" or participant_id not in self.mentee_ids or len(self.mentee_ids) < 2 or self.status == CLOSED:
            return []
        upcoming = [
            s["id"] for s in self.sessions.values() if s["status"] == SCHEDULED and s["starts_at"] > at and participant_id in s["participant_ids"]
        ]
        self._member_left(participant_id=participant_id, reason=reason, session_ids=upcoming)
        return upcoming

    @event(MemberLeft)
    def _member_left(self, participant_id: str, reason: str | None, session_ids: list[str]) -> None:
        self.mentee_ids.remove(participant_id)
        for session_id in session_ids:
            self.sessions[session_id]["participant_ids"].remove(participant_id)

    def close(self, reason: str | None) -> list[str]:
        """Ends an active relationship early: sessions still to come are cancelled (returned,
        so the members' agendas can be freed). A completed one stays completed."""
        if self.status != ACTIVE:
            return []
        to_cancel = [s["id"] for s in self.sessions.values() if s["status"] == SCHEDULED]
        for session_id in to_cancel:
            self._cancelled(session_id=session_id, reason=because("the relationship was closed", reason))
        self._closed(match_id=self.match_id, reason=reason, sessions_held=self.held)
        return to_cancel

    @event(Closed)
    def _closed(self, match_id: str, reason: str | None, sessions_held: int) -> None:
        self.status = CLOSED
        self.reason = reason

    # -- checks ---------------------------------------------------------------------------

    def actions(self, session_id: str, now: datetime) -> dict[str, Reason | None]:
        """What the session allows now, and why not the rest (session_refusals)."""
        return session_refusals(self._session(session_id), self.mentor_id, now)

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        return session

    def _allowed(self, session_id: str, action: str, now: datetime | None) -> dict[str, Any]:
        """The session, if it allows the action now; else its reason why not. Without a clock
        (a system cancelling) only the session's status is asked."""
        session = self._session(session_id)
        refusal = session_refusals(session, self.mentor_id, now or session["starts_at"])[action]
        if refusal is not None:
            raise SessionsError(refusal)
        return session

    def _member_of(self, session: dict[str, Any], participant_id: str) -> str:
        if participant_id not in session["participant_ids"]:
            raise SessionsError(not_a_member(participant_id))
        role = self.role_of(participant_id)
        assert role is not None
        return role


class Agenda(Aggregate):
    """The sessions one participant is booked in, with their times."""

    class Opened(Aggregate.Created):
        participant_id: str
        subsidiary_id: str

    class Booked(Aggregate.Event):
        session_id: str
        starts_at: datetime
        ends_at: datetime

    class Released(Aggregate.Event):
        session_id: str


    @staticmethod
    def create_id(participant_id: str, **_: Any) -> UUID:
        return agenda_id(participant_id)

    @event(Opened)
    def __init__(self, participant_id: str, subsidiary_id: str) -> None:
        self.participant_id = participant_id
        self.subsidiary_id = subsidiary_id
        self.bookings: dict[str, tuple[datetime, datetime]] = {}

    def clash(self, starts_at: datetime, ends_at: datetime, ignoring: str | None = None) -> str | None:
        """A booked session overlapping [starts_at, ends_at), if any."""
        for session_id, (start, end) in sorted(self.bookings.items(), key=lambda b: b[1]):
            if session_id != ignoring and start < ends_at and starts_at < end:
                return session_id
        return None

    @event(Booked)
    def book(self, session_id: str, starts_at: datetime, ends_at: datetime) -> None:
        self.bookings[session_id] = (starts_at, ends_at)

    @event(Released)
    def release(self, session_id: str) -> None:
        self.bookings.pop(session_id, None)


# Where each stored event holds personal data, and whose: sealed with that participant's key
# when stored (services/common/personal_data.py). {event class: {path: path of the participant id}}
PERSONAL_DATA: dict[type, dict[str, str]] = {
    Roster.ParticipantNoted: {"name": "participant_id", "email": "participant_id"},
    Relationship.NoteAdded: {"note": "author_id"},
    Relationship.FeedbackGiven: {"comment": "participant_id"},
    # Free text. A participant's own words: their key. What is about a relationship or its
    # sessions (and may name any member): the relationship's own key, destroyed when any of
    # its members is erased.
    Roster.ParticipantWithdrawn: {"reason": "participant_id"},
    Relationship.MemberLeft: {"reason": "participant_id"},
    Relationship.Closed: {"reason": "originator_id"},
    Relationship.SessionCancelled: {"reason": "originator_id"},
    Relationship.SessionScheduled: {"location": "originator_id", "video_link": "originator_id"},
    Relationship.SessionRescheduled: {"location": "originator_id", "video_link": "originator_id"},
}


def ends_at(starts_at: datetime, duration_minutes: int) -> datetime:
    return starts_at + timedelta(minutes=duration_minutes)
