"""Signed checkpoints of the audit chain against someone who can write the event store: they
change a stored event and recompute every link after it, or cut the tail of a log. The chain
alone then verifies (the attack works on the chain as it was); checked against checkpoints
signed before the attack, with the platform's public key, it is reported as a rewrite or a
truncation. Also: a forged checkpoint, a head the auditor kept, the signing key's file."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

import tampering
from apitools import AUDITOR_ALL, GROUP_ADMIN, SUB_A
from infra import audit
from infra.audit import AuditClient
from infra.cli import main as tandem
from services.common.checkpoints import CheckpointPublisher, SigningKey, ensure_signing_key_file
from services.common.settings import ServiceSettings

pytestmark = pytest.mark.sqlite  # the attacks write the SQLite file directly

CAPACITY_4 = {"themes": ["networking", "online learning"], "mentor_capacity": 4, "mini_session_max": 10, "target_sessions": 5, "session_minutes": 90, "min_age_gap": 1}


@pytest.fixture
def signing_key(tandem_home: Path) -> SigningKey:
    return ServiceSettings().audit_signing_key()  # the platform's: TANDEM_HOME/audit-signing.key


@pytest.fixture
def public_key_file(signing_key: SigningKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """What the auditor was given: `tandem audit public-key`'s output, kept in a file."""
    assert tandem(["audit", "public-key"]) == 0
    path = tmp_path / "tandem-audit.pub"
    path.write_text(capsys.readouterr().out)
    return path


@pytest.fixture
def programme(client: TestClient, world: SimpleNamespace) -> None:
    response = client.put(f"/subsidiaries/{SUB_A}/programme", json=CAPACITY_4, headers=GROUP_ADMIN)
    assert response.status_code == 200, response.text


def sign_heads(client: TestClient, key: SigningKey) -> list[dict[str, Any]]:
    """A checkpoint round, as each service's publisher makes one (without the broker)."""
    recorder = client.app.state.application.recorder  # type: ignore[attr-defined]
    return [key.sign("enrolment", log, position, hash_).as_json() for log, position, hash_ in recorder.heads()]


def export(client: TestClient, checkpoints: list[dict[str, Any]], path: Path) -> Path:
    client.headers.update(AUDITOR_ALL)
    out = io.StringIO()
    audit.export(AuditClient(clients={"enrolment": client}), SUB_A, None, None, out, checkpoints=[c for c in checkpoints if c["log"] == SUB_A])
    path.write_text(out.getvalue())
    return path


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = tandem(["audit", "verify", *map(str, args)])
    return code, capsys.readouterr().out


# -- the attacker, with write access to enrolment.db (tests/tampering.py) ----------------------


def rewrite_capacity_and_relink(home: Path, log: str) -> int:
    return tampering.rewrite_capacity_and_relink(home / "enrolment.db", log, 4, 50)


def cut_tail(home: Path, log: str, keep: int) -> None:
    tampering.cut_tail(home / "enrolment.db", log, keep)


# -- the tests ----------------------------------------------------------------------------------


def test_a_rewrite_with_recomputed_links_passes_the_chain_but_not_the_signed_checkpoints(
    client: TestClient, programme: None, signing_key: SigningKey, public_key_file: Path, tandem_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoints = sign_heads(client, signing_key)
    position = rewrite_capacity_and_relink(tandem_home, SUB_A)
    history = export(client, checkpoints, tmp_path / "history.jsonl")
    assert '"mentor_capacity":50' in history.read_text()

    code, printed = verify(capsys, history)  # the chain alone: what `verify` said before
    assert code == 0 and "INTACT" in printed and "no public key given" in printed

    code, printed = verify(capsys, history, "--public-key", public_key_file)
    assert code == 1, printed
    assert f"REWRITTEN: enrolment/{SUB_A} position" in printed and "NOT INTACT" in printed
    [checkpoint] = [c for c in checkpoints if c["log"] == SUB_A]
    assert checkpoint["position"] >= position


def test_a_cut_tail_is_reported_as_a_truncation_after_a_checkpoint(
    client: TestClient, programme: None, signing_key: SigningKey, public_key_file: Path, tandem_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoints = sign_heads(client, signing_key)
    [checkpoint] = [c for c in checkpoints if c["log"] == SUB_A]
    cut_tail(tandem_home, SUB_A, keep=checkpoint["position"] - 2)
    history = export(client, [], tmp_path / "cut.jsonl")
    assert verify(capsys, history)[0] == 0  # the shorter chain is valid: the cut was unseen

    history = export_with(history, checkpoints)
    code, printed = verify(capsys, history, "--public-key", public_key_file)
    assert code == 1, printed
    assert f"TRUNCATED: enrolment/{SUB_A}" in printed and f"position {checkpoint['position']}" in printed


def export_with(history: Path, checkpoints: list[dict[str, Any]]) -> Path:
    with history.open("a") as f:
        for checkpoint in checkpoints:
            if checkpoint["log"] == SUB_A:
                f.write(json.dumps({"checkpoint": checkpoint}) + "\n")
    return history


def test_an_untouched_history_verifies_against_its_checkpoints_and_says_how_far_they_vouch(
    client: TestClient, programme: None, signing_key: SigningKey, public_key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoints = sign_heads(client, signing_key)
    [checkpoint] = [c for c in checkpoints if c["log"] == SUB_A]
    code, printed = verify(capsys, export(client, checkpoints, tmp_path / "history.jsonl"), "--public-key", public_key_file)
    assert code == 0, printed
    assert f"signed up to position {checkpoint['position']}" in printed and "INTACT" in printed


def test_a_checkpoint_signed_with_another_key_is_refused(
    client: TestClient, programme: None, public_key_file: Path, tandem_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker relinks the chain and makes checkpoints of it with a key of their own."""
    rewrite_capacity_and_relink(tandem_home, SUB_A)
    forged = sign_heads(client, SigningKey(Ed25519PrivateKey.generate()))
    code, printed = verify(capsys, export(client, forged, tmp_path / "history.jsonl"), "--public-key", public_key_file)
    assert code == 1 and "does not verify with the given public key" in printed


def test_a_head_the_auditor_kept_finds_a_rewrite_or_a_cut_without_any_checkpoint(
    client: TestClient, programme: None, tandem_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = client.get(f"/subsidiaries/{SUB_A}/audit/head", headers=AUDITOR_ALL).json()
    kept = f"enrolment/{SUB_A}:{head['position']}:{head['hash']}"
    code, printed = verify(capsys, export(client, [], tmp_path / "before.jsonl"), "--expect-head", kept)
    assert code == 0, printed
    assert kept in printed  # the summary gives the head to keep, in the same form

    rewrite_capacity_and_relink(tandem_home, SUB_A)
    code, printed = verify(capsys, export(client, [], tmp_path / "after.jsonl"), "--expect-head", kept)
    assert code == 1 and f"REWRITTEN: enrolment/{SUB_A} position {head['position']}" in printed and "the head you expected" in printed

    cut_tail(tandem_home, SUB_A, keep=head["position"] - 1)
    code, printed = verify(capsys, export(client, [], tmp_path / "cut.jsonl"), "--expect-head", kept)
    assert code == 1 and f"TRUNCATED: enrolment/{SUB_A}" in printed


def test_the_signing_key_is_a_file_of_its_own_readable_by_its_owner_only(tandem_home: Path, tmp_path: Path) -> None:
    key = ServiceSettings().audit_signing_key()
    path = tandem_home / "audit-signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ServiceSettings().audit_signing_key().key_id == key.key_id  # made once, then read
    assert "PRIVATE" not in repr(key) and path.read_text() not in repr(key)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="readable by others"):
        ensure_signing_key_file(path)


def test_the_public_key_command_never_makes_a_key(tandem_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tandem(["audit", "public-key"]) == 2
    assert "no signing key here" in capsys.readouterr().err and not (tandem_home / "audit-signing.key").exists()
    key = ServiceSettings().audit_signing_key()
    assert tandem(["audit", "public-key"]) == 0
    assert capsys.readouterr().out == key.public_pem()


def test_a_malformed_expected_head_is_refused_with_the_expected_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        tandem(["audit", "verify", str(tmp_path / "x.jsonl"), "--expect-head", "enrolment/axa-fr:12:abc"])
    assert "SERVICE/SUBSIDIARY:POSITION:HASH" in capsys.readouterr().err


def test_in_production_the_key_is_a_secret_given_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tandem_home: Path) -> None:
    given = ensure_signing_key_file(tmp_path / "from-a-vault.key")
    monkeypatch.setenv("TANDEM_AUDIT_SIGNING_KEY", (tmp_path / "from-a-vault.key").read_text())
    settings = ServiceSettings()
    assert settings.audit_signing_key().key_id == given.key_id
    assert "PRIVATE" not in repr(settings) and "PRIVATE" not in str(settings.model_dump())
    assert not (tandem_home / "audit-signing.key").exists()


class Producer:
    """Stands in for the Kafka producer: what the publisher sends, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        self.sent.append(json.loads(value))
        return SimpleNamespace(get=lambda timeout: None)

    def flush(self, timeout: float) -> None:
        pass

    def close(self, timeout: float) -> None:
        pass


def test_the_publisher_signs_the_logs_that_moved_and_refuses_to_vouch_for_a_rewrite_under_its_checkpoint(
    client: TestClient, programme: None, signing_key: SigningKey, tandem_home: Path
) -> None:
    application = client.app.state.application  # type: ignore[attr-defined]
    publisher = CheckpointPublisher("enrolment", application, signing_key, "t.audit.checkpoints", "unused:9092", every_events=1000, every_seconds=3600)
    publisher._producer = producer = Producer()
    assert publisher.due()  # a process signs every log's head when it starts
    first = publisher.publish_round()
    assert {c.log for c in first} == {SUB_A, "axa-be"} and all(c.verifies_with(signing_key.public_key) for c in first)
    assert not publisher.due() and publisher.publish_round() == []  # nothing moved: nothing signed

    client.get(f"/subsidiaries/{SUB_A}/audit/events", headers=AUDITOR_ALL)  # A's log moves (the read is recorded)
    [moved] = publisher.publish_round()
    assert moved.log == SUB_A and moved.position == [c.position for c in first if c.log == SUB_A][0] + 1

    rewrite_capacity_and_relink(tandem_home, SUB_A)
    client.get(f"/subsidiaries/{SUB_A}/audit/events", headers=AUDITOR_ALL)
    assert publisher.publish_round() == []  # the rewritten chain gets no checkpoint
    report = publisher.report()
    assert not report["ok"] and "changed since this process signed it" in report["rewritten"][0]
    assert len(producer.sent) == 3


def test_an_export_where_kafka_cannot_be_reached_warns_and_holds_the_events_alone(
    client: TestClient, world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from support import free_port

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")  # nothing listens there
    client.headers.update(AUDITOR_ALL)
    monkeypatch.setattr("infra.cli._audit_client", lambda args: AuditClient(clients={"enrolment": client}))
    assert tandem(["audit", "export", "--subsidiary", SUB_A]) == 0
    printed = capsys.readouterr()
    assert "WARNING exporting without signed checkpoints" in printed.err and "0 signed checkpoints" in printed.err
    assert printed.out and '"checkpoint"' not in printed.out


def test_the_publisher_reports_a_log_cut_below_its_checkpoint(client: TestClient, programme: None, signing_key: SigningKey, tandem_home: Path) -> None:
    publisher = CheckpointPublisher("enrolment", client.app.state.application, signing_key, "t.audit.checkpoints", "unused:9092")  # type: ignore[attr-defined]
    publisher._producer = Producer()
    [signed] = [c for c in publisher.publish_round() if c.log == SUB_A]
    cut_tail(tandem_home, SUB_A, keep=signed.position - 2)
    publisher.publish_round()
    assert f"position {signed.position} is gone since this process signed it" in publisher.report()["rewritten"][0]


class EmptyTopic:
    """Stands in for the offsets reader: a broker whose checkpoints topic is empty (a fresh one)."""

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
        return {tp: 0 for tp in partitions}

    def close(self) -> None:
        pass


def test_a_publisher_whose_topic_was_emptied_signs_every_head_again(client: TestClient, world: SimpleNamespace, signing_key: SigningKey) -> None:
    """The embedded broker keeps topics in memory: a fresh one has none of the checkpoints."""
    publisher = CheckpointPublisher("enrolment", client.app.state.application, signing_key, "t.audit.checkpoints", "unused:9092")  # type: ignore[attr-defined]
    publisher._producer, publisher._offsets_reader = Producer(), EmptyTopic()
    assert not publisher.topic_lost_its_checkpoints()  # nothing published yet: nothing lost
    first = publisher.publish_round()
    assert publisher.publish_round() == []
    assert publisher.topic_lost_its_checkpoints()
    publisher._republish = True  # what its loop does on finding that
    assert publisher.due()
    again = publisher.publish_round()
    assert [(c.log, c.position, c.hash) for c in again] == [(c.log, c.position, c.hash) for c in first]
    assert not publisher.due()


def test_checkpoints_kept_in_an_earlier_export_still_find_a_rewrite(
    client: TestClient, programme: None, signing_key: SigningKey, public_key_file: Path, tandem_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh broker lost the checkpoints topic; the auditor kept last month's export."""
    earlier = export(client, sign_heads(client, signing_key), tmp_path / "earlier.jsonl")
    rewrite_capacity_and_relink(tandem_home, SUB_A)
    now = export(client, sign_heads(client, signing_key), tmp_path / "now.jsonl")  # signed after the rewrite
    assert verify(capsys, now, "--public-key", public_key_file)[0] == 0
    code, printed = verify(capsys, now, "--public-key", public_key_file, "--checkpoints-from", earlier)
    assert code == 1 and f"REWRITTEN: enrolment/{SUB_A} position" in printed
