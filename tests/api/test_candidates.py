"""Matching keeps each participant's profile in a candidate of their own, not in the match
book; books stored before that still serve their profiles, and a participant's candidate
starts from what their book held. On the real stores, through `apply_events`."""

from __future__ import annotations

import uuid
from datetime import timedelta

from contracts import enrolment
from services.common.context import acting
from services.common.replay import replay_read_models
from services.matching.application import MatchingApplication
from services.matching.domain import Candidate, MatchBook, book_id, candidate_id
from test_replay import PROGRAMME, SUB, T0, enrolment_events, profile, store, upstream  # noqa: F401 - store is a fixture

__all__ = ["store"]
PERSONAL = ("name", "email", "birth_year", "manager_email")
HR = {"subsidiary_id": SUB, "actor": {"subject": "hr", "role": "group-admin"}, "correlation_id": "c"}


def kinds(app: MatchingApplication, aggregate_id) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(aggregate_id)]


def test_a_profile_is_kept_by_its_candidate_and_the_book_keeps_only_the_role(store):
    app = MatchingApplication(env=store("matching"))
    mentee = str(uuid.uuid4())
    enrolled = upstream(enrolment.ParticipantEnrolled, SUB, {**profile("mentee", 1), "participant_id": mentee}, T0)
    app.apply_events([upstream(enrolment.SubsidiaryOnboarded, SUB, {"name": "S", "timezone": "Europe/Paris", "locale": "fr-FR"}), enrolled])
    moved = {**profile("mentee", 1), "site": "Lyon", "participant_id": mentee, "changed": ["site"]}
    app.apply_events([upstream(enrolment.ParticipantProfileUpdated, SUB, moved, T0 + timedelta(days=1))])
    assert kinds(app, candidate_id(SUB, mentee)) == ["Opened", "ProfileNoted", "ProfileNoted"]
    assert kinds(app, book_id(SUB)) == ["Opened", "RoleNoted"]  # the update kept the role: nothing for the book
    assert app.book(SUB).participants[mentee]["profile"] is None
    [shown] = app.view.pool(SUB, "mentee", None, 0).mentees
    assert (shown["profile"]["site"], shown["profile"]["personal_data"]["name"]) == ("Lyon", "Mentee 1")
    assert replay_read_models(app)["ok"]


def test_a_book_stored_before_candidates_still_serves_its_profiles_and_hands_them_on(store):
    app = MatchingApplication(env=store("matching"))
    mentor, kept, updated, erased = (str(uuid.uuid4()) for _ in range(4))
    with acting(**HR):  # the book as matching stored it then: the profiles in its own stream
        book = MatchBook(subsidiary_id=SUB)
        book.note_programme(settings=PROGRAMME)
        for n, (pid, role) in enumerate([(mentor, "mentor"), (kept, "mentee"), (updated, "mentee"), (erased, "mentee")]):
            book._participant_noted(participant_id=pid, profile=profile(role, n), as_of=T0.isoformat())
        book.note_certified(participant_id=mentor)
    app.save(book)
    assert {m["profile"]["personal_data"]["name"] for m in app.view.pool(SUB, None, None, 0).mentees} == {"Mentee 1", "Mentee 2", "Mentee 3"}

    older = {**profile("mentee", 2), "site": "Old", "participant_id": updated, "changed": ["site"]}
    newer = {**profile("mentee", 2), "site": "Lyon", "participant_id": updated, "changed": ["site"]}
    app.apply_events([upstream(enrolment.ParticipantProfileUpdated, SUB, older, T0 - timedelta(days=1))])
    assert app.view.profiles(SUB, [updated])[updated]["site"] == "Paris"  # the book's, newer than this one
    # The first event the book takes hands every profile on: the book keeps none any more.
    assert kinds(app, book_id(SUB))[-1] == "ProfilesHandedOn" and not app.book(SUB).legacy_profiles()
    assert kinds(app, candidate_id(SUB, kept)) == ["Opened", "ProfileNoted"]
    app.apply_events([upstream(enrolment.ParticipantProfileUpdated, SUB, newer, T0 + timedelta(days=1))])
    assert app.view.profiles(SUB, [updated])[updated]["site"] == "Lyon"
    app.keys.store.destroy(erased)  # as enrolment does before it publishes the erasure
    app.apply_events([upstream(enrolment.ParticipantErased, SUB, {"participant_id": erased}, T0 + timedelta(days=2))])

    candidate = app.repository.get(candidate_id(SUB, erased))
    assert isinstance(candidate, Candidate) and candidate.erased and candidate.profile is not None
    assert candidate.profile["personal_data"] == dict.fromkeys(PERSONAL) and candidate.profile["site"] == "Paris"
    assert app.view.profiles(SUB, [kept])[kept]["personal_data"]["name"] == "Mentee 1"
    with acting(**HR):
        run = app.start_run(SUB, "pair")
    names = {n for p in run.proposals for n in p["mentee_names"]} | {u["name"] for u in run.unmatched}
    assert names == {"Mentee 1", "Mentee 2"}  # the one erased is in no pool
    assert replay_read_models(app)["ok"]
    fresh = MatchingApplication(env=dict(app.env))  # another process on the same stores
    try:
        assert fresh.view.profiles(SUB, [erased])[erased]["personal_data"] == dict.fromkeys(PERSONAL)
        assert fresh.view.profiles(SUB, [updated])[updated]["site"] == "Lyon"
    finally:
        fresh.close()


def sealed_nowhere(app: MatchingApplication, *values: bytes) -> bool:
    raw = b"".join(e.state for e in app.snapshots.recorder.select_events(book_id(SUB)))  # type: ignore[union-attr]
    return bool(raw) and not any(value in raw for value in values)


def test_a_long_book_is_loaded_from_its_snapshot_which_holds_nothing_personal(store):
    app = MatchingApplication(env=store("matching"))
    events, _, mentees = enrolment_events(SUB, 10, 500)
    withdrawal = upstream(enrolment.ParticipantWithdrawn, SUB, {"participant_id": mentees[0], "role": "mentee", "reason": "burn-out, ask Dr Roche"})
    app.apply_events([*events[:100], withdrawal, *events[100:]])
    book = app.book(SUB)
    [snapshot] = app.snapshots.get(book_id(SUB), desc=True, limit=1)  # type: ignore[union-attr]
    assert snapshot.originator_version == 500 < book.version
    assert sealed_nowhere(app, b"Dr Roche", b"Mentee 1", b"mentee1@axa-fr.com")
    fresh = MatchingApplication(env=store("matching"))  # another process, nothing cached
    try:
        assert vars(fresh.repository.get(book_id(SUB))) == vars(book)
        assert len(fresh.view.pool(SUB, "mentee", None, 0).mentees) == 499
    finally:
        fresh.close()
    assert replay_read_models(app)["ok"]


def test_a_book_holding_profiles_is_not_snapshotted_until_it_has_handed_them_on(store):
    app = MatchingApplication(env=store("matching"))
    with acting(**HR):
        book = MatchBook(subsidiary_id=SUB)
        for n in range(499):
            book._participant_noted(participant_id=str(uuid.uuid4()), profile=profile("mentee", n), as_of=T0.isoformat())
    app.save(book)  # version 500, profiles in the clear in its state
    assert list(app.snapshots.get(book_id(SUB))) == []  # type: ignore[union-attr]
    app.apply_events([upstream(enrolment.MentorCertified, SUB, {"participant_id": str(uuid.uuid4())})])
    app.take_snapshot(book_id(SUB))
    assert sealed_nowhere(app, b"Mentee 1", b"mentee1@axa-fr.com")
    assert len(app.view.pool(SUB, "mentee", None, 0).mentees) == 499
