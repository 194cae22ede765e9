"""Sessions' application service: applies enrolment's and matching's events (relationships
open and close), and schedules, reschedules, cancels and completes sessions, with attendance,
feedback and follow-up notes. Load, call the domain, save."""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from contracts import IntegrationEvent
from contracts.enrolment import (
    MentorCertified,
    ParticipantEnrolled,
    ParticipantErased,
    ParticipantProfileUpdated,
    ParticipantWithdrawn,
    ProgrammeConfigured,
    SubsidiaryOnboarded,
)
from contracts.matching import MatchConfirmed, MatchDeclined, MatchEnded, MatchMemberLeft
from services.common.consuming import ConsumedBatch, ConsumingApplication, Handler
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
    relationship_ended,
    relationship_id,
    roster_id,
    start_problems,
    text_goes_with,
    unknown_theme,
)
from services.sessions.view import SessionsView



class SessionsBatch(ConsumedBatch):
    """Enrolment's and matching's events of one subsidiary, applied to its roster, its
    relationships and its members' agendas (each at most once)."""

    app: "SessionsApplication"

    def roster(self) -> Roster:
        # Normally SubsidiaryOnboarded comes first; the roster is opened whatever comes first.
        return self.get(roster_id(self.subsidiary_id), Roster) or self.add(Roster(subsidiary_id=self.subsidiary_id))

    def applied_before_tracking(self, event_id: str) -> bool:
        roster = self.get(roster_id(self.subsidiary_id), Roster)
        return roster is not None and roster.has_processed(event_id)

    # -- the handlers ---------------------------------------------------------------------

    def onboarded(self, e: SubsidiaryOnboarded) -> None:
        self.roster().note_subsidiary(name=e.payload.name, timezone=e.payload.timezone)

    def programme_configured(self, e: ProgrammeConfigured) -> None:
        roster = self.roster()
        roster.note_programme(settings=e.payload.model_dump(mode="json"))
        if roster.waiting_matches:
            waiting = list(roster.waiting_matches.values())
            for match in waiting:
                self._open(roster, match)
            roster.release_matches(match_ids=[m["match_id"] for m in waiting])

    def participant_noted(self, e: ParticipantEnrolled | ParticipantProfileUpdated) -> None:
        personal = e.payload.personal_data
        self.roster().note_participant(
            participant_id=str(e.payload.participant_id), role=e.payload.role, name=personal.name, email=personal.email, as_of=e.occurred_at.isoformat()
        )

    def certified(self, e: MentorCertified) -> None:
        self.roster().note_certified(participant_id=str(e.payload.participant_id))

    def erased(self, e: ParticipantErased) -> None:
        participant_id = str(e.payload.participant_id)
        # The free text of their relationships goes with them: each relationship's key is
        # destroyed (again, if this runs again) before the erasure is recorded.
        for rel_id in self._relationships_with(participant_id):
            self.app.keys.erase(rel_id)
        self.roster().note_erased(participant_id=participant_id)

    def withdrawn(self, e: ParticipantWithdrawn) -> None:
        # Matching ends the withdrawn participant's matches: their active relationships close then.
        participant_id = str(e.payload.participant_id)
        self.roster().note_withdrawn(participant_id=participant_id, reason=e.payload.reason)
        self._withdrawn(participant_id, e.payload.reason, e.occurred_at)

    def match_confirmed(self, e: MatchConfirmed) -> None:
        roster = self.roster()
        match = {**e.payload.model_dump(mode="json"), "matched_at": e.occurred_at.isoformat()}
        if roster.programme is None:
            roster.hold_match(match=match)
        else:
            self._open(roster, match)

    def member_left(self, e: MatchMemberLeft) -> None:
        match_id, participant_id = str(e.payload.match_id), str(e.payload.participant_id)
        self._member_left(match_id, participant_id, e.payload.reason, e.occurred_at)
        self.roster().note_member_left(match_id=match_id, mentee_ids=[str(m) for m in e.payload.mentee_ids])

    def match_declined(self, e: MatchDeclined) -> None:
        payload = e.payload.model_dump(mode="json")
        self._match_over(payload["match_id"], because(f"the match was declined ({_who(payload)})", payload["reason"]))

    def match_ended(self, e: MatchEnded) -> None:
        self._match_over(str(e.payload.match_id), e.payload.reason)

    # -- what they share ------------------------------------------------------------------

    def _match_over(self, match_id: str, reason: str | None) -> None:
        self._close(match_id, reason)
        self.roster().note_match_end(match_id=match_id)

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
        if self.get(rel_id, Relationship) is not None:
            return  # delivered again: the relationship is open already
        programme = roster.programme or {}
        self.add(
            Relationship(
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
        )

    def _member_left(self, match_id: str, participant_id: str, reason: str | None, at: datetime) -> None:
        rel = self.get(relationship_id(match_id), Relationship)
        if rel is not None:
            left = rel.remove_member(participant_id, reason, at)
            self.app.released(rel, left, loaded=self.changed, members=[participant_id])

    def _withdrawn(self, participant_id: str, reason: str | None, at: datetime) -> None:
        """Sessions still to come of a withdrawn member's completed relationships are cancelled
        (found through the sessions booked in their agenda)."""
        agenda = self.get(agenda_id(participant_id), Agenda)
        if agenda is None:
            return
        theirs = {self.app.view.relationship_of_session(self.subsidiary_id, s) for s in agenda.bookings}
        for rel_id in sorted(r for r in theirs if r is not None):
            rel = self.get(rel_id, Relationship)
            if rel is not None:
                cancelled, left = rel.note_withdrawal(participant_id, reason, at)
                if cancelled or left:
                    self.app.released(rel, cancelled, loaded=self.changed)
                    self.app.released(rel, left, loaded=self.changed, members=[participant_id])

    def _close(self, match_id: str, reason: str | None) -> None:
        rel = self.get(relationship_id(match_id), Relationship)
        if rel is None:
            return  # never opened (the roster forgets it if it was waiting)
        cancelled = rel.close(reason)
        self.app.released(rel, cancelled, loaded=self.changed)


class SessionsApplication(ConsumingApplication):
    name = "sessions"  # also the prefix of its eventsourcing settings, e.g. SESSIONS_SQLITE_DBNAME
    env = {"AGGREGATE_CACHE_MAXSIZE": "2000", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    personal_data = PERSONAL_DATA
    # A subsidiary's roster records every fact enrolment tells of its participants (for the
    # view), so its stream grows with the subsidiary: a command loads its last snapshot and
    # the events since. (It keeps nothing personal: the snapshot needs no sealing. The match
    # book, whose state holds profiles, is not snapshotted: see README, "Group scale".)
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Roster: 500}
    batch = SessionsBatch
    handlers: ClassVar[Mapping[type[IntegrationEvent], Handler]] = {
        SubsidiaryOnboarded: SessionsBatch.onboarded,
        ProgrammeConfigured: SessionsBatch.programme_configured,
        ParticipantEnrolled: SessionsBatch.participant_noted,
        ParticipantProfileUpdated: SessionsBatch.participant_noted,
        MentorCertified: SessionsBatch.certified,
        ParticipantErased: SessionsBatch.erased,
        ParticipantWithdrawn: SessionsBatch.withdrawn,
        MatchConfirmed: SessionsBatch.match_confirmed,
        MatchMemberLeft: SessionsBatch.member_left,
        MatchDeclined: SessionsBatch.match_declined,
        MatchEnded: SessionsBatch.match_ended,
    }
    # Within a batch, enrolment's events come first: a match may then use the programme and
    # the names that arrived with it.
    producers_first = ("enrolment", "matching")

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.view = SessionsView(self)

    def views(self) -> tuple[SessionsView]:
        return (self.view,)

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
            else:
                problems += start_problems(start, now)
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
                rel.schedule(session_id, str(canonical), start, duration, location, video_link, now)
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
        self._on_session(subsidiary_id, session_id, Relationship.record_attendance, participant_id, present, now)

    def give_feedback(
        self,
        subsidiary_id: str,
        session_id: str,
        participant_id: str,
        rating: int,
        comment: str | None,
        now: datetime,
    ) -> None:
        self._on_session(subsidiary_id, session_id, Relationship.give_feedback, participant_id, rating, comment, now)

    def complete_session(self, subsidiary_id: str, session_id: str, now: datetime) -> None:
        self._on_session(subsidiary_id, session_id, Relationship.complete_session, now)

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

    def _on_session(self, subsidiary_id: str, session_id: str, command: Callable[..., None], *args: Any) -> None:
        """Run a relationship's command on one of its sessions (`command`: the method, e.g.
        Relationship.record_attendance)."""

        def run() -> None:
            rel = self._relationship_of_session(subsidiary_id, session_id)
            self._refusing(command, rel, session_id, *args)
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


def _who(payload: dict[str, Any]) -> str:
    by = payload["by"]
    if by == "admin":
        return "by an admin"
    return "by the mentor" if by == payload["mentor_id"] else "by a mentee"


def start_problem(reason: Reason) -> Problem:
    """A problem with the start, as a 422 lists it."""
    return Problem(["body", "starts_at"], reason.message, reason.code, dict(reason.params))
