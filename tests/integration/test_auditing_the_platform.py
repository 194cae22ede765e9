"""Auditing a running platform with the `tandem audit` command line: the three real
services, the real broker and real SQLite stores. A subsidiary's programme runs from
enrolment to a held session; the auditor exports and verifies its history, asks for the
programme as it stood before the session, has every service replay its read models, and a
new Kafka consumer folds the topics from their beginning into the same programme. Then a
stored row is altered behind the sessions service's back, and the live check names it; and a
history rewritten with its links recomputed, or cut, is found against the checkpoints the
services signed and published on Kafka."""

import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

import tampering
from contracts.personal import is_token
from infra import audit
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
    processes = {name: platform.start(name, TANDEM_CHECKPOINT_SECONDS="0.5") for name in ("enrolment", "matching", "sessions")}
    for name, process in processes.items():
        monkeypatch.setenv(f"{name.upper()}_PORT", process.url.rsplit(":", 1)[1])
    monkeypatch.setenv("TANDEM_SECRET", platform.secret)
    # Where the checkpoints are (Kafka) and the platform's home (its signing key, for `audit public-key`).
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", platform.bootstrap)
    monkeypatch.setenv("TANDEM_TOPIC_PREFIX", platform.topics.prefix)
    monkeypatch.setenv("TANDEM_HOME", str(platform.home))
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
    history, checkpoints = audit.split_export([json.loads(line) for line in exported.splitlines()])
    assert {e["service"] for e in history} == {"enrolment", "matching", "sessions"}
    assert checkpoints and {c["log"] for c in checkpoints} == {SLUG}
    enrolled = [e for e in history if e["type"] == "Participant.Enrolled"]
    assert enrolled and all(is_token(e["payload"]["profile"]["personal_data"]["email"]) for e in enrolled)  # sealed, by default
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
        code, printed = run(capsys, "state", "--subsidiary", SLUG, "--as-of", datetime.now(UTC).isoformat(), "--reveal")
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
    for _ in range(3):  # each recorded in the group's log, none published
        assert api.get("/audit/replay").status_code == 200
    assert len(api.get("/subsidiaries/-/audit/events").json()) == 3  # the three replays before
    wait_for(lambda: platform.client(sessions).get("/healthz").json()["relay"]["lag"] == 0)
    time.sleep(2)  # ten reset checks
    assert "lost its events" not in (platform.home / "sessions.log").read_text()
    with TopicReader(platform.bootstrap, platform.topics.sessions) as topic:
        assert topic.settle() == []


def checkpointed(platform, service: str, at_least: int) -> list[dict]:
    """The checkpoints of SLUG the platform published, once `service`'s log is signed that far."""
    def found() -> list[dict] | None:
        checkpoints = audit.read_checkpoints(platform.bootstrap, platform.topics.audit_checkpoints, SLUG)
        signed = max((c["position"] for c in checkpoints if c["service"] == service), default=0)
        return checkpoints if signed >= at_least else None

    return wait_for(found, timeout=30)


@pytest.mark.sqlite  # the attacker writes the SQLite files directly
def test_a_rewritten_or_cut_history_is_found_against_the_checkpoints_the_services_published(running, capsys, tmp_path):
    platform = running["platform"]
    code, public_key = run(capsys, "public-key")
    assert code == 0 and public_key.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "tandem-audit.pub").write_text(public_key)
    key = ["--public-key", str(tmp_path / "tandem-audit.pub")]
    heads = {h["service"]: h for h in audit.AuditClient(platform.token("auditor")).heads(SLUG)}
    checkpointed(platform, "enrolment", heads["enrolment"]["position"])
    checkpointed(platform, "sessions", heads["sessions"]["position"])

    code, exported = run(capsys, "export", "--subsidiary", SLUG)
    assert code == 0 and '"checkpoint"' in exported
    (tmp_path / "before.jsonl").write_text(exported)
    code, printed = run(capsys, "verify", str(tmp_path / "before.jsonl"), *key)
    assert code == 0 and "INTACT" in printed and f"enrolment/{SLUG}: intact" in printed and "signed up to position" in printed, printed

    # The attacker doubles the mentors' capacity (2 -> 50) in enrolment.db and recomputes the links.
    tampering.rewrite_capacity_and_relink(platform.home / "enrolment.db", SLUG, 2, 50)
    code, exported = run(capsys, "export", "--subsidiary", SLUG)
    (tmp_path / "rewritten.jsonl").write_text(exported)
    code, printed = run(capsys, "verify", str(tmp_path / "rewritten.jsonl"))
    assert code == 0 and "INTACT" in printed  # the chain alone cannot tell: what verify said before
    code, printed = run(capsys, "verify", str(tmp_path / "rewritten.jsonl"), *key)
    assert code == 1 and f"REWRITTEN: enrolment/{SLUG} position" in printed, printed
    code, printed = run(capsys, "verify", "--live", "--subsidiary", SLUG, *key)
    assert code == 1 and f"REWRITTEN: enrolment/{SLUG} position" in printed, printed
    # The running service noticed too (its log moved with those reads): it signs no more of it.
    enrolment = platform.processes[0]
    health = wait_for(lambda: (h := platform.client(enrolment).get("/healthz").json())["checkpoints"]["rewritten"] and h)
    assert health["status"] == "degraded" and SLUG in health["checkpoints"]["rewritten"][0]

    # And cuts the last events of sessions' log, with their links.
    tampering.cut_tail(platform.home / "sessions.db", SLUG, keep=heads["sessions"]["position"] - 3)
    code, printed = run(capsys, "verify", "--live", "--subsidiary", SLUG, *key)
    assert code == 1 and f"TRUNCATED: sessions/{SLUG} ends at position" in printed, printed
