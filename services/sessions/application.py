"""Sessions' application service: applies enrolment's and matching's events (relationships
open and close), and schedules, reschedules, cancels and completes sessions, with attendance,
feedback and follow-up notes. Load, call the domain, save."""

from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from contracts import IntegrationEvent
from contracts.enrolment import ParticipantErased
from services.common.application import ServiceApplication
from services.common.context import acting
from collections.abc import Mapping

from services.common.errors import Conflict, Invalid, NotFound, Problem, Reason
from services.sessions.domain import (
    ACTIVE,
    PERSONAL_DATA,
    Agenda,
    ProgrammeRules,
    Relationship,
    Roster,
    SessionsError,
    agenda_id,
    already_booked,
    because,
    ends_at,
    held_in_the_future,
    in_the_past,
    relationship_ended,
    relationship_id,
    roster_id,
    text_goes_with,
    unknown_theme,
)
from services.sessions.view import SessionsView

ENROLMENT_FIRST = {"enrolment": 0, "matching": 1}


class SessionsApplication(ServiceApplication):
    name = "sessions"  # also the prefix of its eventsourcing settings, e.g. SESSIONS_SQLITE_DBNAME
    env = {"AGGREGATE_CACHE_MAXSIZE": "2000", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    personal_data = PERSONAL_DATA

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.view = SessionsView(self)

    # -- what enrolment and matching publish ----------------------------------------------

    def apply_events(self, events: list[IntegrationEvent]) -> None:
        """Apply a batch of consumed events, at most once each, one transaction per
        subsidiary. Within a batch, enrolment's events come first: a match may then use the
        programme and the names that arrived with it."""
        by_subsidiary: dict[str, list[IntegrationEvent]] = defaultdict(list)
        for e in sorted(events, key=lambda e: ENROLMENT_FIRST.get(e.producer, 2)):  # stable: each topic keeps its order
            by_subsidiary[e.subsidiary_id].append(e)
            if isinstance(e, ParticipantErased):
                self.forget_participant(e.payload.participant_id)  # before anything is loaded or sealed
        for subsidiary_id, theirs in by_subsidiary.items():
            self.retrying(Batch(self, subsidiary_id, theirs).apply)

    # -- commands -------------------------------------------------------------------------

    def schedule_session(
        self,
        subsidiary_id: str,
        relationship: UUID,
        format: str,  # noqa: A002 - the format the caller named: pair (relationship_id) or mini-session (group_id)
        theme: str,
        starts_at: datetime,
        duration_minutes: int | None,
        location: str | None,
        video_link: str | None,
        now: datetime,
        attendance: Mapping[str, bool] | None = None,
    ) -> str:
        """Book a session to come; or, given its attendance, record one that already took
        place (scheduled, attendance and held in one save)."""
        held = attendance is not None
        if held:
            _already_started(starts_at, now)
        else:
            _not_in_the_past(starts_at, now)
        session_id = str(uuid4())

        def schedule() -> str:
            rules = self.rules(subsidiary_id)
            rel = self.relationship(subsidiary_id, relationship)
            if rel.format != format:
                kind = "group" if format == "mini-session" else "relationship"
                raise NotFound(f"{kind} {relationship} not found (it is a {rel.format})")
            canonical = rules.canonical_theme(theme)
            duration = duration_minutes or rel.session_minutes
            start, end = starts_at, ends_at(starts_at, duration)
            agendas = [self._agenda(subsidiary_id, member) for member in rel.members]
            problems = rel.scheduling_problems(rules.mini_session_max)
            if held:
                assert attendance is not None
                problems += rel.past_session_problems(start, attendance, now)
            if canonical is None:
                problems.append(unknown_theme(theme, rules.themes))
            problems += self._clashes(agendas, start, end)
            if problems:
                what = "recorded" if held else "scheduled"
                raise Conflict(Reason(f"session_not_{what}", f"the session cannot be {what}"), problems)
            if held:
                assert attendance is not None
                self._refusing(rel.record_held_session, session_id, str(canonical), start, duration, location, video_link, attendance, now)
            else:
                rel.schedule(session_id, str(canonical), start, duration, location, video_link)
            for agenda in agendas:
                agenda.book(session_id=session_id, starts_at=start, ends_at=end)
            self.save(rel, *agendas)
            return session_id

        return self.retrying(schedule)

    def reschedule_session(
        self,
        subsidiary_id: str,
        session_id: str,
        starts_at: datetime,
        duration_minutes: int | None,
        location: str | None,
        video_link: str | None,
        keep_place: bool,
        now: datetime,
    ) -> None:
        _not_in_the_past(starts_at, now)

        def reschedule() -> None:
            rel = self._relationship_of_session(subsidiary_id, session_id)
            session = rel.sessions[session_id]
            duration = duration_minutes or session["duration_minutes"]
            place = (session["location"], session["video_link"]) if keep_place else (location, video_link)
            start, end = starts_at, ends_at(starts_at, duration)
            agendas = [self._agenda(subsidiary_id, member) for member in session["participant_ids"]]
            clashes = self._clashes(agendas, start, end, ignoring=session_id)
            if clashes:
                raise Conflict(Reason("session_not_moved", "the session cannot be moved there"), clashes)
            self._refusing(rel.reschedule, session_id, start, duration, *place, now)
            for agenda in agendas:
                agenda.book(session_id=session_id, starts_at=start, ends_at=end)
            self.save(rel, *agendas)

        self.retrying(reschedule)

    def cancel_session(self, subsidiary_id: str, session_id: str, reason: str) -> None:

        def cancel() -> None:
            rel = self._relationship_of_session(subsidiary_id, session_id)
            self._refusing(rel.cancel, session_id, reason)
            self.save(rel, *self.released(rel, [session_id]))

        self.retrying(cancel)

    def record_attendance(
        self, subsidiary_id: str, session_id: str, participant_id: str, present: bool, now: datetime
    ) -> None:
        self._on_session(subsidiary_id, session_id, "record_attendance", participant_id, present, now)

    def give_feedback(
        self,
        subsidiary_id: str,
        session_id: str,
        participant_id: str,
        rating: int,
        comment: str | None,
        now: datetime,
    ) -> None:
        self._on_session(subsidiary_id, session_id, "give_feedback", participant_id, rating, comment, now)

    def complete_session(self, subsidiary_id: str, session_id: str, now: datetime) -> None:
        self._on_session(subsidiary_id, session_id, "complete_session", now)

    def add_note(self, subsidiary_id: str, relationship: UUID, author_id: str, note: str, now: datetime) -> None:
        def add() -> None:
            rel = self.relationship(subsidiary_id, relationship)
            self._refusing(rel.add_note, author_id, note, now)
            self.save(rel)

        self.retrying(add)

    def close_relationship(self, subsidiary_id: str, relationship: UUID, reason: str) -> None:
        """An admin ends an active relationship early; matching then ends the match."""

        def close() -> None:
            rel = self.relationship(subsidiary_id, relationship)
            if rel.status != ACTIVE:
                ended = relationship_ended(rel.status)
                raise Conflict(ended, [ended])
            cancelled = rel.close(reason)
            self.save(rel, *self.released(rel, cancelled))

        self.retrying(close)

    # -- loading --------------------------------------------------------------------------

    def rules(self, subsidiary_id: str) -> ProgrammeRules:
        rules = self.view.rules(subsidiary_id)
        if rules is None:
            raise NotFound(f"subsidiary {subsidiary_id!r} not found")
        return rules

    def relationship(self, subsidiary_id: str, relationship: UUID) -> Relationship:
        rel = self.get_or_none(relationship)
        if not isinstance(rel, Relationship) or rel.subsidiary_id != subsidiary_id:
            raise NotFound(f"relationship {relationship} not found")
        return rel

    def _relationship_of_session(self, subsidiary_id: str, session_id: str) -> Relationship:
        found = self.view.relationship_of_session(subsidiary_id, session_id)
        if found is None:
            raise NotFound(f"session {session_id} not found")
        return self.relationship(subsidiary_id, found)

    def get_or_none(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _agenda(self, subsidiary_id: str, participant_id: str) -> Agenda:
        agenda = self.get_or_none(agenda_id(participant_id))
        if isinstance(agenda, Agenda):
            return agenda
        return Agenda(participant_id=participant_id, subsidiary_id=subsidiary_id)

    def released(
        self,
        rel: Relationship,
        session_ids: list[str],
        loaded: dict[UUID, Aggregate] | None = None,
        members: list[str] | None = None,
    ) -> list[Agenda]:
        """The agendas of these sessions' members (or of `members` only) with their bookings
        released (`loaded`: agendas already loaded for the same transaction, kept up to date)."""
        loaded = {} if loaded is None else loaded
        agendas = []
        for member in members or sorted({m for s in session_ids for m in rel.sessions[s]["participant_ids"]}):
            agenda = loaded.get(agenda_id(member)) or self.get_or_none(agenda_id(member))
            if not isinstance(agenda, Agenda):
                continue
            for session_id in session_ids:
                if session_id in agenda.bookings:
                    agenda.release(session_id=session_id)
            loaded[agenda.id] = agenda
            agendas.append(agenda)
        return agendas

    # -- helpers --------------------------------------------------------------------------

    def _on_session(self, subsidiary_id: str, session_id: str, command: str, *args: Any) -> None:
        def run() -> None:
            rel = self._relationship_of_session(subsidiary_id, session_id)
            self._refusing(getattr(rel, command), session_id, *args)
            self.save(rel)

        self.retrying(run)

    @staticmethod
    def _refusing(command: Any, *args: Any) -> None:
        """Run a domain command; what the domain refuses is a conflict with the state."""
        try:
            command(*args)
        except SessionsError as exc:
            raise Conflict(exc.reason, exc.problems or [exc.reason]) from None

    @staticmethod
    def _clashes(agendas: list[Agenda], start: datetime, end: datetime, ignoring: str | None = None) -> list[Reason]:
        """Each member already booked then: by id (the console names them)."""
        problems = []
        for agenda in agendas:
            clash = agenda.clash(start, end, ignoring)
            if clash is not None:
                problems.append(already_booked(agenda.participant_id, clash, *agenda.bookings[clash]))
        return problems


class Batch:
    """Consumed events of one subsidiary, applied together: every aggregate they change is
    loaded once and saved in one transaction, with the roster that records them as applied."""

    def __init__(self, app: SessionsApplication, subsidiary_id: str, events: list[IntegrationEvent]) -> None:
        self.app = app
        self.subsidiary_id = subsidiary_id
        self.events = events
        self.changed: dict[UUID, Aggregate] = {}

    def apply(self) -> None:
        """Load, change and save; run again from scratch if another writer came first."""
        self.changed = {}
        events = self.events
        roster = self.app.get_or_none(roster_id(self.subsidiary_id))
        for e in events:
            # What this event causes is recorded as caused by it, on behalf of its actor.
            with acting(
                subsidiary_id=self.subsidiary_id, actor=e.actor.model_dump(mode="json"), correlation_id=e.correlation_id, causation_id=str(e.event_id)
            ):
                if roster is None:
                    # Normally SubsidiaryOnboarded comes first; open the roster whatever comes first.
                    roster = Roster(subsidiary_id=self.subsidiary_id)
                assert isinstance(roster, Roster)
                self.changed[roster.id] = roster
                if roster.has_processed(str(e.event_id)):
                    continue  # delivered again: already applied
                self._apply(roster, e)
        pending = [a for a in self.changed.values() if a.pending_events]
        if pending:
            self.app.save(*pending)

    def _apply(self, roster: Roster, e: IntegrationEvent) -> None:
        source = str(e.event_id)
        payload = e.payload.model_dump(mode="json")
        match e.type:
            case "SubsidiaryOnboarded":
                roster.note_subsidiary(name=payload["name"], timezone=payload["timezone"], source_event_id=source)
            case "ProgrammeConfigured":
                roster.note_programme(settings=payload, source_event_id=source)
                if roster.waiting_matches:
                    waiting = list(roster.waiting_matches.values())
                    for match in waiting:
                        self._open(roster, match)
                    roster.release_matches(match_ids=[m["match_id"] for m in waiting])
            case "ParticipantEnrolled" | "ParticipantProfileUpdated":
                personal = payload["personal_data"]
                roster.note_participant(
                    participant_id=payload["participant_id"],
                    role=payload["role"],
                    name=personal["name"],
                    email=personal["email"],
                    as_of=e.occurred_at.isoformat(),
                    source_event_id=source,
                )
            case "MentorCertified":
                roster.note_certified(participant_id=payload["participant_id"], source_event_id=source)
            case "ParticipantErased":
                # The free text of their relationships goes with them: each relationship's key
                # is destroyed (again, if this runs again) before the erasure is recorded.
                for rel_id in self._relationships_with(payload["participant_id"]):
                    self.app.keys.erase(rel_id)
                roster.note_erased(participant_id=payload["participant_id"], source_event_id=source)
            case "ParticipantWithdrawn":
                # Matching ends the withdrawn participant's matches: their active relationships close then.
                roster.note_withdrawn(participant_id=payload["participant_id"], reason=payload["reason"], source_event_id=source)
                self._withdrawn(payload["participant_id"], payload["reason"], e.occurred_at)
            case "MatchConfirmed":
                match = {**payload, "matched_at": e.occurred_at.isoformat()}
                if roster.programme is None:
                    roster.hold_match(match=match, source_event_id=source)
                else:
                    self._open(roster, match)
            case "MatchMemberLeft":
                self._member_left(payload["match_id"], payload["participant_id"], payload["reason"], e.occurred_at)
                roster.note_member_left(
                    match_id=payload["match_id"], mentee_ids=payload["mentee_ids"], source_event_id=source
                )
            case "MatchDeclined" | "MatchEnded":
                reason = payload["reason"] if e.type == "MatchEnded" else because(f"the match was declined ({_who(payload)})", payload["reason"])
                self._close(payload["match_id"], reason)
                roster.note_match_end(match_id=payload["match_id"], source_event_id=source)

    def _relationships_with(self, participant_id: str) -> list[str]:
        """The relationships, whatever their status, whose free text goes with the
        participant's erasure (domain.text_goes_with): as the view knows them, or as this batch
        changed them."""
        found = set(self.app.view.relationships_with(self.subsidiary_id, participant_id))
        for aggregate in self.changed.values():
            if isinstance(aggregate, Relationship):
                found.discard(str(aggregate.id))
                if text_goes_with(participant_id, aggregate.mentor_id, aggregate.mentee_ids, aggregate.format, aggregate.status):
                    found.add(str(aggregate.id))
        return sorted(found)

    def _open(self, roster: Roster, match: dict[str, Any]) -> None:
        rel_id = relationship_id(match["match_id"])
        if rel_id in self.changed or self.app.get_or_none(rel_id) is not None:
            return  # delivered again: the relationship is open already
        programme = roster.programme or {}
        self.changed[rel_id] = Relationship(
            subsidiary_id=self.subsidiary_id,
            match_id=match["match_id"],
            format=match["format"],
            mentor_id=match["mentor_id"],
            mentee_ids=match["mentee_ids"],
            theme=match.get("theme"),
            target_sessions=int(programme.get("target_sessions", 5)),
            session_minutes=int(programme.get("session_minutes", 90)),
            matched_at=datetime.fromisoformat(match["matched_at"]),
        )

    def _member_left(self, match_id: str, participant_id: str, reason: str, at: datetime) -> None:
        rel_id = relationship_id(match_id)
        rel = self.changed.get(rel_id) or self.app.get_or_none(rel_id)
        if isinstance(rel, Relationship):
            left = rel.remove_member(participant_id, reason, at)
            self.changed[rel_id] = rel
            self.app.released(rel, left, loaded=self.changed, members=[participant_id])

    def _withdrawn(self, participant_id: str, reason: str, at: datetime) -> None:
        """Sessions still to come of a withdrawn member's completed relationships are cancelled
        (found through the sessions booked in their agenda)."""
        agenda = self.changed.get(agenda_id(participant_id)) or self.app.get_or_none(agenda_id(participant_id))
        if not isinstance(agenda, Agenda):
            return
        theirs = {self.app.view.relationship_of_session(self.subsidiary_id, s) for s in agenda.bookings}
        for rel_id in sorted(r for r in theirs if r is not None):
            rel = self.changed.get(rel_id) or self.app.get_or_none(rel_id)
            if isinstance(rel, Relationship):
                cancelled, left = rel.note_withdrawal(participant_id, reason, at)
                if cancelled or left:
                    self.changed[rel_id] = rel
                    self.app.released(rel, cancelled, loaded=self.changed)
                    self.app.released(rel, left, loaded=self.changed, members=[participant_id])

    def _close(self, match_id: str, reason: str) -> None:
        rel_id = relationship_id(match_id)
        rel = self.changed.get(rel_id) or self.app.get_or_none(rel_id)
        if not isinstance(rel, Relationship):
            return  # never opened (the roster forgets it if it was waiting)
        self.changed[rel_id] = rel
        cancelled = rel.close(reason)
        self.app.released(rel, cancelled, loaded=self.changed)


def _who(payload: dict[str, Any]) -> str:
    by = payload["by"]
    if by == "admin":
        return "by an admin"
    return "by the mentor" if by == payload["mentor_id"] else "by a mentee"


def _not_in_the_past(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise Invalid([start_problem(in_the_past(starts_at))])


def _already_started(starts_at: datetime, now: datetime) -> None:
    if starts_at > now:
        raise Invalid([start_problem(held_in_the_future(starts_at))])


def start_problem(reason: Reason) -> Problem:
    """A problem with the start, as a 422 lists it."""
    return Problem(["body", "starts_at"], reason.message, reason.code, dict(reason.params))
