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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from contracts.enrolment import canonical_theme

NAMESPACE = UUID("b1f4c2d0-6a2e-4e0b-9a57-2f61d7c9e3a8")

ACTIVE, COMPLETED, CLOSED = "active", "completed", "closed"
SCHEDULED, HELD, CANCELLED = "scheduled", "held", "cancelled"
MENTOR, MENTEE = "mentor", "mentee"
STALLED_AFTER = timedelta(days=21)  # a relationship with no session booked this long after its match

Context = dict[str, Any]


class SessionsError(Exception):
    """A command the domain refuses; `problems` say why, one line each."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


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
    @staticmethod
    def create_id(subsidiary_id: str, **_: Any) -> UUID:
        return roster_id(subsidiary_id)

    @event("Opened")
    def __init__(self, subsidiary_id: str, context: Context) -> None:
        self.subsidiary_id = subsidiary_id
        self.name: str | None = None
        self.timezone = "UTC"
        self.programme: dict[str, Any] | None = None
        self.participants: dict[str, dict[str, Any]] = {}
        # Matches confirmed before the programme was known (the topics are read
        # independently): opened as soon as it is.
        self.waiting_matches: dict[str, dict[str, Any]] = {}
        self.processed: dict[str, bool] = {}  # source event ids already applied

    def has_processed(self, source_event_id: str) -> bool:
        return source_event_id in self.processed

    @event("SubsidiaryNoted")
    def note_subsidiary(self, name: str, timezone: str, source_event_id: str, context: Context) -> None:
        self.name = name
        self.timezone = timezone
        self.processed[source_event_id] = True

    @event("ProgrammeNoted")
    def note_programme(self, settings: dict[str, Any], source_event_id: str, context: Context) -> None:
        self.programme = settings
        self.processed[source_event_id] = True

    @event("ParticipantNoted")
    def note_participant(
        self, participant_id: str, role: str, name: str, email: str, as_of: str, source_event_id: str, context: Context
    ) -> None:
        """An enrolment or a profile update; the newest wins whatever the order."""
        record = self._participant(participant_id)
        if record["as_of"] is None or as_of >= record["as_of"]:
            record.update(role=role, as_of=as_of)
            if not record["erased"]:  # a late or replayed profile brings nothing personal back
                record.update(name=name, email=email)
        self.processed[source_event_id] = True

    @event("ParticipantErased")
    def note_erased(self, participant_id: str, source_event_id: str, context: Context) -> None:
        """Their personal data is erased: none of it is kept; their relationships and sessions stay."""
        self._participant(participant_id).update(name=None, email=None, withdrawal_reason=None, erased=True)
        self.processed[source_event_id] = True

    @event("MentorCertified")
    def note_certified(self, participant_id: str, source_event_id: str, context: Context) -> None:
        self._participant(participant_id)["certified"] = True
        self.processed[source_event_id] = True

    @event("ParticipantWithdrawn")
    def note_withdrawn(self, participant_id: str, reason: str, source_event_id: str, context: Context) -> None:
        self._participant(participant_id).update(withdrawn=True, withdrawal_reason=reason)
        self.processed[source_event_id] = True

    @event("MatchWaiting")
    def hold_match(self, match: dict[str, Any], source_event_id: str, context: Context) -> None:
        self.waiting_matches[match["match_id"]] = match
        self.processed[source_event_id] = True

    @event("MatchesReleased")
    def release_matches(self, match_ids: list[str], context: Context) -> None:
        for match_id in match_ids:
            self.waiting_matches.pop(match_id, None)

    @event("MatchMemberLeftNoted")
    def note_member_left(self, match_id: str, mentee_ids: list[str], source_event_id: str, context: Context) -> None:
        """A mentee left a group: a match still waiting for the programme opens without them."""
        if match_id in self.waiting_matches:
            self.waiting_matches[match_id]["mentee_ids"] = list(mentee_ids)
        self.processed[source_event_id] = True

    @event("MatchEndNoted")
    def note_match_end(self, match_id: str, source_event_id: str, context: Context) -> None:
        """A match that ended before its relationship could open never opens."""
        self.waiting_matches.pop(match_id, None)
        self.processed[source_event_id] = True

    def _participant(self, participant_id: str) -> dict[str, Any]:
        return self.participants.setdefault(
            participant_id,
            {
                "id": participant_id, "role": None, "name": None, "email": None, "as_of": None, "certified": False,
                "withdrawn": False, "erased": False,
            },
        )

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

    @staticmethod
    def create_id(match_id: str, **_: Any) -> UUID:
        return relationship_id(match_id)

    @event("Opened")
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
        context: Context,
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

    def scheduling_problems(self, size_limit: int) -> list[str]:
        """Why no session can be booked now, beyond the theme, the time and the members'
        agendas (checked by the caller, who knows the programme and the clock)."""
        problems = []
        if self.status == CLOSED:
            problems.append(because("the relationship is closed", self.reason))
        if self.format == "mini-session" and len(self.mentee_ids) > size_limit:
            problems.append(
                f"the group has {len(self.mentee_ids)} mentees; the programme allows at most {size_limit} in a mini-session"
            )
        return problems

    def schedule(
        self,
        session_id: str,
        theme: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        context: Context,
    ) -> None:
        if self.status == CLOSED:
            raise SessionsError(because("the relationship is closed", self.reason))
        self._scheduled(
            session_id=session_id,
            theme=theme,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            location=location,
            video_link=video_link,
            participant_ids=self.members,
            format=self.format,
            context=context,
        )

    @event("SessionScheduled")
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
        context: Context,
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
        context: Context,
    ) -> None:
        session = self._session(session_id, SCHEDULED, "rescheduled")
        if starts_at <= now:
            raise SessionsError("the session would start in the past")
        self._rescheduled(
            session_id=session_id,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            location=location,
            video_link=video_link,
            sequence=session["sequence"] + 1,
            context=context,
        )

    @event("SessionRescheduled")
    def _rescheduled(
        self,
        session_id: str,
        starts_at: datetime,
        duration_minutes: int,
        location: str | None,
        video_link: str | None,
        sequence: int,
        context: Context,
    ) -> None:
        self.sessions[session_id].update(
            starts_at=starts_at, duration_minutes=duration_minutes, location=location, video_link=video_link, sequence=sequence
        )

    def cancel(self, session_id: str, reason: str, context: Context) -> None:
        self._session(session_id, SCHEDULED, "cancelled")
        self._cancelled(session_id=session_id, reason=reason, context=context)

    @event("SessionCancelled")
    def _cancelled(self, session_id: str, reason: str, context: Context) -> None:
        self.sessions[session_id].update(status=CANCELLED, reason=reason)

    def record_attendance(self, session_id: str, participant_id: str, present: bool, now: datetime, context: Context) -> None:
        session = self._started_session(session_id, now, "attendance recorded")
        self._member_of(session, participant_id)
        if session["attendance"].get(participant_id) is present:
            return  # recorded already: a retried request records nothing more
        self._attendance_recorded(session_id=session_id, participant_id=participant_id, present=present, context=context)

    @event("AttendanceRecorded")
    def _attendance_recorded(self, session_id: str, participant_id: str, present: bool, context: Context) -> None:
        self.sessions[session_id]["attendance"][participant_id] = present

    def give_feedback(
        self, session_id: str, participant_id: str, rating: int, comment: str | None, now: datetime, context: Context
    ) -> None:
        session = self._started_session(session_id, now, "given feedback")
        role = self._member_of(session, participant_id)
        if participant_id in session["feedback"]:
            raise SessionsError(f"participant {participant_id} already gave feedback on this session")
        if session["attendance"].get(participant_id) is False:
            raise SessionsError(f"participant {participant_id} is recorded as absent from this session")
        self._feedback_given(
            session_id=session_id, participant_id=participant_id, role=role, rating=rating, comment=comment, context=context
        )

    @event("FeedbackGiven")
    def _feedback_given(
        self, session_id: str, participant_id: str, role: str, rating: int, comment: str | None, context: Context
    ) -> None:
        self.sessions[session_id]["feedback"][participant_id] = {"role": role, "rating": rating, "comment": comment}

    def complete_session(self, session_id: str, now: datetime, context: Context) -> None:
        """The session was held. Holding the target number completes the relationship;
        members may go on meeting and writing notes afterwards."""
        session = self._started_session(session_id, now, "completed")
        if session["status"] != SCHEDULED:
            raise SessionsError(f"the session is already {session['status']}")
        absent = [pid for pid, present in session["attendance"].items() if not present]
        if self.mentor_id in absent or set(self.mentee_ids) <= set(absent):
            # A no-show is not a session held: it does not count towards the target.
            raise SessionsError("the mentor or every mentee is recorded as absent: cancel the session as a no-show instead")
        self._held(session_id=session_id, sessions_held=self.held + 1, format=self.format, theme=session["theme"], context=context)
        if self.status == ACTIVE and self.held >= self.target_sessions:
            self._completed(match_id=self.match_id, sessions_held=self.held, context=context)

    @event("SessionHeld")
    def _held(self, session_id: str, sessions_held: int, format: str, theme: str, context: Context) -> None:  # noqa: A002
        self.sessions[session_id]["status"] = HELD
        self.held = sessions_held

    @event("Completed")
    def _completed(self, match_id: str, sessions_held: int, context: Context) -> None:
        self.status = COMPLETED

    # -- the relationship -----------------------------------------------------------------

    def add_note(self, author_id: str, note: str, now: datetime, context: Context) -> None:
        """Follow-up notes: the exchange goes on after completion, not after closing."""
        if self.status == CLOSED:
            raise SessionsError(because("the relationship is closed", self.reason))
        if self.role_of(author_id) is None:
            raise SessionsError(f"participant {author_id} is not a member of this relationship")
        self._note_added(author_id=author_id, note=note, written_at=now, context=context)

    @event("NoteAdded")
    def _note_added(self, author_id: str, note: str, written_at: datetime, context: Context) -> None:
        self.notes.append({"author_id": author_id, "note": note, "written_at": written_at})

    def note_withdrawal(self, participant_id: str, reason: str, at: datetime, context: Context) -> tuple[list[str], list[str]]:
        """A member withdrew. An active relationship closes (or its group loses a mentee)
        when matching says so; a completed one has no match left, so it is done here: its
        sessions still to come are cancelled, or, when a mentee leaves a group that still
        has others, they are taken off them. Returns (sessions cancelled, sessions left)."""
        if self.status != COMPLETED or (participant_id != self.mentor_id and participant_id not in self.mentee_ids):
            return [], []
        if self.format == "mini-session" and participant_id != self.mentor_id and len(self.mentee_ids) > 1:
            return [], self.remove_member(participant_id, because("a mentee withdrew", reason), at, context)
        who = "the mentor" if participant_id == self.mentor_id else "the mentee"
        upcoming = [s["id"] for s in self.sessions.values() if s["status"] == SCHEDULED and s["starts_at"] > at]
        for session_id in upcoming:
            self._cancelled(session_id=session_id, reason=because(f"{who} withdrew", reason), context=context)
        return upcoming, []

    def remove_member(self, participant_id: str, reason: str, at: datetime, context: Context) -> list[str]:
        """A mentee left the group, which goes on without them: they are taken off its
        sessions still to come (returned, so their agenda can be freed)."""
        if self.format != "mini-session" or participant_id not in self.mentee_ids or len(self.mentee_ids) < 2 or self.status == CLOSED:
            return []
        upcoming = [
            s["id"] for s in self.sessions.values() if s["status"] == SCHEDULED and s["starts_at"] > at and participant_id in s["participant_ids"]
        ]
        self._member_left(participant_id=participant_id, reason=reason, session_ids=upcoming, context=context)
        return upcoming

    @event("MemberLeft")
    def _member_left(self, participant_id: str, reason: str, session_ids: list[str], context: Context) -> None:
        self.mentee_ids.remove(participant_id)
        for session_id in session_ids:
            self.sessions[session_id]["participant_ids"].remove(participant_id)

    def close(self, reason: str, context: Context) -> list[str]:
        """Ends an active relationship early: sessions still to come are cancelled (returned,
        so the members' agendas can be freed). A completed one stays completed."""
        if self.status != ACTIVE:
            return []
        to_cancel = [s["id"] for s in self.sessions.values() if s["status"] == SCHEDULED]
        for session_id in to_cancel:
            self._cancelled(session_id=session_id, reason=because("the relationship was closed", reason), context=context)
        self._closed(match_id=self.match_id, reason=reason, sessions_held=self.held, context=context)
        return to_cancel

    @event("Closed")
    def _closed(self, match_id: str, reason: str, sessions_held: int, context: Context) -> None:
        self.status = CLOSED
        self.reason = reason

    # -- checks ---------------------------------------------------------------------------

    def _session(self, session_id: str, status: str, verb: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        if session["status"] != status:
            raise SessionsError(f"a {session['status']} session cannot be {verb}")
        return session

    def _started_session(self, session_id: str, now: datetime, verb: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        if session["status"] == CANCELLED:
            raise SessionsError(f"a cancelled session cannot be {verb}")
        if session["starts_at"] > now:
            raise SessionsError(f"the session has not started yet (it starts at {session['starts_at'].isoformat()})")
        return session

    def _member_of(self, session: dict[str, Any], participant_id: str) -> str:
        if participant_id not in session["participant_ids"]:
            raise SessionsError(f"participant {participant_id} is not a member of this session")
        role = self.role_of(participant_id)
        assert role is not None
        return role


class Agenda(Aggregate):
    """The sessions one participant is booked in, with their times."""

    @staticmethod
    def create_id(participant_id: str, **_: Any) -> UUID:
        return agenda_id(participant_id)

    @event("Opened")
    def __init__(self, participant_id: str, subsidiary_id: str, context: Context) -> None:
        self.participant_id = participant_id
        self.subsidiary_id = subsidiary_id
        self.bookings: dict[str, tuple[datetime, datetime]] = {}

    def clash(self, starts_at: datetime, ends_at: datetime, ignoring: str | None = None) -> str | None:
        """A booked session overlapping [starts_at, ends_at), if any."""
        for session_id, (start, end) in sorted(self.bookings.items(), key=lambda b: b[1]):
            if session_id != ignoring and start < ends_at and starts_at < end:
                return session_id
        return None

    @event("Booked")
    def book(self, session_id: str, starts_at: datetime, ends_at: datetime, context: Context) -> None:
        self.bookings[session_id] = (starts_at, ends_at)

    @event("Released")
    def release(self, session_id: str, context: Context) -> None:
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
