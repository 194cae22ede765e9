"""Matching's read model: the pool, the matches and the runs of each subsidiary, as the API
lists them, and the candidates' profiles the solver scores.

It follows matching's own log and applies each match book event to a book of its own with
the aggregate's own rules (`event.mutate`), once, in log order: what "the newest profile
wins" or "a released mentor has room again" means is written once, in the domain. Reads then
copy only the page they return, where reading through the repository copied the whole book
(a subsidiary of 5,000 participants took 45 times as long as one of 60). Commands still load
the book through the repository, as the consistency boundary they change.
"""

from collections import Counter
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.common.errors import NotFound
from services.common.view import LogFollowingView
from services.matching.domain import Candidate, MatchBook, candidate_id


@dataclass(frozen=True)
class PoolPage:
    programme: dict[str, Any]
    weights: dict[str, int]
    mentors: list[tuple[dict[str, Any], int]]  # (participant, capacity left), with room, by id
    mentees: list[dict[str, Any]]  # waiting, by id
    full_mentors: int
    total: int  # members the filter keeps, over every page


@dataclass(frozen=True)
class _Pool:
    changes: int  # the subsidiary's events applied when it was worked out
    with_room: list[dict[str, Any]]
    full_mentors: int
    mentees: list[dict[str, Any]]


class MatchingView(LogFollowingView):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.books: dict[UUID, MatchBook] = {}  # by book id
        self.subsidiaries: dict[str, UUID] = {}  # subsidiary -> its book's id
        self.candidates: dict[UUID, Candidate] = {}  # by candidate id
        self.reasons: dict[str, dict[str, str | None]] = {}  # subsidiary -> match -> why it ended (not the book's)
        self._changes: Counter[str] = Counter()  # events applied, per subsidiary
        self._pools: dict[str, _Pool] = {}  # worked out once per change of a subsidiary, not per read

    # -- queries (callers hold no lock: each returns copies) -------------------------------

    def pool(self, subsidiary_id: str, role: str | None, limit: int | None, offset: int) -> PoolPage:
        """Mentors with room first, then waiting mentees, each by id; `role` keeps one kind."""
        self.catch_up()
        with self.lock:
            book = self._book(subsidiary_id)
            pool = self._pool(subsidiary_id, book)
            members = [*(pool.with_room if role != "mentee" else []), *(pool.mentees if role != "mentor" else [])]
            shown = members[offset:] if limit is None else members[offset : offset + limit]
            return PoolPage(
                programme=deepcopy(book.programme),
                weights=dict(book.weights),
                mentors=[(deepcopy(m), book.capacity_left(m["id"])) for m in shown if m["role"] == "mentor"],
                mentees=[deepcopy(m) for m in shown if m["role"] == "mentee"],
                full_mentors=pool.full_mentors,
                total=len(members),
            )

    def profiles(self, subsidiary_id: str, participant_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The newest profile of each of these participants that the subsidiary knows of (copies)."""
        self.catch_up()
        with self.lock:
            book = self._book(subsidiary_id)
            found = {participant_id: self._profile(book, participant_id) for participant_id in participant_ids}
            return {participant_id: deepcopy(profile) for participant_id, profile in found.items() if profile is not None}

    def weights(self, subsidiary_id: str) -> dict[str, int]:
        self.catch_up()
        with self.lock:
            return dict(self._book(subsidiary_id).weights)

    def matches(self, subsidiary_id: str, status: str | None = None, participant_id: str | None = None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            book = self._book(subsidiary_id)
            members = None if participant_id is None else set(book.matches_with(participant_id))
            return [
                self._shown(subsidiary_id, m) for m in book.matches.values()
                if (status is None or m["status"] == status) and (members is None or m["id"] in members)
            ]  # fmt: skip

    def match(self, subsidiary_id: str, match_id: str) -> dict[str, Any]:
        self.catch_up()
        with self.lock:
            match = self._book(subsidiary_id).matches.get(match_id)
            if match is None:
                raise NotFound(f"match {match_id} not found")
            return self._shown(subsidiary_id, match)

    def runs(self, subsidiary_id: str) -> list[dict[str, Any]]:
        """The subsidiary's matching runs in the order started, with their counts."""
        self.catch_up()
        with self.lock:
            return [dict(r) for r in self._book(subsidiary_id).runs.values()]

    def _book(self, subsidiary_id: str) -> MatchBook:
        book_id = self.subsidiaries.get(subsidiary_id)
        if book_id is None:
            raise NotFound(f"subsidiary {subsidiary_id!r} not found")
        return self.books[book_id]

    def _shown(self, subsidiary_id: str, match: dict[str, Any]) -> dict[str, Any]:
        return {**deepcopy(match), "reason": self.reasons.get(subsidiary_id, {}).get(match["id"])}

    def _profile(self, book: MatchBook, participant_id: str) -> dict[str, Any] | None:
        candidate = self.candidates.get(candidate_id(book.subsidiary_id, participant_id))
        if candidate is not None:
            return candidate.profile
        legacy = book.legacy_profile(participant_id)
        return None if legacy is None else legacy[0]

    def _pool(self, subsidiary_id: str, book: MatchBook) -> _Pool:
        pool = self._pools.get(subsidiary_id)
        if pool is None or pool.changes != self._changes[subsidiary_id]:

            def members(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return sorted(({**r, "profile": self._profile(book, r["id"])} for r in records), key=lambda p: p["id"])

            mentors = members(book.eligible_mentors())
            with_room = [m for m in mentors if book.capacity_left(m["id"]) > 0]
            pool = _Pool(self._changes[subsidiary_id], with_room, len(mentors) - len(with_room), members(book.waiting_mentees()))
            self._pools[subsidiary_id] = pool
        return pool

    # -- projection ---------------------------------------------------------------------

    def apply(self, domain_event: Any) -> None:
        # Runs are read from their own aggregate; audit reads are not shown.
        if isinstance(domain_event, MatchBook.Event):
            book = domain_event.mutate(self.books.get(domain_event.originator_id))
            assert book is not None  # None only for an aggregate discarded, and a book never is
            self.books[book.id] = book
            self.subsidiaries[book.subsidiary_id] = book.id
            self._changes[book.subsidiary_id] += 1
            reasons = self.reasons.setdefault(book.subsidiary_id, {})
            if isinstance(domain_event, MatchBook.MatchDeclined | MatchBook.MatchEnded | MatchBook.MatchCompleted):
                reasons[domain_event.match_id] = domain_event.reason
            elif isinstance(domain_event, MatchBook.ParticipantErased):  # their matches' keys are destroyed: as stored now
                for match_id in book.matches_with(domain_event.participant_id):
                    if match_id in reasons:
                        reasons[match_id] = None
        elif isinstance(domain_event, Candidate.Event):
            candidate = domain_event.mutate(self.candidates.get(domain_event.originator_id))
            assert candidate is not None
            self.candidates[candidate.id] = candidate
            self._changes[candidate.subsidiary_id] += 1

    def snapshot(self) -> dict[str, Any]:
        """Each subsidiary's book and candidates, every attribute but unsaved events, as a copy."""
        with self.lock:
            found: dict[str, Any] = {
                book.subsidiary_id: {**_state(book), "reasons": dict(self.reasons.get(book.subsidiary_id, {})), "candidates": {}}
                for book in self.books.values()
            }
            for candidate in self.candidates.values():
                found.setdefault(candidate.subsidiary_id, {"candidates": {}})["candidates"][candidate.participant_id] = _state(candidate)
            return found


def _state(aggregate: Any) -> dict[str, Any]:
    return deepcopy({name.lstrip("_"): value for name, value in vars(aggregate).items() if name != "_pending_events"})
