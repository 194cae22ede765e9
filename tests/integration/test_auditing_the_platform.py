"""Auditing a running platform with the `tandem audit` command line: the three real
services, the real broker and real SQLite stores. A subsidiary's programme runs from
enrolment to a held session; the auditor exports and verifies its history, asks for the
programme as it stood before the session, has every service replay its read models, and a
new Kafka consumer folds the topics from their beginning into the same programme. Then a
stored row is altered behind the sessions service's back, and the live check names it."""

import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from infra.audit_state import ProgrammeState
from infra.cli import main as tandem
from services.common.consumer import EventConsumer
from stores import on_postgres
from support import TopicReader, pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SLUG = "axa-audit"


def relationships(sessions) -> list[dict]:
    response = sessions.get(f"/subsidiaries/{SLUG}/relationships")
    return response.json() if response.status_code == 200 else []


@pytest.fixture
def running(platform, monkeypatch):
    """The platform with one subsidiary's programme run up to a held session; the command
    line pointed at it (ports and secret, as `tandem up` would give them)."""
    processes = {name: platform.start(name) for name in ("enrolment", "matching", "sessions")}
    for name, process in processes.items():
        monkeypatch.setenv(f"{name.upper()}_PORT", process.url.rsplit(":", 1)[1])
    monkeypatch.setenv("TANDEM_SECRET", platform.secret)
    enrolment, matching, sessions = (platform.client(p) for p in processes.values())

    set_up(enrolment, SLUG, mentors=1, mentees=2, capacity=2, target_sessions=1, session_minutes=60)
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentees"]) == 2)
    run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    assert matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish").status_code == 200
    rels = wait_for(lambda: len(r := relationships(sessions)) == 2 and r)
    time.sleep(0.05)
    before_session = datetime.now(UTC)
    time.sleep(0.05)

    first = rels[0]
    starts = datetime.now(UTC) + timedelta(seconds=2)
    body = {"relationship_id": first["id"], "theme": "networking", "starts_at": starts.isoformat(), "location": "Salle Lumière"}
    session = sessions.post(f"/subsidiaries/{SLUG}/sessions", json=body).json()
    time.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.3)
    path = f"/subsidiaries/{SLUG}/sessions/{session['id']}"
    for member in (first["mentor"]["id"], first["mentees"][0]["id"]):
        assert sessions.post(f"{path}/attendance", json={"participant_id": member, "present": True}).status_code == 200
    assert sessions.post(f"{path}/complete").json()["status"] == "held"
    return {"before_session": before_session, "relationship": first["id"], "session": session["id"], "platform": platform}


def run(capsys, *args: str) -> tuple[int, str]:
    code = tandem(["audit", *args])
    return code, capsys.readouterr().out


def test_an_auditor_exports_verifies_replays_and_sees_the_programme_as_it_stood(running, capsys, tmp_path):
    code, exported = run(capsys, "export", "--subsidiary", SLUG)
    assert code == 0
    history = [json.loads(line) for line in exported.splitlines()]
    assert {e["service"] for e in history} == {"enrolment", "matching", "sessions"}
    times = [e["time"] for e in history]
    assert times == sorted(times)  # one history, in time order
    types = [e["type"] for e in history]
    assert types.index("Participant.Enrolled") < types.index("MatchBook.MatchConfirmed") < types.index("Relationship.SessionHeld")
    (tmp_path / "history.jsonl").write_text(exported)

    code, printed = run(capsys, "verify", str(tmp_path / "history.jsonl"))
    assert code == 0 and "INTACT" in printed and f"sessions/{SLUG}: intact" in printed

    # As it stood before the session: both relationships open, nothing held.
    code, printed = run(capsys, "state", "--subsidiary", SLUG, "--as-of", running["before_session"].isoformat())
    assert code == 0
    then = json.loads(printed)
    assert {r["status"] for r in then["relationships"]} == {"open"} and then["sessions_held"] == []
    assert {p["role"] for p in then["participants"]} == {"mentor", "mentee"} and len(then["participants"]) == 3
    def state_now() -> dict:
        code, printed = run(capsys, "state", "--subsidiary", SLUG, "--as-of", datetime.now(UTC).isoformat())
        assert code == 0
        return json.loads(printed)

    # Matching learns of the completed relationship from sessions' topic, a moment later.
    now = wait_for(lambda: (s := state_now()) and "completed" in {m["status"] for m in s["matches"]} and s)
    assert [s["session_id"] for s in now["sessions_held"]] == [running["session"]]
    assert {r["relationship_id"]: r["status"] for r in now["relationships"]}[running["relationship"]] == "completed"

    # Every service rebuilds its read models from its store: nothing differs.
    code, printed = run(capsys, "replay")
    reports = json.loads(printed)
    assert code == 0 and {r["service"] for r in reports} == {"enrolment", "matching", "sessions"}
    assert all(r["ok"] for r in reports)

    # A new consumer reading the topics from the beginning folds the same programme (with
    # the shared key store, it reads the names sealed on the wire).
    platform = running["platform"]
    keys = platform.keys()
    rebuilt = ProgrammeState(SLUG)
    lock = threading.Lock()

    def fold(events):
        with lock:
            for event in events:
                rebuilt.apply(event)

    topics = [platform.topics.enrolment, platform.topics.matching, platform.topics.sessions]
    consumer = EventConsumer(platform.bootstrap, topics, f"auditor-{uuid.uuid4().hex[:6]}", fold, keys=keys)
    consumer.start()
    try:
        expected = {k: v for k, v in now.items() if k != "as_of"}

        def folded() -> dict:
            with lock:
                return {k: v for k, v in rebuilt.as_dict().items() if k != "as_of"}

        try:
            wait_for(lambda: folded() == expected, timeout=60)
        finally:
            assert folded() == expected  # on failure, shows what differs
    finally:
        consumer.stop()
        keys.close()


def test_a_row_altered_behind_a_service_is_found_by_the_live_check(running, capsys):
    code, printed = run(capsys, "verify", "--live", "--subsidiary", SLUG)
    assert code == 0, printed

    platform = running["platform"]
    if on_postgres():  # the sessions service's own database
        settings = platform.stores("sessions")
        dsn = " ".join(f"{key}={settings[f'POSTGRES_{key.upper()}']}" for key in ("host", "port", "user", "password", "dbname"))
        db, events, chain = psycopg.connect(dsn, autocommit=True), "sessions_events", "sessions_events_chain"
        id_, placeholder = "notification_id", "%s"
    else:
        db, events, chain = sqlite3.connect(platform.home / "sessions.db", isolation_level=None), "stored_events", "audit_chain"
        id_, placeholder = "rowid", "?"
    with db:
        [(row, position, state)] = db.execute(
            f"SELECT k.notification_id, k.position, e.state FROM {chain} k JOIN {events} e ON e.{id_} = k.notification_id "
            f"WHERE k.log = {placeholder} AND e.topic LIKE {placeholder}",
            (SLUG, "%SessionScheduled"),
        ).fetchall()
        assert b"networking" in bytes(state)
        db.execute(f"UPDATE {events} SET state = {placeholder} WHERE {id_} = {placeholder}", (bytes(state).replace(b"networking", b"gardening"), row))
    code, printed = run(capsys, "verify", "--live", "--subsidiary", SLUG)
    assert code == 1
    assert f"first broken: sessions/{SLUG} position {position}" in printed


def test_audit_reads_are_not_published_and_an_empty_topic_is_then_no_loss(platform):
    """A service whose log holds only audit reads has published nothing: its relay must not
    take its empty topic for a broker that lost its events and start over and over."""
    sessions = platform.start("sessions", TANDEM_RELAY_RESET_CHECK_SECONDS="0.2")
    api = platform.client(sessions, role="auditor")
    for _ in range(3):
        assert api.get(f"/subsidiaries/{SLUG}/audit/events").status_code == 200
    assert len(api.get(f"/subsidiaries/{SLUG}/audit/events").json()) == 3  # the three reads before
    wait_for(lambda: platform.client(sessions).get("/healthz").json()["relay"]["lag"] == 0)
    time.sleep(2)  # ten reset checks
    assert "lost its events" not in (platform.home / "sessions.log").read_text()
    with TopicReader(platform.bootstrap, platform.topics.sessions) as topic:
        assert topic.settle() == []
