"""Matching's application service: applies enrolment's events to the match books, and runs,
publishes and declines matches. Load, call the domain, save."""

from collections.abc import Mapping
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate

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
from contracts.sessions import RelationshipClosed, RelationshipCompleted
from services.common.consuming import ConsumedBatch, ConsumingApplication, Handler
from services.common.errors import Conflict, NotFound, Reason
from services.matching.domain import (
    PERSONAL_DATA,
    Candidate,
    MatchBook,
    MatchingError,
    MatchingRun,
    RunStatus,
    already_published,
    book_id,
    candidate_id,
)
from services.matching.proposals import person, rules_of, run_matching
from services.matching.scoring import violations
from services.matching.view import MatchingView


class BookBatch(ConsumedBatch):
    """Enrolment's and sessions' events of one subsidiary, applied to its match book (each
    at most once, in any order)."""

    _book: MatchBook | None = None  # once loaded (or opened) by this batch

    def book(self) -> MatchBook:
        if self._book is None:
            book = self.get(book_id(self.subsidiary_id), MatchBook)
            if book is None:  # normally SubsidiaryOnboarded comes first; opened whatever comes first
                book = self.add(MatchBook(subsidiary_id=self.subsidiary_id))
            legacy = book.legacy_profiles()
            if legacy:  # stored before candidates were kept: every profile is handed on, once
                for participant_id, (profile, as_of) in legacy.items():
                    self._candidate(book, participant_id).note_profile(profile, as_of)
                book.hand_on_profiles(list(legacy))
            self._book = book
        return self._book

    def applied_before_tracking(self, event_id: str) -> bool:
        book = self.get(book_id(self.subsidiary_id), MatchBook)
        return book is not None and book.has_processed(event_id)

    def onboarded(self, e: SubsidiaryOnboarded) -> None:
        self.book()

    def programme_configured(self, e: ProgrammeConfigured) -> None:
        self.book().note_programme(settings=e.payload.model_dump(mode="json"))

    def candidate(self, participant_id: str, *, erasing: bool = False) -> Candidate:
        return self._candidate(self.book(), participant_id, erasing=erasing)

    def _candidate(self, book: MatchBook, participant_id: str, *, erasing: bool = False) -> Candidate:
        found = self.get(candidate_id(self.subsidiary_id, participant_id), Candidate)
        if found is None:
            found = self.add(Candidate(subsidiary_id=self.subsidiary_id, participant_id=participant_id))
            if erasing or book.participants.get(participant_id, {}).get("erased"):
                found.erase()  # first: nothing personal of theirs is recorded again
        return found

    def participant_noted(self, e: ParticipantEnrolled | ParticipantProfileUpdated) -> None:
        participant_id = str(e.payload.participant_id)
        candidate = self.candidate(participant_id)
        candidate.note_profile(e.payload.model_dump(mode="json", exclude={"participant_id", "changed"}), e.occurred_at.isoformat())
        assert candidate.role is not None  # it has a profile now
        self.book().note_role(participant_id, candidate.role)

    def certified(self, e: MentorCertified) -> None:
        self.book().note_certified(participant_id=str(e.payload.participant_id))

    def withdrawn(self, e: ParticipantWithdrawn) -> None:
        self.book().note_withdrawn(participant_id=str(e.payload.participant_id), reason=e.payload.reason)

    def erased(self, e: ParticipantErased) -> None:
        book, participant_id = self.book(), str(e.payload.participant_id)
        # The free text of their matches goes with them: each match's key is destroyed
        # (again, if this runs again) before the erasure is recorded.
        for match_id in book.matches_with(participant_id):
            self.app.keys.erase(match_id)
        self.candidate(participant_id, erasing=True).erase()
        book.note_erased(participant_id=participant_id)

    def relationship_completed(self, e: RelationshipCompleted) -> None:
        self.book().note_relationship_completed(match_id=str(e.payload.match_id), sessions_held=e.payload.sessions_held)

    def relationship_closed(self, e: RelationshipClosed) -> None:
        self.book().note_relationship_closed(match_id=str(e.payload.match_id), reason=e.payload.reason)


class MatchingApplication(ConsumingApplication):
    name = "matching"  # also the prefix of its eventsourcing settings, e.g. MATCHING_SQLITE_DBNAME
    # A subsidiary's book is read by every command: keep recent ones in memory, brought up
    # to date with any newer events on each read.
    env = {"AGGREGATE_CACHE_MAXSIZE": "500", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    personal_data = PERSONAL_DATA
    # The book's stream grows with the subsidiary (roles, certifications, matches, runs): a
    # command loads its last snapshot and the events since. It holds nothing personal (no
    # free text; the profiles are its candidates'), so a snapshot needs no sealing; a book
    # stored with profiles is not snapshotted until it has handed them on (`take_snapshot`).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {MatchBook: 500}
    read_through_cache = (MatchBook,)  # the commands load the book; replay checks what the cache serves
    batch = BookBatch
    handlers: ClassVar[Mapping[type[IntegrationEvent], Handler]] = {
        SubsidiaryOnboarded: BookBatch.onboarded,
        ProgrammeConfigured: BookBatch.programme_configured,
        ParticipantEnrolled: BookBatch.participant_noted,
        ParticipantProfileUpdated: BookBatch.participant_noted,
        MentorCertified: BookBatch.certified,
        ParticipantWithdrawn: BookBatch.withdrawn,
        ParticipantErased: BookBatch.erased,
        RelationshipCompleted: BookBatch.relationship_completed,
        RelationshipClosed: BookBatch.relationship_closed,
    }

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.view = MatchingView(self)  # what the API reads: the pool, the matches, the runs

    def views(self) -> tuple[MatchingView]:
        return (self.view,)

    # -- commands -----------------------------------------------------------------------

    def start_run(self, subsidiary_id: str, format: str) -> MatchingRun:  # noqa: A002
        book = self.book(subsidiary_id)
        result = run_matching(book, format, self._profiles(book, [p["id"] for p in (*book.eligible_mentors(), *book.waiting_mentees())]))

        def record() -> MatchingRun:
            # The run and its line in the book's list of runs, both or neither; the solve is
            # not redone when the book changed meanwhile (a run is a draft of that moment).
            book = self.book(subsidiary_id)
            run = MatchingRun(subsidiary_id=subsidiary_id, format=format, **result)
            book.note_run(
                run_id=str(run.id), format=format, created_at=run.created_on.isoformat(), proposals=len(result["proposals"]),
                unmatched=len(result["unmatched"]), matched=int(result["summary"]["matched"]),
            )  # fmt: skip
            self.save(book, run)
            return run

        return self.retrying(record)

    def publish_run(self, subsidiary_id: str, run_id: UUID) -> list[str]:
        def publish() -> list[str]:
            run = self.run(subsidiary_id, run_id)
            book = self.book(subsidiary_id)
            if run.status != RunStatus.DRAFT:
                raise Conflict(already_published(str(run.id)))
            rules = rules_of(book)
            profiles = self._profiles(book, [i for p in run.proposals for i in (p["mentor_id"], *p["mentee_ids"])])

            def check_pair(mentor_id: str, mentee_id: str) -> list[Reason]:
                return violations(person(mentor_id, profiles[mentor_id]), person(mentee_id, profiles[mentee_id]), rules)

            try:
                match_ids = book.confirm(run, check_pair)
                run.publish(match_ids)
            except MatchingError as exc:
                raise Conflict(exc.reason, exc.problems) from None
            self.save(book, run)  # both, or neither
            return match_ids

        return self.retrying(publish)

    def decline(self, subsidiary_id: str, match_id: str, by: str, reason: str) -> None:
        def decline() -> None:
            book = self.book(subsidiary_id)
            try:
                book.decline(match_id, by, reason)
            except KeyError:
                raise NotFound(f"match {match_id} not found") from None
            except MatchingError as exc:
                raise Conflict(exc.reason, exc.problems) from None
            self.save(book)

        self.retrying(decline)

    def set_weights(self, subsidiary_id: str, weights: dict[str, int]) -> None:
        def set_weights() -> None:
            book = self.book(subsidiary_id)
            book.set_weights(weights=weights)
            self.save(book)

        self.retrying(set_weights)

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None, projector_func: Any = project_aggregate) -> None:
        # The library's own steps, with the book loaded once (not again for the check).
        aggregate = self.repository.get(aggregate_id, version=version, projector_func=projector_func)
        if isinstance(aggregate, MatchBook) and aggregate.legacy_profiles():
            return  # profiles in the clear: a snapshot is not sealed
        assert self.snapshots is not None  # snapshotting_intervals turns the store on
        self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])

    # -- queries ------------------------------------------------------------------------

    def book(self, subsidiary_id: str) -> MatchBook:
        book = self._book_or_none(subsidiary_id)
        if book is None:
            raise NotFound(f"subsidiary {subsidiary_id!r} not found")
        return book

    def _profiles(self, book: MatchBook, participant_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The candidates' profiles as of the book loaded (or newer): the view, caught up
        after the book was read, has every profile that book knows of. A profile updated
        after this does not conflict with the book's save (only its role is the book's)."""
        return self.view.profiles(book.subsidiary_id, participant_ids)

    def run(self, subsidiary_id: str, run_id: UUID) -> MatchingRun:
        try:
            run: object = self.repository.get(run_id)  # any aggregate may have this id: checked below
        except AggregateNotFoundError:
            run = None
        if not isinstance(run, MatchingRun) or run.subsidiary_id != subsidiary_id:
            raise NotFound(f"matching run {run_id} not found")
        return run

    def _book_or_none(self, subsidiary_id: str) -> MatchBook | None:
        try:
            return self.repository.get(book_id(subsidiary_id))
        except AggregateNotFoundError:
            return None
