"""Matching's application service on the library's in-memory store: consuming enrolment's
events is idempotent and does not depend on how subsidiaries' events interleave."""

import random
import uuid
from datetime import UTC, datetime, timedelta

from contracts import enrolment as published
from services.matching.application import MatchingApplication

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def event(cls, subsidiary: str, payload: dict, seconds: int = 0):
    return cls(
        event_id=uuid.uuid4(), subsidiary_id=subsidiary, occurred_at=T0 + timedelta(seconds=seconds), producer="enrolment",
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="c", payload=payload,
    )


def history(subsidiary: str, rng: random.Random) -> list:
    """One subsidiary's events, in the order enrolment published them."""
    events = [
        event(published.SubsidiaryOnboarded, subsidiary, {"name": subsidiary, "timezone": "Europe/Paris", "locale": "fr-FR"}),
        event(published.ProgrammeConfigured, subsidiary, {"themes": ["networking"], "mentor_capacity": 2, "mini_session_max": 10, "target_sessions": 5, "session_minutes": 90, "min_age_gap": 1}),
    ]
    for n in range(8):
        role = "mentor" if n < 3 else "mentee"
        pid = str(uuid.uuid4())
        profile = {
            "participant_id": pid, "role": role,
            "personal_data": {"name": f"P{n}", "email": f"p{n}@{subsidiary}.com", "birth_year": 1998 if role == "mentor" else rng.randint(1955, 1975), "manager_email": None},
            "department": f"D{rng.randint(1, 3)}", "site": rng.choice(["Paris", "Lyon"]), "languages": ["fr"], "themes": ["networking"], "availability": [],
        }
        events.append(event(published.ParticipantEnrolled, subsidiary, profile, n))
        if role == "mentor":
            events.append(event(published.MentorCertified, subsidiary, {"participant_id": pid}, n))
        if n == 5:
            events.append(event(published.ParticipantProfileUpdated, subsidiary, {**profile, "site": "Nantes", "changed": ["site"]}, 100))
        if n == 6:
            events.append(event(published.ParticipantWithdrawn, subsidiary, {"participant_id": pid, "role": role, "reason": "left"}, 200))
    return events


def state(app: MatchingApplication, subsidiary: str) -> dict:
    book = app.book(subsidiary)
    profiles = app.view.profiles(subsidiary, list(book.participants))
    return {"participants": book.participants, "profiles": profiles, "programme": book.programme, "matches": book.matches}


def interleave(rng: random.Random, *streams: list) -> list:
    """A random merge that keeps each stream's own order (as partitions do)."""
    queues = [list(s) for s in streams]
    merged = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        merged.append(queue.pop(0))
    return merged


def test_interleaving_and_redelivery_change_nothing():
    rng = random.Random(7)
    a, b = history("sub-a", rng), history("sub-b", rng)
    reference = MatchingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    reference.apply_events(a + b)
    for trial in range(5):
        app = MatchingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        merged = interleave(rng, a, b)
        cut = rng.randint(1, len(merged) - 1)
        app.apply_events(merged[:cut])  # in two batches,
        app.apply_events(merged)  # the first one delivered again
        app.apply_events(rng.sample(merged, len(merged) // 2))  # and some once more
        for subsidiary in ("sub-a", "sub-b"):
            assert state(app, subsidiary) == state(reference, subsidiary), trial
        assert app.recorder.max_notification_id() == reference.recorder.max_notification_id()  # no event recorded twice


def test_the_pool_reflects_updates_and_withdrawals():
    app = MatchingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.apply_events(history("sub-a", random.Random(1)))
    book = app.book("sub-a")
    assert len(book.eligible_mentors()) == 3
    mentees = book.waiting_mentees()
    assert len(mentees) == 4  # 5 enrolled, 1 withdrew
    assert "Nantes" in {p["site"] for p in app.view.profiles("sub-a", [m["id"] for m in mentees]).values()}
