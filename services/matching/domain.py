"""Matching's domain model. No I/O.

`MatchBook` holds what must not be double-booked in one subsidiary: its programme and
weights, who may be matched (each participant's role, certification, withdrawal), the
matches, and the pairs never to propose again. It is the consistency boundary: publishing a
run, declining a match and a withdrawal all change the same book, so concurrent changes
conflict in the event store instead of double-booking someone.

`Candidate` is one participant's newest profile, which the solver scores and the pool shows:
a small stream per participant, so the book does not hold (or load) every profile.

`MatchingRun` is a draft: the proposals of one solver run, with their explanations, until
it is published into the book.
"""

from collections.abc import Callable
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.common.context import Aggregate
from services.common.errors import Reason

PairCheck = Callable[[str, str], list[Reason]]  # (mentor id, mentee id) -> the hard constraints they break
NAMESPACE = UUID("3f0c8f7e-8a43-4a4c-9d7b-6d2b1c0e5a21")
DEFAULT_WEIGHTS = {"theme": 1, "same_site": 3, "cross_department": 2, "availability": 1}


class MatchStatus(StrEnum):
    ACTIVE = "active"
    DECLINED = "declined"
    ENDED = "ended"
    COMPLETED = "completed"


class RunStatus(StrEnum):
    DRAFT = "draft"  # proposals only: nothing is final
    PUBLISHED = "published"


ACTIVE, DECLINED, ENDED, COMPLETED = MatchStatus  # (stored as their plain values)


class MatchingError(Exception):
    """A command the domain refuses: `reason` (a stable code, its params, the English
    sentence), and `problems`, every reason it has (the reason itself when it is the only one)."""

    def __init__(self, reason: Reason, problems: list[Reason] | None = None) -> None:
        super().__init__(reason.message)
        self.reason = reason
        self.problems = problems or [reason]


def already_published(run_id: str) -> Reason:
    return Reason("run_already_published", "this run is already published", {"run_id": run_id})


def because(what: str, reason: str | None) -> str:
    """`what: reason`, or `what` alone once the reason is erased."""
    return f"{what}: {reason}" if reason else what


def book_id(subsidiary_id: str) -> UUID:
    return uuid5(NAMESPACE, f"match-book:{subsidiary_id}")


def candidate_id(subsidiary_id: str, participant_id: str) -> UUID:
    return uuid5(NAMESPACE, f"candidate:{subsidiary_id}:{participant_id}")


def without_personal_data(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile once its participant is erased: its personal fields are kept, empty."""
    return {**profile, "personal_data": dict.fromkeys(profile["personal_data"])}


class Candidate(Aggregate):
    """One participant as the solver and the pool see them: their newest profile."""

    class Opened(Aggregate.Created):
        subsidiary_id: str
        participant_id: str

    class ProfileNoted(Aggregate.Event):
        participant_id: str
        profile: dict[str, Any]
        as_of: str

    class Erased(Aggregate.Event):
        participant_id: str

    @staticmethod
    def create_id(subsidiary_id: str, participant_id: str, **_: Any) -> UUID:
        return candidate_id(subsidiary_id, participant_id)

    @event(Opened)
    def __init__(self, subsidiary_id: str, participant_id: str) -> None:
        self.subsidiary_id = subsidiary_id
        self.participant_id = participant_id
        self.profile: dict[str, Any] | None = None
        self.as_of: str | None = None
        self.erased = False

    @property
    def role(self) -> str | None:
        return None if self.profile is None else str(self.profile["role"])

    def note_profile(self, profile: dict[str, Any], as_of: str) -> None:
        """An enrolment or a profile update: the newest wins whatever the order, and once
        erased, a late or replayed profile brings nothing personal back."""
        if self.as_of is None or as_of >= self.as_of:
            self._profile_noted(
                participant_id=self.participant_id, profile=without_personal_data(profile) if self.erased else profile, as_of=as_of
            )

    @event(ProfileNoted)
    def _profile_noted(self, participant_id: str, profile: dict[str, Any], as_of: str) -> None:
        self.profile, self.as_of = profile, as_of

    def erase(self) -> None:
        if not self.erased:
            self._erased(participant_id=self.participant_id)

    @event(Erased)
    def _erased(self, participant_id: str) -> None:
        if self.profile is not None:
            self.profile = without_personal_data(self.profile)
        self.erased = True


class MatchBook(Aggregate):
    # The aggregates' events are declared, not left to @event to make from the methods'
    # signatures, so that mypy knows them (the library subclasses each; names, topics and
    # fields are unchanged).
    class Opened(Aggregate.Created):
        subsidiary_id: str
        source_event_id: str | None

    class ProgrammeNoted(Aggregate.Event):
        settings: dict[str, Any]
        source_event_id: str | None

    class ParticipantNoted(Aggregate.Event):  # only in streams stored before candidates were kept
        participant_id: str
        profile: dict[str, Any]
        as_of: str
        source_event_id: str | None

    class RoleNoted(Aggregate.Event):
        participant_id: str
        role: str

    class ProfilesHandedOn(Aggregate.Event):  # to their candidates, once, by a book stored with them
        participant_ids: list[str]

    class ParticipantErased(Aggregate.Event):
        participant_id: str
        source_event_id: str | None

    class MentorCertified(Aggregate.Event):
        participant_id: str
        source_event_id: str | None

    class ParticipantWithdrawn(Aggregate.Event):
        participant_id: str
        reason: str | None  # sealed: None once their personal data is erased
        source_event_id: str | None

    class SourceNoted(Aggregate.Event):
        source_event_id: str | None

    class WeightsSet(Aggregate.Event):
        weights: dict[str, int]

    class RunStarted(Aggregate.Event):
        run_id: str
        format: str
        created_at: str
        proposals: int
        unmatched: int
        matched: int

    class RunPublished(Aggregate.Event):
        run_id: str
        confirmed: int

    class MatchConfirmed(Aggregate.Event):
        match_id: str
        run_id: str
        format: str
        proposal: dict[str, Any]

    class MatchDeclined(Aggregate.Event):
        match_id: str
        mentor_id: str
        mentee_ids: list[str]
        by: str
        reason: str

    class MatchEnded(Aggregate.Event):
        match_id: str
        mentor_id: str
        mentee_ids: list[str]
        reason: str

    class MatchMemberLeft(Aggregate.Event):
        match_id: str
        mentor_id: str
        participant_id: str
        mentee_ids: list[str]
        reason: str

    class MatchCompleted(Aggregate.Event):
        match_id: str
        mentor_id: str
        mentee_ids: list[str]
        reason: str

    @staticmethod
    def create_id(subsidiary_id: str, **_: Any) -> UUID:
        return book_id(subsidiary_id)

    @event(Opened)
    def __init__(self, subsidiary_id: str, source_event_id: str | None = None) -> None:
        self.subsidiary_id = subsidiary_id
        self.programme: dict[str, Any] = {}
        self.weights: dict[str, int] = dict(DEFAULT_WEIGHTS)
        # Who may be matched: role, certified, withdrawn, erased, completed (their profiles
        # are their candidates'; streams stored before those were kept hold them here too).
        self.participants: dict[str, dict[str, Any]] = {}
        # No free text (why a match ended, why someone withdrew): no rule reads it, and so the
        # book holds nothing personal once its profiles are its candidates' (it is snapshotted;
        # the view shows the reasons, from the events).
        self.matches: dict[str, dict[str, Any]] = {}
        self.forbidden: dict[str, bool] = {}  # "mentor:mentee" -> True
        # Kept with the matches so the pool is read without scanning them.
        self.mentor_load: dict[str, int] = {}  # mentor id -> active matches led
        self.mentee_match: dict[str, str] = {}  # mentee id -> their active match
        # Consumed events applied while their ids were kept here (an inbox that grew with
        # every event): the ids in streams stored then. They are now recorded with their
        # effects in the store (services/common/consuming.py); new events carry none.
        self.processed: dict[str, bool] = {}
        self._noted(source_event_id)
        # The subsidiary's matching runs, in the order started, with their counts: listed
        # without loading every run (each is an aggregate of its own).
        self.runs: dict[str, dict[str, Any]] = {}

    # -- what enrolment tells us (each at most once, in any order) ------------------------

    def has_processed(self, source_event_id: str) -> bool:
        return source_event_id in self.processed

    def _noted(self, source_event_id: str | None) -> None:
        if source_event_id is not None:
            self.processed[source_event_id] = True

    @event(ProgrammeNoted)
    def note_programme(self, settings: dict[str, Any], source_event_id: str | None = None) -> None:
        self.programme = settings
        self._noted(source_event_id)

    def note_role(self, participant_id: str, role: str) -> None:
        """What the book needs of a participant's profile, recorded when it changes: their
        role (the candidate has decided which profile is the newest)."""
        if self.participants.get(participant_id, {}).get("role") != role:
            self._role_noted(participant_id=participant_id, role=role)

    @event(RoleNoted)
    def _role_noted(self, participant_id: str, role: str) -> None:
        self._participant(participant_id)["role"] = role

    def legacy_profile(self, participant_id: str) -> tuple[dict[str, Any], str] | None:
        """The profile and its instant as the book held it before candidates were kept."""
        record = self.participants.get(participant_id)
        return None if record is None or record["profile"] is None else (record["profile"], record["as_of"])

    def legacy_profiles(self) -> dict[str, tuple[dict[str, Any], str]]:
        return {p["id"]: (p["profile"], p["as_of"]) for p in self.participants.values() if p["profile"] is not None}

    def hand_on_profiles(self, participant_ids: list[str]) -> None:
        """Their candidates hold these profiles now: the book forgets them (and so holds
        nothing personal, and may be snapshotted)."""
        if participant_ids:
            self._profiles_handed_on(participant_ids=participant_ids)

    @event(ProfilesHandedOn)
    def _profiles_handed_on(self, participant_ids: list[str]) -> None:
        for participant_id in participant_ids:
            self.participants[participant_id].update(profile=None, as_of=None)

    @event(ParticipantNoted)
    def _participant_noted(self, participant_id: str, profile: dict[str, Any], as_of: str, source_event_id: str | None = None) -> None:
        # As applied then: the newest profile won whatever the order; an erased one stayed erased.
        record = self._participant(participant_id)
        if record["as_of"] is None or as_of >= record["as_of"]:
            if record["erased"]:
                profile = without_personal_data(profile)
            record.update(role=profile["role"], profile=profile, as_of=as_of)
        self._noted(source_event_id)

    @event(ParticipantErased)
    def note_erased(self, participant_id: str, source_event_id: str | None = None) -> None:
        """Their personal data is erased: none of it is kept (their matches stay, and they
        withdrew first, so no rule needs it). The free text of the matches they are in goes
        too: the application destroys those matches' keys (`matches_with`)."""
        record = self._participant(participant_id)
        if record["profile"] is not None:
            record["profile"] = without_personal_data(record["profile"])
        record["erased"] = True
        self._noted(source_event_id)

    def matches_with(self, participant_id: str) -> list[str]:
        """The matches, whatever their status, whose mentor or mentees include the participant."""
        return [m["id"] for m in self.matches.values() if participant_id == m["mentor_id"] or participant_id in m["mentee_ids"]]

    @event(MentorCertified)
    def note_certified(self, participant_id: str, source_event_id: str | None = None) -> None:
        self._participant(participant_id)["certified"] = True
        self._noted(source_event_id)

    def note_withdrawn(self, participant_id: str, reason: str | None) -> None:
        """The participant leaves: their active matches end, and the others are freed; a
        mini-session group that still has mentees goes on without the mentee who left."""
        for match in self.active_matches_of(participant_id):
            why = because(f"{self._who(match, participant_id)} withdrew", reason)
            if match["mentor_id"] != participant_id and len(match["mentee_ids"]) > 1:
                remaining = [m for m in match["mentee_ids"] if m != participant_id]
                self._member_left(
                    match_id=match["id"], mentor_id=match["mentor_id"], participant_id=participant_id, mentee_ids=remaining, reason=why
                )
            else:
                self.end_match(match["id"], why)
        self._withdrawn(participant_id=participant_id, reason=reason)

    @event(ParticipantWithdrawn)
    def _withdrawn(self, participant_id: str, reason: str | None, source_event_id: str | None = None) -> None:
        self._participant(participant_id)["withdrawn"] = True
        self._noted(source_event_id)

    def _participant(self, participant_id: str) -> dict[str, Any]:
        return self.participants.setdefault(
            participant_id,
            {
                "id": participant_id, "role": None, "profile": None, "as_of": None, "certified": False, "withdrawn": False,
                "erased": False,
            },
        )

    # -- what sessions tells us -------------------------------------------------------------

    def note_relationship_completed(self, match_id: str, sessions_held: int) -> None:
        """The relationship held its sessions: the mentor's place is free again, and its
        mentees have been through the programme (they are not proposed again)."""
        if self._is_active(match_id):
            match = self.matches[match_id]
            self._completed(
                match_id=match_id,
                mentor_id=match["mentor_id"],
                mentee_ids=match["mentee_ids"],
                reason=f"the relationship completed: {sessions_held} sessions held",
            )

    def note_relationship_closed(self, match_id: str, reason: str | None) -> None:
        """Closed early in sessions (by an admin): the match ends and its members return to
        the pool. Closed because the match ended here already: nothing more to do."""
        if self._is_active(match_id):
            self.end_match(match_id, because("the relationship was closed", reason))

    @event(SourceNoted)  # only in streams stored before consumed events were tracked
    def _source_noted(self, source_event_id: str | None = None) -> None:
        self._noted(source_event_id)

    def _is_active(self, match_id: str) -> bool:
        return match_id in self.matches and self.matches[match_id]["status"] == ACTIVE

    # -- the programme's own settings -------------------------------------------------------

    @event(WeightsSet)
    def set_weights(self, weights: dict[str, int]) -> None:
        self.weights = weights

    # -- the pool ---------------------------------------------------------------------------

    @property
    def mentor_capacity(self) -> int:
        return int(self.programme.get("mentor_capacity", 5))

    def active_matches_of(self, participant_id: str) -> list[dict[str, Any]]:
        if participant_id in self.mentee_match:
            return [self.matches[self.mentee_match[participant_id]]]
        return [m for m in self.matches.values() if m["status"] == ACTIVE and m["mentor_id"] == participant_id]

    def capacity_left(self, mentor_id: str) -> int:
        return max(0, self.mentor_capacity - self.mentor_load.get(mentor_id, 0))

    def eligible_mentors(self) -> list[dict[str, Any]]:
        """Certified mentors, not withdrawn, whose profile is known (a role is known only
        from a profile)."""
        return [
            p for p in self.participants.values()
            if p["role"] == "mentor" and p["certified"] and not p["withdrawn"] and not p.get("erased")
        ]

    def waiting_mentees(self) -> list[dict[str, Any]]:
        """Mentees not withdrawn, whose profile is known, in no active match, who have not
        completed a relationship yet."""
        return [
            p for p in self.participants.values()
            if p["role"] == "mentee" and not p["withdrawn"] and p["id"] not in self.mentee_match
            and not p.get("completed") and not p.get("erased")
        ]

    def is_forbidden(self, mentor_id: str, mentee_id: str) -> bool:
        return self.forbidden.get(f"{mentor_id}:{mentee_id}", False)

    # -- matching runs ----------------------------------------------------------------------

    @event(RunStarted)
    def note_run(self, run_id: str, format: str, created_at: str, proposals: int, unmatched: int, matched: int) -> None:  # noqa: A002
        self.runs[run_id] = {
            "id": run_id, "format": format, "created_at": created_at, "status": RunStatus.DRAFT,
            "proposals": proposals, "unmatched": unmatched, "matched": matched, "confirmed": None,
        }  # fmt: skip

    @event(RunPublished)
    def _run_published(self, run_id: str, confirmed: int) -> None:
        self.runs[run_id].update(status=RunStatus.PUBLISHED, confirmed=confirmed)

    # -- matches ----------------------------------------------------------------------------

    def confirm(self, run: "MatchingRun", check_pair: PairCheck) -> list[str]:
        """Turn a run's proposals into matches, if the pool still allows every one of them.
        `check_pair(mentor_id, mentee_id)` gives the hard constraints a pair breaks today."""
        problems = self._problems_with(run, check_pair)
        if problems:
            raise MatchingError(Reason("pool_changed", "the pool changed since the run in a way that invalidates it", {"run_id": str(run.id)}), problems)
        match_ids = []
        for index, proposal in enumerate(run.proposals):
            match_id = str(uuid5(NAMESPACE, f"match:{run.id}:{index}"))
            self._confirmed(match_id=match_id, run_id=str(run.id), format=run.format, proposal=proposal)
            match_ids.append(match_id)
        if str(run.id) in self.runs:  # a run started before the book kept its runs is not listed
            self._run_published(run_id=str(run.id), confirmed=len(match_ids))
        return match_ids

    def _problems_with(self, run: "MatchingRun", check_pair: PairCheck) -> list[Reason]:
        problems = []
        mentors = {m["id"]: m for m in self.eligible_mentors()}
        mentees = {e["id"]: e for e in self.waiting_mentees()}
        led: dict[str, int] = {}
        for proposal in run.proposals:
            mentor_id = proposal["mentor_id"]
            led[mentor_id] = led.get(mentor_id, 0) + 1
            if mentor_id not in mentors:
                problems.append(
                    Reason("mentor_no_longer_available", f"mentor {mentor_id} is no longer available (withdrawn or unknown)", {"mentor_id": mentor_id})
                )
                continue
            for mentee_id in proposal["mentee_ids"]:
                pair = {"mentor_id": mentor_id, "mentee_id": mentee_id}
                if mentee_id not in mentees:
                    problems.append(
                        Reason("mentee_no_longer_waiting", f"mentee {mentee_id} is no longer waiting (withdrawn or matched meanwhile)", {"mentee_id": mentee_id})
                    )
                elif self.is_forbidden(mentor_id, mentee_id):
                    problems.append(Reason("pair_declined_meanwhile", f"mentor {mentor_id} and mentee {mentee_id} were declined or matched meanwhile", pair))
                else:
                    # A rule the pair breaks now (e.g. a profile updated since the run): its own code.
                    problems.extend(
                        Reason(broken.code, f"mentor {mentor_id} and mentee {mentee_id}: {broken.message}", {**pair, **broken.params})
                        for broken in check_pair(mentor_id, mentee_id)
                    )
        problems.extend(
            Reason(
                "mentor_capacity_exceeded",
                f"mentor {mentor_id} has capacity for {self.capacity_left(mentor_id)} more, not {count}",
                {"mentor_id": mentor_id, "capacity_left": self.capacity_left(mentor_id), "proposed": count},
            )
            for mentor_id, count in sorted(led.items())
            if mentor_id in mentors and count > self.capacity_left(mentor_id)
        )
        return problems

    @event(MatchConfirmed)
    def _confirmed(self, match_id: str, run_id: str, format: str, proposal: dict[str, Any]) -> None:  # noqa: A002
        self.matches[match_id] = {
            "id": match_id,
            "run_id": run_id,
            "format": format,
            "mentor_id": proposal["mentor_id"],
            "mentee_ids": list(proposal["mentee_ids"]),
            "theme": proposal.get("theme"),
            "shared_themes": proposal.get("shared_themes", []),
            "language": proposal.get("language"),
            "score": proposal["score"],
            "status": ACTIVE,
            "declined_by": None,
        }
        self.mentor_load[proposal["mentor_id"]] = self.mentor_load.get(proposal["mentor_id"], 0) + 1
        for mentee_id in proposal["mentee_ids"]:
            self.mentee_match[mentee_id] = match_id
            # Matched once is never proposed again, whatever becomes of the match.
            self.forbidden[f"{proposal['mentor_id']}:{mentee_id}"] = True

    def decline(self, match_id: str, by: str, reason: str) -> None:
        match = self._active_match(match_id)
        if by != "admin" and by != match["mentor_id"] and by not in match["mentee_ids"]:
            # `by` is not echoed: it is whatever was typed.
            raise MatchingError(
                Reason("not_a_match_member", "the one declining is not a member of this match: give a member's participant id or 'admin'", {"match_id": match_id})
            )
        self._declined(match_id=match_id, mentor_id=match["mentor_id"], mentee_ids=match["mentee_ids"], by=by, reason=reason)

    @event(MatchDeclined)
    def _declined(self, match_id: str, mentor_id: str, mentee_ids: list[str], by: str, reason: str) -> None:
        self.matches[match_id].update(status=DECLINED, declined_by=by)
        self._release(self.matches[match_id])

    def end_match(self, match_id: str, reason: str) -> None:
        match = self._active_match(match_id)
        self._ended(match_id=match_id, mentor_id=match["mentor_id"], mentee_ids=match["mentee_ids"], reason=reason)

    @event(MatchEnded)
    def _ended(self, match_id: str, mentor_id: str, mentee_ids: list[str], reason: str) -> None:
        self.matches[match_id]["status"] = ENDED
        self._release(self.matches[match_id])

    @event(MatchMemberLeft)
    def _member_left(self, match_id: str, mentor_id: str, participant_id: str, mentee_ids: list[str], reason: str) -> None:
        self.matches[match_id]["mentee_ids"] = list(mentee_ids)
        self.mentee_match.pop(participant_id, None)

    @event(MatchCompleted)
    def _completed(self, match_id: str, mentor_id: str, mentee_ids: list[str], reason: str) -> None:
        match = self.matches[match_id]
        match["status"] = COMPLETED
        self._release(match)
        for mentee_id in match["mentee_ids"]:
            self._participant(mentee_id)["completed"] = True

    def _release(self, match: dict[str, Any]) -> None:
        self.mentor_load[match["mentor_id"]] -= 1
        for mentee_id in match["mentee_ids"]:
            self.mentee_match.pop(mentee_id, None)

    def _active_match(self, match_id: str) -> dict[str, Any]:
        match = self.matches.get(match_id)
        if match is None:
            raise KeyError(match_id)
        if match["status"] != ACTIVE:
            raise MatchingError(Reason(f"match_already_{match['status']}", f"this match is already {match['status']}", {"match_id": match_id}))
        return match

    @staticmethod
    def _who(match: dict[str, Any], participant_id: str) -> str:
        return "the mentor" if match["mentor_id"] == participant_id else "a mentee"


class MatchingRun(Aggregate):
    """A draft: nothing is final until it is published."""

    class Created(Aggregate.Created):
        subsidiary_id: str
        format: str
        proposals: list[dict[str, Any]]
        unmatched: list[dict[str, Any]]
        summary: dict[str, Any]

    class Published(Aggregate.Event):
        match_ids: list[str]


    @event(Created)
    def __init__(
        self,
        subsidiary_id: str,
        format: str,  # noqa: A002
        proposals: list[dict[str, Any]],
        unmatched: list[dict[str, Any]],
        summary: dict[str, Any],
    ) -> None:
        self.subsidiary_id = subsidiary_id
        self.format = format
        self.proposals = proposals
        self.unmatched = unmatched
        self.summary = summary
        self.status = RunStatus.DRAFT
        self.match_ids: list[str] = []

    def publish(self, match_ids: list[str]) -> None:
        if self.status != RunStatus.DRAFT:
            raise MatchingError(already_published(str(self.id)))
        self._published(match_ids=match_ids)

    @event(Published)
    def _published(self, match_ids: list[str]) -> None:
        self.status = RunStatus.PUBLISHED
        self.match_ids = match_ids


# Where each stored event holds personal data, and whose: sealed with that participant's key
# when stored (services/common/personal_data.py). {event class: {path: path of the participant id}}
_PROPOSAL_NAMES = {
    "mentor_name": "mentor_id",
    "mentee_names[]": "mentee_ids[]",
    "explanation.members[].name": "explanation.members[].mentee_id",
}
_PROFILE = {f"profile.personal_data.{field}": "participant_id" for field in ("name", "email", "birth_year", "manager_email")}
PERSONAL_DATA: dict[type, dict[str, str]] = {
    Candidate.ProfileNoted: _PROFILE,
    MatchBook.ParticipantNoted: _PROFILE,
    # A proposal shows names beside the ids (and nothing else personal): in its run, and in
    # the match it becomes.
    MatchingRun.Created: {
        **{f"proposals[].{path}": f"proposals[].{subject}" for path, subject in _PROPOSAL_NAMES.items()},
        "unmatched[].name": "unmatched[].participant_id",
    },
    MatchBook.MatchConfirmed: {f"proposal.{path}": f"proposal.{subject}" for path, subject in _PROPOSAL_NAMES.items()},
    # Free text. A participant's own words: their key. What is about a match (and may quote or
    # name any of its members): the match's own key, destroyed when any member is erased.
    MatchBook.ParticipantWithdrawn: {"reason": "participant_id"},
    MatchBook.MatchMemberLeft: {"reason": "participant_id"},
    MatchBook.MatchDeclined: {"reason": "match_id"},
    MatchBook.MatchEnded: {"reason": "match_id"},
    MatchBook.MatchCompleted: {"reason": "match_id"},
}
