"""Local state only its owner may read: a fresh TANDEM_HOME is 0700, the SQLite event store,
keys.db (with their -wal and -shm files) and the generated secrets 0600, whatever the umask;
a home left world-readable by an earlier version is narrowed on start."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from apitools import GROUP_ADMIN, SUB_A, participant, subsidiary
from infra.cli import _log_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o002)  # group-writable, world-readable by default
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.sqlite
def test_a_fresh_home_and_its_stores_are_private(start_service, tandem_home: Path, permissive_umask):
    assert not tandem_home.exists()
    client = start_service()
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN).status_code == 201
    assert client.post(f"/subsidiaries/{SUB_A}/participants", json=participant("ada@axa.fr"), headers=GROUP_ADMIN).status_code == 201
    client.get("/healthz")
    files = {p.name: mode(p) for p in tandem_home.iterdir() if p.is_file()}
    assert {"enrolment.db", "enrolment.db-wal", "enrolment.db-shm", "keys.db", "keys.db-wal", "keys.db-shm", "keys-wrapping-key"} <= set(files)
    assert mode(tandem_home) == 0o700
    assert files == dict.fromkeys(files, 0o600), files


@pytest.mark.sqlite
def test_a_home_left_readable_by_an_earlier_version_is_narrowed(start_service, tandem_home: Path):
    tandem_home.mkdir(mode=0o755)
    tandem_home.chmod(0o755)
    for name in ("enrolment.db", "keys.db"):
        (tandem_home / name).touch()
        (tandem_home / name).chmod(0o644)
    start_service().get("/healthz")
    assert mode(tandem_home) == 0o700
    assert {p.name: mode(p) for p in tandem_home.glob("*.db*")} == dict.fromkeys(
        [p.name for p in tandem_home.glob("*.db*")], 0o600
    )


def test_tandem_up_makes_its_home_and_logs_private(tmp_path: Path, permissive_umask):
    logs = _log_dir(tmp_path / "home")
    assert (mode(tmp_path / "home"), mode(logs)) == (0o700, 0o700)
