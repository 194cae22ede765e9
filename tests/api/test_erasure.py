"""The right to erasure in enrolment: DELETE .../participants/{pid}/personal-data, on the real
app and its real SQLite stores (events and keys): who may, what it records, what is left.
The conftest's world: in A, the mentor Zoé Leroy (zoe@axa.fr) and the mentee Jeanne Martin
(jeanne@axa.fr); in B, one mentee."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from apitools import ADMIN_A, AUDITOR_A, AUDITOR_ALL, GROUP_ADMIN, PRINCIPALS, SUB_A, SUB_B, participant
from services.common.chain import check_logs
from services.common.key_wrapping import WrappingKeyError, new_wrapping_key
from services.common.personal_data import KeyStore, PersonalDataKeys, PostgresKeyStore, SQLiteKeyStore, key_store_from
from services.enrolment.domain import Participant

PERSONAL = ("name", "email", "birth_year", "manager_email")


def erase(client, pid: str, slug: str = SUB_A, headers: dict[str, str] = ADMIN_A):
    return client.delete(f"/subsidiaries/{slug}/participants/{pid}/personal-data", headers=headers)


def shown(client, pid: str, slug: str = SUB_A) -> dict:
    response = client.get(f"/subsidiaries/{slug}/participants/{pid}", headers=GROUP_ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def key_store(client) -> KeyStore:
    """The key store the service uses (its SQLite file or PostgreSQL table), opened apart."""
    return key_store_from(dict(client.app.state.application.env))


def stored_bytes(app) -> bytes:
    """Every stored event's bytes, as the event store holds them."""
    rows = app.state.application.recorder.select_notifications(start=0, limit=10_000)
    return b"".join(row.state for row in rows)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("group-admin", 204), ("admin-A", 204), ("admin-B", 404), ("auditor-A", 403), ("auditor-all", 403), ("no-token", 401)],
)
def test_who_may_erase(client, world, who, expected):
    assert erase(client, world.mentor, headers=PRINCIPALS[who]).status_code == expected
    assert shown(client, world.mentor)["personal_data_erased"] is (expected == 204)


def test_an_unknown_participant_or_subsidiary_is_not_found(client, world, events):
    with events.nothing_recorded():
        assert erase(client, "8d7e1c9a-2f4b-4f7e-9a41-3c2b1d0e5f6a").status_code == 404
        assert erase(client, world.mentee_b).status_code == 404  # B's participant, asked for in A
        assert erase(client, world.mentor, slug="axa-zz", headers=GROUP_ADMIN).status_code == 404


def test_an_erased_participant_is_withdrawn_and_shows_nothing_personal(client, world, events):
    with events.recorded(3):  # withdrawn, erased, and their email claim released
        response = erase(client, world.mentor)
    assert response.status_code == 204 and response.content == b""
    p = shown(client, world.mentor)
    assert {field: p[field] for field in PERSONAL} == dict.fromkeys(PERSONAL)
    assert p["personal_data_erased"] is True
    # The withdrawal reason is theirs too (free text): erased with the rest.
    assert (p["status"], p["withdrawal_reason"], p["role"], p["site"]) == ("withdrawn", None, "mentor", "Paris")
    listed = {q["id"]: q for q in client.get(f"/subsidiaries/{SUB_A}/participants", headers=AUDITOR_A).json()}
    assert listed[world.mentor]["name"] is None and listed[world.mentor]["personal_data_erased"] is True
    assert listed[world.mentee]["name"] == "Jeanne Martin" and listed[world.mentee]["personal_data_erased"] is False
    # Their email is free again, and nobody can change what is left of them.
    assert client.post(f"/subsidiaries/{SUB_A}/participants", json=participant("zoe@axa.fr", "mentor"), headers=ADMIN_A).status_code == 201
    assert client.patch(f"/subsidiaries/{SUB_A}/participants/{world.mentor}", json={"site": "Lyon"}, headers=ADMIN_A).status_code == 409


def test_erasing_a_withdrawn_participant_records_the_erasure_only(client, world, events):
    assert client.post(f"/subsidiaries/{SUB_A}/participants/{world.mentee}/withdraw", json={"reason": "moved"}, headers=ADMIN_A).status_code == 200
    assert shown(client, world.mentee)["withdrawal_reason"] == "moved"
    with events.recorded(1):
        assert erase(client, world.mentee).status_code == 204
    assert shown(client, world.mentee)["withdrawal_reason"] is None  # their words, erased with them


def test_erasing_again_records_nothing_and_destroys_the_key_again(client, world, events, tandem_home: Path, monkeypatch):
    keys = client.app.state.application.keys
    # A crash between recording the erasure and destroying the key...
    monkeypatch.setattr(keys, "erase", lambda subject: (_ for _ in ()).throw(RuntimeError("crashed")))
    with pytest.raises(RuntimeError, match="crashed"):
        erase(client, world.mentor)
    monkeypatch.undo()
    assert key_store(client).fetch(world.mentor)[1] is not None  # the key is still there
    # ... is mended by asking again: nothing more is recorded, the key is destroyed.
    with events.nothing_recorded():
        assert erase(client, world.mentor).status_code == 204
        assert erase(client, world.mentor).status_code == 204
    assert key_store(client).fetch(world.mentor) == (True, None)  # a tombstone
    assert shown(client, world.mentor)["personal_data_erased"] is True


def test_stored_events_hold_personal_data_sealed_and_read_as_erased_once_the_key_is_gone(client, world, tandem_home: Path):
    raw = stored_bytes(client.app)
    for plaintext in ("zoe@axa.fr", "Zoé Leroy", "jeanne@axa.fr", "Jeanne Martin"):
        for encoded in (plaintext.encode(), json.dumps(plaintext).encode()):
            assert encoded not in raw, plaintext
    assert f"sealed:2:{world.mentor}:".encode() in raw

    app = client.app.state.application
    before = {n.id: n.state for n in app.recorder.select_notifications(start=0, limit=10_000)}
    assert erase(client, world.mentor).status_code == 204
    after = {n.id: n.state for n in app.recorder.select_notifications(start=0, limit=10_000)}
    assert {i: after[i] for i in before} == before  # nothing stored is rewritten

    read = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=0, limit=10_000)]
    [enrolled] = [e for e in read if isinstance(e, Participant.Enrolled) and e.originator_id == UUID(world.mentor)]
    assert enrolled.profile["personal_data"] == dict.fromkeys(PERSONAL)
    [other] = [e for e in read if isinstance(e, Participant.Enrolled) and e.originator_id == UUID(world.mentee)]
    assert other.profile["personal_data"]["email"] == "jeanne@axa.fr"


def test_after_erasure_the_audit_history_shows_nothing_personal_and_its_chain_still_verifies(client, world):
    assert erase(client, world.mentor).status_code == 204
    history = client.get(f"/subsidiaries/{SUB_A}/audit/events", headers=AUDITOR_ALL).json()
    assert "zoe@axa.fr" not in json.dumps(history) and "Zoé Leroy" not in json.dumps(history)
    assert [e["type"] for e in history if e["type"].startswith("Participant.")][-2:] == ["Participant.Withdrawn", "Participant.Erased"]
    [check] = check_logs(history)
    assert check.intact


def test_a_restarted_service_still_shows_the_participant_erased(start_service, tandem_home: Path):
    client = start_service()
    assert client.post("/subsidiaries", json={"id": SUB_B, "name": "AXA BE", "timezone": "Europe/Brussels", "locale": "fr-BE"}, headers=GROUP_ADMIN).status_code == 201
    pid = client.post(f"/subsidiaries/{SUB_B}/participants", json=participant("kim@axa.be"), headers=GROUP_ADMIN).json()["id"]
    assert erase(client, pid, slug=SUB_B, headers=GROUP_ADMIN).status_code == 204
    again = start_service()
    p = again.get(f"/subsidiaries/{SUB_B}/participants/{pid}", headers=GROUP_ADMIN).json()
    assert p["personal_data_erased"] is True and p["email"] is None and p["name"] is None


# -- the journal of erasures, re-applied on start ---------------------------------------------


def back_up(store: KeyStore, tmp_path: Path) -> Any:
    """A copy of the key store as an operator's backup would hold it: the SQLite file copied
    (SQLite's backup API: the file with what its write-ahead log holds), or the table's rows."""
    if isinstance(store, SQLiteKeyStore):
        copy = tmp_path / "keys-backup.db"
        with sqlite3.connect(store.path) as live, sqlite3.connect(copy) as backup:
            live.backup(backup)
        return copy
    assert isinstance(store, PostgresKeyStore)
    with store._psycopg.connect(**store.conninfo) as connection:
        cursor = connection.execute(f"SELECT * FROM {store.table}")
        return [column.name for column in cursor.description], cursor.fetchall()


def restore(store: KeyStore, backup: Any) -> None:
    if isinstance(store, SQLiteKeyStore):
        with sqlite3.connect(backup) as copy, sqlite3.connect(store.path) as live:
            copy.backup(live)
        return
    columns, rows = backup
    with store._psycopg.connect(**store.conninfo) as connection:
        connection.execute(f"DELETE FROM {store.table}")
        placeholders = ", ".join(["%s"] * len(columns))
        connection.cursor().executemany(f"INSERT INTO {store.table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


def reads_as_erased(client, pid: str, slug: str = SUB_A) -> bool:
    """Enrolment shows them erased, and a fresh reader of the key store (any service) too."""
    p = shown(client, pid, slug)
    fresh = PersonalDataKeys(key_store(client))
    try:
        return p["personal_data_erased"] is True and p["email"] is None and fresh.is_erased(pid) and key_store(client).fetch(pid) == (True, None)
    finally:
        fresh.close()


def test_a_key_store_restored_from_a_backup_taken_before_an_erasure_does_not_bring_the_participant_back(
    start_service, world, client, tmp_path: Path
):
    store = key_store(client)
    backup = back_up(store, tmp_path)  # Zoé's key is in it
    assert erase(client, world.mentor).status_code == 204
    restore(store, backup)
    assert store.fetch(world.mentor)[1] is not None  # the restored store holds her key again...
    restarted = start_service()  # ... until the service starts: it re-applies every recorded erasure
    assert reads_as_erased(restarted, world.mentor)
    assert key_store(restarted).fetch(world.mentee)[1] is not None  # the others keep theirs
    enrolment = restarted.app.state.application
    sealed = [enrolment.mapper.to_domain_event(n) for n in enrolment.recorder.select_notifications(start=0, limit=10_000)]
    [enrolled] = [e for e in sealed if isinstance(e, Participant.Enrolled) and e.originator_id == UUID(world.mentor)]
    assert enrolled.profile["personal_data"] == dict.fromkeys(PERSONAL)


def test_a_crash_between_recording_the_erasure_and_destroying_the_key_is_repaired_on_start(
    start_service, world, client, events
):
    keys = client.app.state.application.keys
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keys, "erase", lambda subject: (_ for _ in ()).throw(RuntimeError("crashed")))
        with events.recorded(3), pytest.raises(RuntimeError, match="crashed"):  # recorded, then the process died
            erase(client, world.mentor)
    assert key_store(client).fetch(world.mentor)[1] is not None
    restarted = start_service()
    assert reads_as_erased(restarted, world.mentor)
    assert restarted.app.state.application.reapply_erasures() == 0  # nothing left to mend: idempotent


def test_the_service_refuses_to_start_on_a_key_store_its_wrapping_key_does_not_open(start_service, world):
    wrong = new_wrapping_key()
    with pytest.raises(WrappingKeyError, match="TANDEM_KEYS_WRAPPING_KEY") as refused:
        start_service(TANDEM_KEYS_WRAPPING_KEY=wrong)
    assert wrong not in str(refused.value)
