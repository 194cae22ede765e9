"""Replay: each service's read models rebuilt from its real SQLite store equal the live ones,
and a live read model that went wrong is named, path and values.

The applications are driven in process through their commands and `apply_events` (what
the consumers call), each over its own store in a temporary directory.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import enrolment, matching
from services.common.context import acting
from services.common.replay import replay_read_models
from services.enrolment.application import EnrolmentApplication
from services.matching.application import MatchingApplication
from services.matching.domain import book_id
from services.sessions.application import SessionsApplication
from stores import on_postgres

SUB, SUB_B = "axa-fr", "axa-be"
T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
THEMES = ["networking", "online learning", "information search"]
PROGRAMME = {"themes": THEMES, "mentor_capacity": 3, "mini_session_max": 4, "target_sessions": 2, "session_minutes": 60, "min_age_gap": 1}
CONTEXT = {"actor": {"subject": "tester", "role": "group-admin"}, "correlation_id": "replay-test"}


def in_subsidiary(subsidiary: str) -> AbstractContextManager[dict[str, Any]]:
    """A command's context in this subsidiary, as the HTTP layer sets it from the path."""
    return acting(**CONTEXT, subsidiary_id=subsidiary)


@pytest.fixture
def store(tmp_path, monkeypatch, event_stores):
    """The environment of an application over a fresh store: an SQLite file, or a PostgreSQL
    database on the PostgreSQL run."""
    for prefix in ("", "ENROLMENT_", "MATCHING_", "SESSIONS_"):
        for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME"):
            monkeypatch.delenv(prefix + name, raising=False)
    if on_postgres():
        return event_stores
    return lambda name: {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / f"{name}.db")}


def upstream(cls: Any, subsidiary: str, payload: dict, at: datetime = T0) -> Any:
    return cls(
        event_id=uuid.uuid4(), subsidiary_id=subsidiary, occurred_at=at, producer=cls.PRODUCER,
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="c", payload=payload,
    )


def profile(role: str, n: int, subsidiary: str = SUB) -> dict:
    return {
        "role": role,
        "personal_data": {"name": f"{role.title()} {n}", "email": f"{role}{n}@{subsidiary}.com", "birth_year": 1998 if role == "mentor" else 1962, "manager_email": None},
        "department": f"D{n % 3}", "site": "Paris", "languages": ["fr"], "themes": THEMES[:2], "availability": ["mon-am"],
    }


def enrolment_events(subsidiary: str, mentors: int, mentees: int) -> tuple[list, list[str], list[str]]:
    events = [
        upstream(enrolment.SubsidiaryOnboarded, subsidiary, {"name": subsidiary.upper(), "timezone": "Europe/Paris", "locale": "fr-FR"}, T0 - 60 * DAY),
        upstream(enrolment.ProgrammeConfigured, subsidiary, PROGRAMME, T0 - 60 * DAY),
    ]
    ids: dict[str, list[str]] = {"mentor": [], "mentee": []}
    for role, count in (("mentor", mentors), ("mentee", mentees)):
        for n in range(count):
            pid = str(uuid.uuid4())
            ids[role].append(pid)
            events.append(upstream(enrolment.ParticipantEnrolled, subsidiary, {**profile(role, n, subsidiary), "participant_id": pid}, T0 - 30 * DAY))
            if role == "mentor":
                events.append(upstream(enrolment.MentorCertified, subsidiary, {"participant_id": pid}, T0 - 20 * DAY))
    return events, ids["mentor"], ids["mentee"]


def assert_ok(report: dict, service: str, read_models: list[str]) -> None:
    assert report["ok"], report
    assert report["service"] == service
    assert [r["name"] for r in report["read_models"]] == read_models
    assert all(r["differences"] == [] and r["differences_total"] == 0 for r in report["read_models"])
    assert report["events"] > 0


def paths(report: dict) -> dict[str, tuple[Any, Any]]:
    return {d["path"]: (d["live"], d["rebuilt"]) for r in report["read_models"] for d in r["differences"]}


# -- enrolment --------------------------------------------------------------------------------


def enrolled_world(app: EnrolmentApplication) -> list[uuid.UUID]:
    with acting(**CONTEXT):  # onboarding names the subsidiary itself
        for slug in (SUB, SUB_B):
            app.onboard_subsidiary(slug, slug.upper(), "Europe/Paris", "fr-FR")
    with in_subsidiary(SUB):
        app.configure_programme(SUB, PROGRAMME)
        ids = app.enrol(SUB, [profile("mentor", 1), profile("mentee", 2), profile("mentee", 3)])
        with in_subsidiary(SUB_B):
            app.enrol(SUB_B, [profile("mentee", 1, SUB_B)])
        app.certify(SUB, ids[0])
        app.update_profile(SUB, ids[1], {"site": "Lyon", "email": "new@axa-fr.com"})
        app.withdraw(SUB, ids[2], "moved abroad")
    return ids


def test_enrolment_replays_to_the_same_view(store):
    app = EnrolmentApplication(env=store("enrolment"))
    enrolled_world(app)
    report = replay_read_models(app)
    assert_ok(report, "enrolment", ["EnrolmentView"])
    assert report["events"] == app.recorder.max_notification_id()
    assert report["read_models"][0]["position"] == app.recorder.max_notification_id()


def test_enrolment_names_a_corrupted_view(store):
    app = EnrolmentApplication(env=store("enrolment"))
    mentor, mentee, _ = enrolled_world(app)
    app.view.catch_up()
    app.view.participants[SUB][mentor]["status"] = "withdrawn"
    del app.view.participants[SUB][mentee]
    report = replay_read_models(app)
    assert not report["ok"]
    found = paths(report)
    assert found[f"/participants/{SUB}/{mentor}/status"] == ("withdrawn", "certified")
    live, rebuilt = found[f"/participants/{SUB}/{mentee}"]
    assert live == "<absent>" and rebuilt["site"] == "Lyon" and rebuilt["id"] == str(mentee)
    assert report["read_models"][0]["differences_total"] == 2


def test_enrolment_replays_while_writes_go_on(store):
    app = EnrolmentApplication(env=store("enrolment"))
    enrolled_world(app)
    stop = threading.Event()

    def write() -> None:
        n = 100
        while not stop.is_set():
            with in_subsidiary(SUB):  # a thread of its own: no context is inherited
                app.enrol(SUB, [profile("mentee", n)])
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reports = [replay_read_models(app) for _ in range(5)]
    finally:
        stop.set()
        writer.join()
    assert all(report["ok"] for report in reports), reports


# -- matching ---------------------------------------------------------------------------------


def matched_world(app: MatchingApplication) -> list[str]:
    for subsidiary in (SUB, SUB_B):
        events, mentors, mentees = enrolment_events(subsidiary, 2, 5)
        app.apply_events(events)
    with in_subsidiary(SUB):
        run = app.start_run(SUB, "pair")
        match_ids = app.publish_run(SUB, run.id)
        app.decline(SUB, match_ids[0], "admin", "same team")
    with in_subsidiary(SUB_B):
        app.set_weights(SUB_B, {"theme": 2, "same_site": 1, "cross_department": 1, "availability": 1})
    return match_ids


def test_matching_replays_to_the_same_books(store):
    app = MatchingApplication(env=store("matching"))
    matched_world(app)
    report = replay_read_models(app)
    assert_ok(report, "matching", ["MatchingView", "MatchBook"])


def test_matching_names_a_corrupted_cached_book(store):
    app = MatchingApplication(env=store("matching"))
    match_ids = matched_world(app)
    app.book(SUB)  # in the cache
    cached = app.repository.cache.get(book_id(SUB))
    cached.matches[match_ids[1]]["status"] = "ended"
    cached.weights["theme"] = 9
    report = replay_read_models(app)
    assert not report["ok"]
    assert paths(report) == {f"/{SUB}/matches/{match_ids[1]}/status": ("ended", "active"), f"/{SUB}/weights/theme": (9, 1)}


def test_matching_names_a_corrupted_view(store):
    app = MatchingApplication(env=store("matching"))
    match_ids = matched_world(app)
    app.view.catch_up()
    app.view.books[book_id(SUB)].matches[match_ids[1]]["status"] = "ended"
    report = replay_read_models(app)
    assert not report["ok"]
    view = next(r for r in report["read_models"] if r["name"] == "MatchingView")
    assert [(d["path"], d["live"], d["rebuilt"]) for d in view["differences"]] == [(f"/{SUB}/matches/{match_ids[1]}/status", "ended", "active")]


def test_matching_compares_a_book_saved_after_the_log_was_read(store, monkeypatch):
    """The cache serves a newer version than the log's head when replay read it: the
    rebuilt book catches up to that version, so a write meanwhile is no difference."""
    app = MatchingApplication(env=store("matching"))
    matched_world(app)
    head = app.recorder.max_notification_id()
    with in_subsidiary(SUB):
        app.set_weights(SUB, {"theme": 3, "same_site": 1, "cross_department": 1, "availability": 1})
    monkeypatch.setattr(app.recorder, "max_notification_id", lambda: head)
    report = replay_read_models(app)
    assert_ok(report, "matching", ["MatchingView", "MatchBook"])


# -- sessions ---------------------------------------------------------------------------------


def sessions_world(app: SessionsApplication) -> None:
    events, mentors, mentees = enrolment_events(SUB, 2, 5)
    pairs = []
    for i, mentee in enumerate(mentees[:3]):
        match_id = str(uuid.uuid4())
        pairs.append((match_id, mentors[i % 2], mentee))
        events.append(upstream(matching.MatchConfirmed, SUB, {
            "match_id": match_id, "run_id": str(uuid.uuid4()), "format": "pair", "mentor_id": mentors[i % 2], "mentee_ids": [mentee],
            "theme": "networking", "shared_themes": ["networking"], "language": "fr", "score": 5,
        }))
    group_id = str(uuid.uuid4())
    events.append(upstream(matching.MatchConfirmed, SUB, {
        "match_id": group_id, "run_id": str(uuid.uuid4()), "format": "mini-session", "mentor_id": mentors[1], "mentee_ids": mentees[3:],
        "theme": "networking", "shared_themes": ["networking"], "language": "fr", "score": 2,
    }))
    app.apply_events(events)
    b_events, *_ = enrolment_events(SUB_B, 1, 1)
    app.apply_events(b_events)

    rels = [app.view.relationships(SUB, T0, format="pair")[i]["id"] for i in range(3)]
    group = app.view.relationships(SUB, T0, format="mini-session")[0]["id"]
    by_rel = {r["id"]: r for r in app.view.relationships(SUB, T0)}
    rel, other, closing = (uuid.UUID(r) for r in rels)
    mentor, mentee = by_rel[rels[0]]["mentor"]["id"], by_rel[rels[0]]["mentees"][0]["id"]
    now = T0 + HOUR
    with in_subsidiary(SUB):
        first = app.schedule_session(SUB, rel, "pair", "networking", T0 + DAY, None, "Room 1", None, now)
        second = app.schedule_session(SUB, rel, "pair", "online learning", T0 + 2 * DAY, None, None, "https://meet/x", now)
        app.schedule_session(SUB, other, "pair", "networking", T0 + 3 * DAY, None, "Room 2", None, now)
        app.schedule_session(SUB, uuid.UUID(group), "mini-session", "networking", T0 + 4 * DAY, None, "Room 3", None, now)
        cancelled = app.schedule_session(SUB, closing, "pair", "networking", T0 + 5 * DAY, None, "Room 4", None, now)
        app.reschedule_session(SUB, second, T0 + 2 * DAY + 2 * HOUR, None, None, None, True, now)
        for session, at in ((first, T0 + DAY + 2 * HOUR), (second, T0 + 2 * DAY + 4 * HOUR)):
            app.record_attendance(SUB, session, mentee, True, at)
            app.give_feedback(SUB, session, mentor, 5, "great", at)
            app.complete_session(SUB, session, at)  # the second completes the relationship
        app.add_note(SUB, rel, mentee, "thanks", T0 + 3 * DAY)
        app.cancel_session(SUB, cancelled, "room taken")
        app.close_relationship(SUB, closing, "the mentee changed team")


def test_sessions_replays_to_the_same_view(store):
    app = SessionsApplication(env=store("sessions"))
    sessions_world(app)
    assert app.view.dashboard(SUB, T0 + 40 * DAY)["relationships"] == {"active": 2, "completed": 1, "closed": 1}
    report = replay_read_models(app)
    assert_ok(report, "sessions", ["SessionsView"])


def test_sessions_names_a_corrupted_view(store):
    app = SessionsApplication(env=store("sessions"))
    sessions_world(app)
    app.view.catch_up()
    sub = app.view.subsidiaries[SUB]
    sub.figures.sessions["held"] += 1
    rel_id, row = next(iter(sub.relationships.items()))
    row["status"] = "wrong"
    report = replay_read_models(app)
    assert not report["ok"]
    found = paths(report)
    assert found[f"/subsidiaries/{SUB}/figures/sessions/held"] == (3, 2)
    assert found[f"/subsidiaries/{SUB}/relationships/{rel_id}/status"][0] == "wrong"
    assert len(found) == 2
