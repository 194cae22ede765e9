"""The match book: what matching learns from enrolment, and the life of matches. No I/O."""

import uuid
from collections.abc import Iterator

import pytest

from services.common.context import acting
from services.matching.domain import ACTIVE, DECLINED, ENDED, Candidate, MatchBook, MatchingError, MatchingRun
from services.matching.publishing import to_integration_event

CONTEXT = {"subsidiary_id": "axa-fr", "actor": {"subject": "alice", "role": "group-admin"}, "correlation_id": "c1", "causation_id": "r1"}


@pytest.fixture(autouse=True)
def _acting() -> Iterator[None]:
    """Every event a test records is recorded as one command's (services.common.context)."""
    with acting(**CONTEXT):
        yield


def profile(role: str, email: str, birth_year: int, languages=("fr",), themes=("networking",)) -> dict:
    return {
        "role": role,
        "personal_data": {"name": email.split("@")[0], "email": email, "birth_year": birth_year, "manager_email": None},
        "department": "IT" if role == "mentor" else "Finance",
        "site": "Paris",
        "languages": list(languages),
        "themes": list(themes),
        "availability": ["mon-am"],
    }


def new_book() -> MatchBook:
    book = MatchBook(subsidiary_id="axa-fr")
    book.note_programme(settings={"mentor_capacity": 2, "min_age_gap": 1, "mini_session_max": 10, "themes": ["networking"]})
    return book


def add(book: MatchBook, pid: str, role: str, *, certified: bool = False) -> None:
    book.note_role(pid, role)  # what the book keeps of their profile (the rest is their candidate's)
    if certified:
        book.note_certified(participant_id=pid)


def run_of(book: MatchBook, *pairs: tuple[str, str], format: str = "pair") -> MatchingRun:  # noqa: A002
    proposals = [{"mentor_id": m, "mentee_ids": [e], "score": 5, "theme": "networking", "shared_themes": ["networking"], "language": "fr"} for m, e in pairs]
    return MatchingRun(subsidiary_id="axa-fr", format=format, proposals=proposals, unmatched=[], summary={})


def no_violation(mentor, mentee):
    return []


def test_only_certified_mentors_and_waiting_mentees_are_in_the_pool():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "m2", "mentor")  # still in training
    add(book, "e1", "mentee")
    add(book, "e2", "mentee")
    book.note_withdrawn(participant_id="e2", reason="left")
    assert [m["id"] for m in book.eligible_mentors()] == ["m1"]
    assert [e["id"] for e in book.waiting_mentees()] == ["e1"]


def test_the_newest_profile_wins_whatever_the_order_of_arrival():
    candidate = Candidate(subsidiary_id="axa-fr", participant_id="e1")
    newer, older = profile("mentee", "new@axa.fr", 1960), profile("mentee", "old@axa.fr", 1960)
    candidate.note_profile(newer, as_of="2026-02-01T00:00:00+00:00")
    candidate.note_profile(older, as_of="2026-01-01T00:00:00+00:00")
    assert candidate.profile is not None and candidate.profile["personal_data"]["email"] == "new@axa.fr"
    assert len(candidate.pending_events) == 2  # the older one changed nothing, so it is not recorded


def test_an_erased_candidate_stays_erased_whatever_comes_later():
    candidate = Candidate(subsidiary_id="axa-fr", participant_id="e1")
    candidate.note_profile(profile("mentee", "e1@axa.fr", 1960), as_of="2026-01-01T00:00:00+00:00")
    candidate.erase()
    assert candidate.profile is not None and candidate.profile["personal_data"] == dict.fromkeys(["name", "email", "birth_year", "manager_email"])
    candidate.note_profile(profile("mentor", "e1@axa.fr", 1960), as_of="2026-03-01T00:00:00+00:00")  # replayed, late
    recorded = candidate.pending_events[-1]
    assert isinstance(recorded, Candidate.ProfileNoted) and set(recorded.profile["personal_data"].values()) == {None}
    assert candidate.role == "mentor" and candidate.profile["site"] == "Paris"  # what is not personal is kept up to date


def test_the_book_records_a_role_only_when_it_changes():
    book = new_book()
    book.note_role("e1", "mentee")
    book.note_role("e1", "mentee")  # a profile update that kept the role
    book.note_role("e1", "mentor")
    assert [type(e).__name__ for e in book.pending_events[2:]] == ["RoleNoted", "RoleNoted"]
    assert book.participants["e1"]["role"] == "mentor" and book.participants["e1"]["profile"] is None


def test_a_certification_before_the_enrolment_is_kept():
    book = new_book()
    book.note_certified(participant_id="m1")
    assert book.eligible_mentors() == []  # no profile yet
    add(book, "m1", "mentor")
    assert [m["id"] for m in book.eligible_mentors()] == ["m1"]


def test_publishing_confirms_every_proposal_and_never_proposes_those_pairs_again():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "e1", "mentee")
    add(book, "e2", "mentee")
    match_ids = book.confirm(run_of(book, ("m1", "e1"), ("m1", "e2")), no_violation)
    assert [book.matches[m]["status"] for m in match_ids] == [ACTIVE, ACTIVE]
    assert book.capacity_left("m1") == 0 and book.waiting_mentees() == []
    assert book.is_forbidden("m1", "e1") and book.is_forbidden("m1", "e2")


def test_a_run_the_pool_no_longer_allows_is_refused_with_every_reason_and_changes_nothing():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    for e in ("e1", "e2", "e3"):
        add(book, e, "mentee")
    stale = run_of(book, ("m1", "e1"), ("m1", "e2"), ("m1", "e3"))
    book.note_withdrawn(participant_id="e2", reason="left")
    before = len(book.pending_events)
    with pytest.raises(MatchingError) as refused:
        book.confirm(stale, no_violation)
    assert refused.value.reason.code == "pool_changed"
    assert [(p.code, p.params) for p in refused.value.problems] == [
        ("mentee_no_longer_waiting", {"mentee_id": "e2"}),
        ("mentor_capacity_exceeded", {"mentor_id": "m1", "capacity_left": 2, "proposed": 3}),
    ]
    assert [p.message for p in refused.value.problems] == [
        "mentee e2 is no longer waiting (withdrawn or matched meanwhile)",
        "mentor m1 has capacity for 2 more, not 3",
    ]
    assert len(book.pending_events) == before and book.matches == {}


def test_a_withdrawal_ends_the_active_matches_and_frees_the_others():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "e1", "mentee")
    [match_id] = book.confirm(run_of(book, ("m1", "e1")), no_violation)
    book.note_withdrawn(participant_id="m1", reason="left the company")
    assert book.matches[match_id]["status"] == ENDED
    ended = next(e for e in book.pending_events if isinstance(e, MatchBook.MatchEnded))
    assert ended.reason == "the mentor withdrew: left the company"
    assert "reason" not in book.matches[match_id]  # the event says why; the book keeps no free text
    assert [e["id"] for e in book.waiting_mentees()] == ["e1"]


def test_declining_frees_the_members_for_others_but_not_for_each_other():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "e1", "mentee")
    [match_id] = book.confirm(run_of(book, ("m1", "e1")), no_violation)
    with pytest.raises(MatchingError) as not_a_member:
        book.decline(match_id, "someone-else", "no")
    assert not_a_member.value.reason.code == "not_a_match_member" and not_a_member.value.reason.params == {"match_id": match_id}
    assert "someone-else" not in not_a_member.value.reason.message  # what was typed is not echoed
    book.decline(match_id, "e1", "we already work together")
    assert book.matches[match_id]["status"] == DECLINED and book.matches[match_id]["declined_by"] == "e1"
    assert book.capacity_left("m1") == 2 and [e["id"] for e in book.waiting_mentees()] == ["e1"]
    assert book.is_forbidden("m1", "e1")
    with pytest.raises(MatchingError) as again:
        book.decline(match_id, "admin", "again")
    assert again.value.reason.code == "match_already_declined" and again.value.reason.message == "this match is already declined"


def test_only_match_events_are_published_with_their_members():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "e1", "mentee")
    m1, e1 = str(uuid.uuid4()), str(uuid.uuid4())
    add(book, m1, "mentor", certified=True)
    add(book, e1, "mentee")
    run = run_of(book, (m1, e1))
    [match_id] = book.confirm(run, no_violation)
    book.decline(match_id, "admin", "manager's request")
    published = [to_integration_event(e) for e in book.collect_events()]
    kinds = [p.type for p in published if p is not None]
    assert kinds == ["MatchConfirmed", "MatchDeclined"]
    confirmed = next(p for p in published if p is not None)
    assert str(confirmed.payload.mentor_id) == m1 and [str(i) for i in confirmed.payload.mentee_ids] == [e1]
    assert str(confirmed.payload.run_id) == str(run.id) and confirmed.payload.format == "pair"
    assert confirmed.subsidiary_id == "axa-fr" and confirmed.causation_id == "r1"


def test_a_completed_relationship_frees_its_mentor_and_its_mentee_is_not_proposed_again():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "e1", "mentee")
    add(book, "e2", "mentee")
    [match_id, _] = book.confirm(run_of(book, ("m1", "e1"), ("m1", "e2")), no_violation)
    assert book.capacity_left("m1") == 0

    book.note_relationship_completed(match_id=match_id, sessions_held=5)
    assert book.matches[match_id]["status"] == "completed"
    assert book.capacity_left("m1") == 1
    assert book.waiting_mentees() == []  # e1 went through the programme; e2 is still matched
    completed = book.collect_events()[-1]
    assert type(completed).__name__ == "MatchCompleted" and completed.reason == "the relationship completed: 5 sessions held"


def test_a_relationship_closed_early_ends_its_match_and_a_closed_ended_one_changes_nothing():
    book = new_book()
    add(book, "m1", "mentor", certified=True)
    add(book, "e1", "mentee")
    [match_id] = book.confirm(run_of(book, ("m1", "e1")), no_violation)
    book.note_relationship_closed(match_id=match_id, reason="changed jobs")
    assert book.matches[match_id]["status"] == ENDED
    assert book.pending_events[-1].reason == "the relationship was closed: changed jobs"  # type: ignore[attr-defined]
    assert [e["id"] for e in book.waiting_mentees()] == ["e1"] and book.capacity_left("m1") == 2

    # Sessions closing because the match ended here already: nothing more happens.
    book.collect_events()
    book.note_relationship_closed(match_id=match_id, reason="again")
    assert book.collect_events() == []
    assert book.matches[match_id]["status"] == ENDED


def test_a_completed_match_is_published_as_ended_with_the_reason():
    book = new_book()
    m1, e1 = str(uuid.uuid4()), str(uuid.uuid4())
    add(book, m1, "mentor", certified=True)
    add(book, e1, "mentee")
    [match_id] = book.confirm(run_of(book, (m1, e1)), no_violation)
    book.collect_events()
    book.note_relationship_completed(match_id=match_id, sessions_held=5)
    [ended] = [p for p in map(to_integration_event, book.collect_events()) if p is not None]
    assert ended.type == "MatchEnded" and str(ended.payload.match_id) == match_id
    assert ended.payload.reason == "the relationship completed: 5 sessions held" and [str(i) for i in ended.payload.mentee_ids] == [e1]


def group_of(book: MatchBook, mentor: str, *mentees: str) -> MatchingRun:
    proposals = [{"mentor_id": mentor, "mentee_ids": list(mentees), "score": 5, "theme": "networking", "shared_themes": ["networking"], "language": "fr"}]
    return MatchingRun(subsidiary_id="axa-fr", format="mini-session", proposals=proposals, unmatched=[], summary={})


def test_a_mentee_leaving_a_group_leaves_it_and_the_group_goes_on_until_its_last_mentee():
    book = new_book()
    m1, e1, e2 = (str(uuid.uuid4()) for _ in range(3))
    add(book, m1, "mentor", certified=True)
    add(book, e1, "mentee")
    add(book, e2, "mentee")
    [match_id] = book.confirm(group_of(book, m1, e1, e2), no_violation)
    book.collect_events()

    book.note_withdrawn(participant_id=e1, reason="retired")
    match = book.matches[match_id]
    assert (match["status"], match["mentee_ids"]) == (ACTIVE, [e2]) and book.capacity_left(m1) == 1
    [left] = [p for p in map(to_integration_event, book.collect_events()) if p is not None]
    assert left.type == "MatchMemberLeft" and str(left.payload.participant_id) == e1
    assert [str(i) for i in left.payload.mentee_ids] == [e2] and left.payload.reason == "a mentee withdrew: retired"

    book.note_withdrawn(participant_id=e2, reason="moved")
    assert book.matches[match_id]["status"] == ENDED and book.capacity_left(m1) == 2
