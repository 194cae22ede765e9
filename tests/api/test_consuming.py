"""Consumed events are applied at most once, on the real stores: their ids are recorded with
their effects, in the same transaction, not kept in an aggregate that grows with each.

Driven in process through `apply_events` (what the consumer calls), over a fresh store."""

from __future__ import annotations

import uuid
from datetime import timedelta

from contracts import enrolment, sessions
from services.common.context import acting
from services.matching.application import MatchingApplication
from services.matching.domain import MatchBook, book_id
from services.sessions.application import SessionsApplication
from services.sessions.domain import roster_id
from test_replay import SUB, enrolment_events, store, upstream  # noqa: F401 - store is a fixture

__all__ = ["store"]


def stored(app: MatchingApplication) -> int:
    return app.recorder.max_notification_id() or 0


def test_a_batch_delivered_again_changes_nothing_and_stores_nothing(store):
    app = MatchingApplication(env=store("matching"))
    events, mentors, mentees = enrolment_events(SUB, 2, 3)
    app.apply_events(events)
    before, version = stored(app), app.book(SUB).version
    app.apply_events(events)  # redelivered, e.g. after a restart before the offsets were committed
    app.apply_events(events[:3] + events[:3])  # and twice in one batch (published twice)
    assert stored(app) == before and app.book(SUB).version == version
    assert app.recorder.applied({str(e.event_id) for e in events}) == {str(e.event_id) for e in events}
    assert len(app.view.pool(SUB, None, None, 0).mentees) == 3


def test_an_event_that_changes_nothing_is_recorded_as_applied_without_an_event_of_its_own(store):
    app = MatchingApplication(env=store("matching"))
    events, _, _ = enrolment_events(SUB, 1, 1)
    app.apply_events(events)
    before = stored(app)
    closed = upstream(sessions.RelationshipClosed, SUB, {"relationship_id": str(uuid.uuid4()), "match_id": str(uuid.uuid4()), "reason": "never opened here", "sessions_held": 0})
    app.apply_events([closed])
    assert stored(app) == before  # the book's stream does not grow with what it ignores
    assert app.recorder.applied({str(closed.event_id)}) == {str(closed.event_id)}


def test_the_effects_and_the_record_of_the_event_are_stored_together(store, monkeypatch):
    """Another writer changes the book between the batch's read and its save: neither the
    effects nor the record of the event are stored, and it is applied again, once, on the
    new state."""
    app = MatchingApplication(env=store("matching"))
    events, _, _ = enrolment_events(SUB, 1, 0)
    certified = next(e for e in events if isinstance(e, enrolment.MentorCertified))
    app.apply_events([e for e in events if e is not certified])
    save, competed = app.save, []

    def save_after_another_writer(*aggregates, **kwargs):
        if kwargs.get("consumed") and not competed:
            competed.append(True)
            with acting(subsidiary_id=SUB, actor={"subject": "hr", "role": "group-admin"}, correlation_id="c"):
                app.set_weights(SUB, {"theme": 2, "same_site": 1, "cross_department": 1, "availability": 1})
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", save_after_another_writer)
    app.apply_events([certified])
    assert competed
    kinds = [type(e).__name__ for e in app.repository.event_store.get(book_id(SUB))]
    assert kinds.count("MentorCertified") == 1 and kinds[-2:] == ["WeightsSet", "MentorCertified"]
    assert app.recorder.applied({str(certified.event_id)}) == {str(certified.event_id)}
    assert [m["id"] for m, _ in app.view.pool(SUB, "mentor", None, 0).mentors] == [str(certified.payload.participant_id)]


def test_events_applied_when_their_ids_were_kept_in_the_book_are_not_applied_again(store):
    """A store from before consumed events were tracked: the book's stream holds the ids."""
    app = MatchingApplication(env=store("matching"))
    events, mentors, mentees = enrolment_events(SUB, 1, 1)
    enrolled = next(e for e in events if isinstance(e, enrolment.ParticipantEnrolled) and e.payload.role == "mentee")
    with acting(subsidiary_id=SUB, actor={"subject": "hr", "role": "group-admin"}, correlation_id="c"):
        book = MatchBook(subsidiary_id=SUB, source_event_id="onboarded-long-ago")
        book.note_withdrawn(participant_id=str(enrolled.payload.participant_id), reason="left")
        book._withdrawn(participant_id=str(enrolled.payload.participant_id), reason="left", source_event_id=str(enrolled.event_id))
    app.save(book)
    app.apply_events([enrolled])  # delivered again after the upgrade: already in the book
    assert app.view.profiles(SUB, [str(enrolled.payload.participant_id)]) == {}
    assert book_id(SUB) == app.book(SUB).id


def test_sessions_shows_the_newest_profile_whatever_the_order_and_nothing_personal_once_erased(store):
    """Enrolment's topic is read in order, but a profile may come again (redelivered, or
    replayed) after a newer one: the newest is shown, and an erased participant stays erased."""
    app = SessionsApplication(env=store("sessions"))
    events, _, [mentee] = enrolment_events(SUB, 0, 1)
    enrolled = next(e for e in events if isinstance(e, enrolment.ParticipantEnrolled))
    newer = {**enrolled.payload.model_dump(mode="json"), "changed": ["name"]}
    newer["personal_data"] = {**newer["personal_data"], "name": "Renamed"}
    updated = upstream(enrolment.ParticipantProfileUpdated, SUB, newer, enrolled.occurred_at + timedelta(days=1))
    app.apply_events([*events[:-1], updated])
    app.apply_events([enrolled])  # older, later
    app.view.catch_up()
    person = app.view.subsidiaries[SUB].participants[mentee]
    assert person["name"] == "Renamed"
    app.apply_events([upstream(enrolment.ParticipantErased, SUB, {"participant_id": mentee})])
    app.apply_events([upstream(enrolment.ParticipantEnrolled, SUB, enrolled.payload.model_dump(mode="json"), enrolled.occurred_at + timedelta(days=2))])
    app.view.catch_up()
    person = app.view.subsidiaries[SUB].participants[mentee]
    assert (person["name"], person["email"], person["erased"]) == (None, None, True)


def test_a_long_roster_is_loaded_from_its_snapshot_and_the_events_since(store):
    app = SessionsApplication(env=store("sessions"))
    events, _, mentees = enrolment_events(SUB, 0, 520)
    app.apply_events(events)
    roster = app.repository.get(roster_id(SUB))
    snapshots = list(app.snapshots.get(roster_id(SUB), desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 500 < roster.version
    fresh = SessionsApplication(env=store("sessions"))  # another process, nothing cached
    assert vars(fresh.repository.get(roster_id(SUB))) == vars(roster)
    assert fresh.repository.get(roster_id(SUB)).rules.themes == roster.rules.themes != []


def test_an_event_the_service_has_no_use_for_is_neither_applied_nor_recorded(store):
    app = MatchingApplication(env=store("matching"))
    events, _, _ = enrolment_events(SUB, 1, 1)
    app.apply_events(events)
    before = stored(app)
    cancelled = upstream(sessions.SessionCancelled, SUB, {"relationship_id": str(uuid.uuid4()), "session_id": str(uuid.uuid4()), "reason": None})
    app.apply_events([cancelled])
    assert stored(app) == before and app.recorder.applied({str(cancelled.event_id)}) == set()
