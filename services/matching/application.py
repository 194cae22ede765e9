"""Matching's application service: applies enrolment's events to the match books, and runs,
publishes and declines matches. Load, call the domain, save."""

from collections import defaultdict
from functools import partial
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts import IntegrationEvent
from services.common.application import ServiceApplication
from services.common.context import acting
from services.common.errors import Conflict, NotFound
from services.common.personal_data import PersonalDataKeys
from services.matching.domain import PERSONAL_DATA, MatchBook, MatchingError, MatchingRun, already_published, book_id
from services.matching.proposals import person, rules_of, run_matching
from services.matching.scoring import violations
from services.matching.view import MatchingView


class MatchingApplication(ServiceApplication):
    name = "matching"  # also the prefix of its eventsourcing settings, e.g. MATCHING_SQLITE_DBNAME
    # A subsidiary's book is read by every command: keep recent ones in memory, brought up
    # to date with any newer events on each read.
    env = {"AGGREGATE_CACHE_MAXSIZE": "500", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    personal_data = PERSONAL_DATA

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.view = MatchingView(self)  # what the API reads: the pool, the matches, the runs

    # -- what enrolment and sessions publish ----------------------------------------------

    def apply_events(self, events: list[IntegrationEvent]) -> None:
        """Apply a batch of consumed events, at most once each (by event id), one
        transaction per subsidiary. Events of one subsidiary arrive in order on each topic
        (one key, one partition); subsidiaries are independent of each other."""
        by_subsidiary: dict[str, list[IntegrationEvent]] = defaultdict(list)
        for e in events:
            by_subsidiary[e.subsidiary_id].append(e)
            if e.type == "ParticipantErased":
                self.forget_participant(e.payload.participant_id)  # before anything is loaded or sealed
        for subsidiary_id, theirs in by_subsidiary.items():
            self.retrying(partial(self._apply_to_book, subsidiary_id, theirs))

    def _apply_to_book(self, subsidiary_id: str, events: list[IntegrationEvent]) -> None:
        book = self._book_or_none(subsidiary_id)
        for e in events:
            if book is not None and book.has_processed(str(e.event_id)):
                continue  # delivered again: already applied
            # What this event causes is recorded as caused by it, on behalf of its actor.
            with acting(
                subsidiary_id=subsidiary_id, actor=e.actor.model_dump(mode="json"), correlation_id=e.correlation_id, causation_id=str(e.event_id)
            ):
                if book is None:
                    # Normally SubsidiaryOnboarded comes first; open the book whatever comes first.
                    source = str(e.event_id) if e.type == "SubsidiaryOnboarded" else f"opened-for:{e.event_id}"
                    book = MatchBook(subsidiary_id=subsidiary_id, source_event_id=source)
                    if e.type == "SubsidiaryOnboarded":
                        continue
                self._apply(book, e, self.keys)
        if book is not None and book.pending_events:
            self.save(book)

    @staticmethod
    def _apply(book: MatchBook, e: IntegrationEvent, keys: PersonalDataKeys) -> None:
        source = str(e.event_id)
        payload = e.payload.model_dump(mode="json")
        match e.type:
            case "SubsidiaryOnboarded":
                book.note_programme(settings=book.programme, source_event_id=source)
            case "ProgrammeConfigured":
                book.note_programme(settings=payload, source_event_id=source)
            case "ParticipantEnrolled" | "ParticipantProfileUpdated":
                participant_id = payload.pop("participant_id")
                payload.pop("changed", None)
                book.note_participant(
                    participant_id=participant_id, profile=payload, as_of=e.occurred_at.isoformat(), source_event_id=source
                )
            case "MentorCertified":
                book.note_certified(participant_id=payload["participant_id"], source_event_id=source)
            case "ParticipantWithdrawn":
                book.note_withdrawn(participant_id=payload["participant_id"], reason=payload["reason"], source_event_id=source)
            case "ParticipantErased":
                # The free text of their matches goes with them: each match's key is destroyed
                # (again, if this runs again) before the erasure is recorded.
                for match_id in book.matches_with(payload["participant_id"]):
                    keys.erase(match_id)
                book.note_erased(participant_id=payload["participant_id"], source_event_id=source)
            case "RelationshipCompleted":
                book.note_relationship_completed(
                    match_id=payload["match_id"], sessions_held=payload["sessions_held"], source_event_id=source
                )
            case "RelationshipClosed":
                book.note_relationship_closed(match_id=payload["match_id"], reason=payload["reason"], source_event_id=source)

    # -- commands -----------------------------------------------------------------------

    def start_run(self, subsidiary_id: str, format: str) -> MatchingRun:  # noqa: A002
        result = run_matching(self.book(subsidiary_id), format)

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
            if run.status != "draft":
                raise Conflict(already_published(str(run.id)))
            rules = rules_of(book)
            try:
                match_ids = book.confirm(run, check_pair=lambda m, e: violations(person(m), person(e), rules))
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

    # -- queries ------------------------------------------------------------------------

    def book(self, subsidiary_id: str) -> MatchBook:
        book = self._book_or_none(subsidiary_id)
        if book is None:
            raise NotFound(f"subsidiary {subsidiary_id!r} not found")
        return book

    def run(self, subsidiary_id: str, run_id: UUID) -> MatchingRun:
        try:
            run = self.repository.get(run_id)
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
