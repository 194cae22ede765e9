"""The audit API and the hash chain, on enrolment's real app and real event stores (SQLite,
and PostgreSQL): what auditors read, who may read it, that reads are recorded, and that a
stored row altered, deleted, inserted or swapped behind the service's back is detected."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from apitools import ADMIN_A, ADMIN_B, AUDITOR_A, AUDITOR_ALL, GROUP_ADMIN, NOWHERE, SUB_A, SUB_B
from contracts.personal import is_token
from infra import audit
from infra.audit import AuditClient
from infra.cli import main as tandem
from services.common import audit as audit_api
from services.common.chain import GENESIS, check_logs
from services.common.checkpoints import SigningKey


def audit_events(client: TestClient, slug: str = SUB_A, headers: dict[str, str] = AUDITOR_ALL, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/subsidiaries/{slug}/audit/events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def auditor(client: TestClient) -> AuditClient:
    """The command line's client, speaking to the in-process service as a group-wide auditor."""
    client.headers.update(AUDITOR_ALL)
    return AuditClient(clients={"enrolment": client})


def test_a_subsidiary_history_lists_its_events_in_order_with_a_chain_that_verifies(client: TestClient, world: SimpleNamespace) -> None:
    events = audit_events(client)
    assert [e["position"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events][:4] == ["Subsidiary.Onboarded", "Subsidiary.ProgrammeConfigured", "Participant.Enrolled", "EmailClaim.Claimed"]
    assert events[0]["prev_hash"] == GENESIS
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(events, events[1:]))
    enrolled = events[2]
    assert enrolled["actor"] == {"subject": "tester-group-admin", "role": "group-admin"}
    assert enrolled["payload"]["profile"]["role"] == "mentor"
    assert enrolled["published"]["type"] == "ParticipantEnrolled"
    assert {e["subsidiary_id"] for e in events} == {SUB_A}  # B's events are in B's own log
    assert str(world.mentee_b) not in json.dumps(events)
    [check] = check_logs(events)
    assert check.intact and check.count == len(events)


def test_pages_follow_each_other_and_the_head_is_announced(client: TestClient, world: SimpleNamespace) -> None:
    everything = audit_events(client, limit=5000)
    first = client.get(f"/subsidiaries/{SUB_A}/audit/events", params={"limit": 2}, headers=AUDITOR_ALL)
    assert [e["position"] for e in first.json()] == [1, 2]
    assert int(first.headers["X-Audit-Head"]) == len(everything) + 1  # the first listing's own record
    second = audit_events(client, after=2, limit=2)
    assert [e["position"] for e in second] == [3, 4]
    assert second[0]["hash"] == everything[2]["hash"]


def test_time_bounds_select_what_was_recorded_between_them(client: TestClient, world: SimpleNamespace) -> None:
    events = audit_events(client)
    third = events[2]["recorded_at"]
    assert [e["position"] for e in audit_events(client, until=third)] == [1, 2, 3]
    assert audit_events(client, since=third)[0]["position"] == 3


def test_every_read_of_the_history_is_recorded_with_who_read_it(client: TestClient, world: SimpleNamespace) -> None:
    before = audit_events(client, headers=AUDITOR_A, limit=3)
    reads = [e for e in audit_events(client, headers=ADMIN_A) if e["type"] == "AuditRead.Recorded"]
    assert len(before) == 3
    assert reads[0]["actor"] == {"subject": "tester-auditor", "role": "auditor"}
    assert reads[0]["payload"]["query"]["limit"] == 3 and reads[0]["payload"]["count"] == 3
    assert reads[0]["published"] is None  # reads stay inside the service: nothing goes to Kafka
    # The read of B's history went to B's log, not A's.
    assert not [e for e in audit_events(client, SUB_B) if e["type"] == "AuditRead.Recorded"]


def test_a_replay_is_recorded_in_the_group_log_and_only_group_readers_may_ask_for_one(client: TestClient, world: SimpleNamespace) -> None:
    assert client.get("/audit/replay", headers=AUDITOR_A).status_code == 403
    assert client.get("/audit/replay", headers=ADMIN_A).status_code == 403
    report = client.get("/audit/replay", headers=AUDITOR_ALL).json()
    assert report["ok"] and report["service"] == "enrolment"
    [read] = [e for e in audit_events(client, "-", headers=GROUP_ADMIN) if e["type"] == "AuditRead.Recorded"]
    assert read["actor"] == {"subject": "tester-auditor", "role": "auditor"}
    assert read["payload"]["what"] == "replay" and read["payload"]["count"] == report["events"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [(AUDITOR_ALL, 200), (AUDITOR_A, 200), (GROUP_ADMIN, 200), (ADMIN_A, 200), (ADMIN_B, 404), ({}, 401)],
    ids=["auditor-all", "auditor-A", "group-admin", "admin-A", "admin-B", "no-token"],
)
def test_who_may_read_a_subsidiary_history(client: TestClient, world: SimpleNamespace, headers: dict[str, str], expected: int) -> None:
    assert client.get(f"/subsidiaries/{SUB_A}/audit/events", headers=headers).status_code == expected
    assert client.get(f"/subsidiaries/{SUB_A}/audit/head", headers=headers).status_code == expected


def test_an_unrecorded_read_is_refused_before_anything_is_read(client: TestClient, world: SimpleNamespace) -> None:
    response = client.get(f"/subsidiaries/{SUB_A}/audit/events", params={"limit": 0, "after": -1, "since": "yesterday"}, headers=AUDITOR_ALL)
    assert response.status_code == 422
    assert {tuple(p["loc"]) for p in response.json()["detail"]} == {("query", "limit"), ("query", "after"), ("query", "since")}
    assert not [e for e in audit_events(client) if e["type"] == "AuditRead.Recorded"]


# -- tampering behind the service's back ------------------------------------------------------


def sqlite_store(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "enrolment.db", isolation_level=None)


def first_broken(client: TestClient) -> tuple[int | None, str | None, list[str]]:
    checks, problems = audit.verify_live(auditor(client), SUB_A)
    [check] = [c for c in checks if c.log == SUB_A]
    return check.broken_at, check.reason, problems


def test_an_intact_store_verifies_live(client: TestClient, world: SimpleNamespace) -> None:
    assert first_broken(client) == (None, None, [])


@pytest.mark.sqlite
def test_a_changed_row_is_detected_at_its_position(client: TestClient, world: SimpleNamespace, tandem_home: Path) -> None:
    enrolled = audit_events(client)[3 - 1]
    with sqlite_store(tandem_home) as db:
        db.execute(
            "UPDATE stored_events SET state = replace(state, 'Finance', 'Lending') WHERE rowid = ?", (enrolled["notification_id"],)
        )
    position, reason, _ = first_broken(client)
    assert position == 3 and "do not match its hash" in reason


@pytest.mark.sqlite
def test_a_deleted_row_is_detected(client: TestClient, world: SimpleNamespace, tandem_home: Path) -> None:
    victim = audit_events(client)[4 - 1]
    with sqlite_store(tandem_home) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (victim["notification_id"],))
    position, reason, _ = first_broken(client)
    assert position == 4 and "missing" in reason


@pytest.mark.sqlite
def test_a_deleted_row_with_its_link_is_detected(client: TestClient, world: SimpleNamespace, tandem_home: Path) -> None:
    victim = audit_events(client)[4 - 1]
    with sqlite_store(tandem_home) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (victim["notification_id"],))
        db.execute("DELETE FROM audit_chain WHERE notification_id = ?", (victim["notification_id"],))
    position, reason, _ = first_broken(client)
    assert position == 5 and "missing" in reason


@pytest.mark.sqlite
def test_swapped_rows_are_detected(client: TestClient, world: SimpleNamespace, tandem_home: Path) -> None:
    events = audit_events(client)
    mentor, mentee = events[3 - 1]["notification_id"], events[5 - 1]["notification_id"]
    with sqlite_store(tandem_home) as db:
        states = dict(db.execute("SELECT rowid, state FROM stored_events WHERE rowid IN (?, ?)", (mentor, mentee)).fetchall())
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (states[mentee], mentor))
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (states[mentor], mentee))
    position, _, _ = first_broken(client)
    assert position == 3


@pytest.mark.sqlite
def test_a_row_inserted_behind_the_service_is_reported(client: TestClient, world: SimpleNamespace, tandem_home: Path) -> None:
    with sqlite_store(tandem_home) as db:
        topic, state = db.execute("SELECT topic, state FROM stored_events WHERE rowid = 3").fetchone()
        db.execute(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, 1, ?, ?)",
            ("0" * 32, topic, state.replace(b"Finance", b"Forged")),
        )
    _, _, problems = first_broken(client)
    assert problems and "without a link" in problems[0]


# -- the command line ---------------------------------------------------------------------------


def test_an_export_verifies_and_an_edited_export_does_not(
    client: TestClient, world: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    count = audit.export(auditor(client), SUB_A, None, None, out)
    history = tmp_path / "history.jsonl"
    history.write_text(out.getvalue())
    assert count == len(out.getvalue().splitlines()) > 5

    assert tandem(["audit", "verify", str(history)]) == 0
    assert "INTACT" in capsys.readouterr().out

    lines = [json.loads(line) for line in history.read_text().splitlines()]
    lines[4]["stored"]["state"] = lines[3]["stored"]["state"]  # a row's bytes replaced in the file
    history.write_text("\n".join(json.dumps(line) for line in lines))
    assert tandem(["audit", "verify", str(history)]) == 1
    printed = capsys.readouterr().out
    assert f"enrolment/{SUB_A} position 5" in printed and "NOT INTACT" in printed

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    lines[2]["payload"]["profile"]["role"] = "mentee"  # what a reader sees edited, the hashed bytes left alone
    history.write_text("\n".join(json.dumps(line) for line in lines))
    assert tandem(["audit", "verify", str(history)]) == 1
    assert f"enrolment/{SUB_A}: BROKEN at position 3: its payload is not the stored event's" in capsys.readouterr().out

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    lines[2]["actor"]["subject"] = "someone-else"
    history.write_text("\n".join(json.dumps(line) for line in lines))
    assert tandem(["audit", "verify", str(history)]) == 1
    assert "its actor is not the stored event's" in capsys.readouterr().out

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    del lines[4]  # or a line dropped
    history.write_text("\n".join(json.dumps(line) for line in lines))
    assert tandem(["audit", "verify", str(history)]) == 1
    assert "events are missing" in capsys.readouterr().out


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
def on_postgres(start_service: Callable[..., TestClient], postgres: dict[str, str]) -> tuple[TestClient, dict[str, str]]:
    client = start_service(**postgres)
    for slug in (SUB_A, SUB_B):
        assert client.post("/subsidiaries", json={"id": slug, "name": slug, "timezone": "Europe/Paris", "locale": "fr-FR"}, headers=GROUP_ADMIN).status_code == 201
    return client, postgres


def test_on_postgresql_the_chain_verifies_and_a_changed_row_is_detected(on_postgres: tuple[TestClient, dict[str, str]]) -> None:
    client, settings = on_postgres
    assert first_broken(client) == (None, None, [])
    events = audit_events(client)
    dsn = " ".join(f"{key}={settings[f'POSTGRES_{key.upper()}']}" for key in ("host", "port", "user", "password", "dbname"))
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(
            "UPDATE enrolment_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'Europe/Paris', 'Europe/Rome'), 'UTF8') WHERE notification_id = %s",
            (events[0]["notification_id"],),
        )
    position, reason, _ = first_broken(client)
    assert position == 1 and "do not match its hash" in reason


# -- what an audit read may and may not do ------------------------------------------------------


def test_the_history_of_a_subsidiary_the_service_has_no_log_of_is_not_found_and_records_nothing(client: TestClient, world: SimpleNamespace, events: Any) -> None:
    """Before, such a read answered 200 with nothing and started a log for any name asked."""
    recorder = client.app.state.application.recorder  # type: ignore[attr-defined]
    with events.nothing_recorded():
        assert client.get(f"/subsidiaries/{NOWHERE}/audit/events", headers=AUDITOR_ALL).status_code == 404
        assert client.get(f"/subsidiaries/{NOWHERE}/audit/head", headers=AUDITOR_ALL).status_code == 404
    assert recorder.head(NOWHERE) == (0, GENESIS)
    # Exactly what a subsidiary the token may not see answers.
    hidden = client.get(f"/subsidiaries/{SUB_B}/audit/events", headers=ADMIN_A)
    unknown = client.get(f"/subsidiaries/{NOWHERE}/audit/events", headers=ADMIN_A)
    assert (hidden.status_code, unknown.status_code) == (404, 404)
    assert hidden.json()["detail"].replace(SUB_B, "?") == unknown.json()["detail"].replace(NOWHERE, "?")


def test_a_second_replay_asked_while_one_runs_is_refused(client: TestClient, world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = audit_api._replay

    def slow_replay(application: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(30)
        return real(application)

    monkeypatch.setattr(audit_api, "_replay", slow_replay)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.get, "/audit/replay", headers=AUDITOR_ALL)
        assert started.wait(30)
        second = client.get("/audit/replay", headers=GROUP_ADMIN)
        release.set()
        assert first.result(30).status_code == 200
    assert second.status_code == 409 and "already running" in second.json()["detail"]
    assert client.get("/audit/replay", headers=AUDITOR_ALL).status_code == 200  # and again once it is done
    replays = [e for e in audit_events(client, "-", headers=GROUP_ADMIN) if e["type"] == "AuditRead.Recorded"]
    assert len(replays) == 2  # the refused one read nothing, and records nothing


def test_an_export_holds_sealed_values_and_only_a_reveal_opens_them_which_is_recorded(client: TestClient, world: SimpleNamespace) -> None:
    """Before, an export held every participant's name and email in plaintext."""
    out = io.StringIO()
    audit.export(auditor(client), SUB_A, None, None, out)
    history = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "zoe@axa.fr" not in json.dumps(history, ensure_ascii=False) and "Zoé Leroy" not in json.dumps(history, ensure_ascii=False)
    [enrolled] = [e for e in history if e["type"] == "Participant.Enrolled" and e["published"]["payload"]["participant_id"] == world.mentor]
    assert is_token(enrolled["payload"]["profile"]["personal_data"]["name"])
    assert is_token(enrolled["published"]["payload"]["personal_data"]["email"])
    [check] = check_logs(history)
    assert check.intact  # an auditor verifies the chain without reading anyone's name

    revealed = io.StringIO()
    audit.export(auditor(client), SUB_A, None, None, revealed, reveal=True)
    opened = json.dumps([json.loads(line) for line in revealed.getvalue().splitlines()], ensure_ascii=False)
    assert "zoe@axa.fr" in opened and "Zoé Leroy" in opened
    reads = [e for e in audit_events(client) if e["type"] == "AuditRead.Recorded"]
    assert [r["payload"]["query"]["reveal"] for r in reads] == [False, True]  # the sealed export, then the revealing one
    assert reads[-1]["actor"] == {"subject": "tester-auditor", "role": "auditor"}


def test_on_postgresql_the_heads_of_every_log_are_signed_and_an_export_verifies_against_them(
    on_postgres: tuple[TestClient, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = on_postgres
    key = SigningKey(Ed25519PrivateKey.generate())
    recorder = client.app.state.application.recorder  # type: ignore[attr-defined]
    heads = recorder.heads()
    assert {log for log, _, _ in heads} == {SUB_A, SUB_B}
    assert dict((log, (p, h)) for log, p, h in heads)[SUB_A] == recorder.head(SUB_A)
    checkpoints = [key.sign("enrolment", log, position, hash_).as_json() for log, position, hash_ in heads if log == SUB_A]
    out = io.StringIO()
    audit.export(auditor(client), SUB_A, None, None, out, checkpoints=checkpoints)
    (tmp_path / "history.jsonl").write_text(out.getvalue())
    (tmp_path / "key.pub").write_text(key.public_pem())
    assert tandem(["audit", "verify", str(tmp_path / "history.jsonl"), "--public-key", str(tmp_path / "key.pub")]) == 0
    assert f"signed up to position {checkpoints[0]['position']}" in capsys.readouterr().out
