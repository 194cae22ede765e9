"""The participants' keys kept wrapped with a wrapping key from outside the store, on the real
stores (an SQLite file, a PostgreSQL table): what a copy of the store holds, refusal without
the right wrapping key, the migration of a store written before wrapping, and rotation."""

from __future__ import annotations

import base64
import sqlite3
import stat
import subprocess
import types
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from contracts.personal import Binding
from services.common.key_wrapping import WrappingKeyError, new_wrapping_key
from services.common.personal_data import TABLE, KeyStore, PersonalDataKeys, key_store_from

ADA, BOB = str(uuid.uuid4()), str(uuid.uuid4())
BEFORE_WRAPPING = "a4182db"  # main when wrapping began
OLD_SCHEMA = f"CREATE TABLE {TABLE} (participant_id TEXT PRIMARY KEY, key TEXT, created_at TEXT NOT NULL, erased_at TEXT)"


class Store:
    """One key store's settings, and its rows as they are stored (what a backup holds)."""

    def __init__(self, kind: str, settings: dict[str, str]) -> None:
        self.kind, self.settings = kind, settings

    def open(self, **env: str) -> KeyStore:
        return key_store_from({**self.settings, **env})

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            Path(self.settings["TANDEM_HOME"]).mkdir(exist_ok=True)
            with sqlite3.connect(Path(self.settings["TANDEM_HOME"]) / "keys.db") as connection:
                return connection.execute(statement, params).fetchall()
        s = self.settings
        with psycopg.connect(host=s["POSTGRES_HOST"], port=s["POSTGRES_PORT"], dbname=s["POSTGRES_DBNAME"], user=s["POSTGRES_USER"], password=s["POSTGRES_PASSWORD"]) as connection:
            cursor = connection.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def rows(self) -> dict[str, tuple[str | None, str | None]]:
        return {pid: (key, kid) for pid, key, kid in self.sql(f"SELECT participant_id, key, wrapping_key_id FROM {TABLE}")}

    def written_by_todays_code(self, keys: dict[str, str | None]) -> None:
        """The table as the key store wrote it before keys were wrapped: plain keys, no key id
        (on SQLite by the code of the commit before wrapping itself, when git has it)."""
        before = _key_store_before_wrapping()
        if self.kind == "sqlite" and before is not None:
            old = before.SQLiteKeyStore(Path(self.settings["TANDEM_HOME"]) / "keys.db")
            old.create({subject: key for subject, key in keys.items() if key is not None})
            for subject in (subject for subject, key in keys.items() if key is None):
                old.destroy(subject)
            old.close()
            return
        self.sql(OLD_SCHEMA)
        for subject, key in keys.items():
            self.sql(f"INSERT INTO {TABLE} (participant_id, key, created_at) VALUES (?, ?, '2026-01-01')", (subject, key))


def _key_store_before_wrapping() -> types.ModuleType | None:
    """services/common/personal_data.py as it was before keys were wrapped (git)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["git", "-C", str(root), "show", f"{BEFORE_WRAPPING}:services/common/personal_data.py"], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    module = types.ModuleType("personal_data_before_wrapping")
    exec(compile(done.stdout, module.__name__, "exec"), module.__dict__)
    return module


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    home = {"TANDEM_HOME": str(tmp_path / "home")}
    if request.param == "sqlite":
        return Store("sqlite", {**home, "PERSISTENCE_MODULE": "eventsourcing.sqlite"})
    postgres: dict[str, str] = request.getfixturevalue("postgres")
    return Store("postgres", {**home, **postgres})


def bound(subject: str) -> Binding:
    return Binding(subject, "name", "axa-fr")


def keys_of(store: KeyStore) -> PersonalDataKeys:
    return PersonalDataKeys(store)


def test_a_copy_of_the_store_holds_only_wrapped_keys(store: Store):
    keys = keys_of(store.open())
    sealed = keys.seal(bound(ADA), "Ada Lovelace")
    key = keys.store.fetch(ADA)[1]
    assert key is not None and len(base64.b64decode(key)) == 32
    [(stored, kid)] = store.rows().values()
    assert stored != key and key not in stored and kid  # what a backup holds opens nothing on its own
    if store.kind == "sqlite":
        for path in (Path(store.settings["TANDEM_HOME"])).glob("keys.db*"):
            assert key.encode() not in path.read_bytes(), path.name
    assert keys_of(store.open()).unseal(sealed, bound(ADA)) == "Ada Lovelace"  # another process, the same wrapping key
    keys.close()


def test_the_wrapping_key_file_is_generated_once_private_and_shared(store: Store):
    first, second = store.open(), store.open()
    path = Path(store.settings["TANDEM_HOME"]) / "keys-wrapping-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first.create({ADA: new_wrapping_key()})
    assert second.fetch(ADA) == first.fetch(ADA)


def test_a_wrapped_key_copied_onto_another_participant_does_not_unwrap(store: Store):
    opened = store.open()
    opened.create({ADA: new_wrapping_key(), BOB: new_wrapping_key()})
    bobs = PersonalDataKeys(opened).seal(Binding(BOB, "name", "axa-fr"), "Bob")
    ada_row = store.rows()[ADA][0]
    store.sql(f"UPDATE {TABLE} SET key = ? WHERE participant_id = ?", (ada_row, BOB))
    with pytest.raises(WrappingKeyError, match="altered or copied"):
        store.open().fetch(BOB)
    reader = PersonalDataKeys(store.open())  # a service reading Bob's values: unavailable, never a failure
    assert reader.unseal(bobs, Binding(BOB, "name", "axa-fr")) is None and reader.unopenable.count == 1


@pytest.mark.parametrize("how", ["no-file", "another-key", "another-file"])
def test_a_store_with_wrapped_keys_is_refused_without_its_wrapping_key(store: Store, tmp_path: Path, how: str):
    given = new_wrapping_key()
    store.open(TANDEM_KEYS_WRAPPING_KEY=given).create({ADA: new_wrapping_key()})
    wrong = new_wrapping_key()
    other = tmp_path / "other-key"
    other.write_text(wrong)
    env = {
        "no-file": {},  # the default file was never made: the key was given in the environment
        "another-key": {"TANDEM_KEYS_WRAPPING_KEY": wrong},
        "another-file": {"TANDEM_KEYS_WRAPPING_KEY_FILE": str(other)},
    }[how]
    with pytest.raises(WrappingKeyError) as refused:
        store.open(**env)
    message = str(refused.value)
    assert "TANDEM_KEYS_WRAPPING_KEY" in message
    assert given not in message and wrong not in message
    assert not (Path(store.settings["TANDEM_HOME"]) / "keys-wrapping-key").exists()  # none generated over it


def test_a_malformed_wrapping_key_is_refused_naming_the_setting(store: Store):
    with pytest.raises(WrappingKeyError, match="TANDEM_KEYS_WRAPPING_KEY must hold base64 keys of 32 bytes") as refused:
        store.open(TANDEM_KEYS_WRAPPING_KEY="c2hvcnQ=")
    assert "c2hvcnQ=" not in str(refused.value)


def test_a_store_written_by_todays_code_is_wrapped_on_start(store: Store):
    ada_key, bob_key = new_wrapping_key(), new_wrapping_key()
    plain = PersonalDataKeys(_Plain({ADA: ada_key, BOB: bob_key}))
    sealed = plain.seal(bound(ADA), "Ada Lovelace")
    store.written_by_todays_code({ADA: ada_key, BOB: None})  # Bob was erased
    opened = store.open()
    rows = store.rows()
    assert rows[BOB] == (None, None)
    assert rows[ADA][0] != ada_key and rows[ADA][1]
    assert keys_of(opened).unseal(sealed, bound(ADA)) == "Ada Lovelace" and keys_of(opened).is_erased(BOB)
    if store.kind == "sqlite":
        opened.close()
        for path in (Path(store.settings["TANDEM_HOME"])).glob("keys.db*"):
            assert ada_key.encode() not in path.read_bytes(), path.name
    assert store.open().rewrap(plain_only=True) == 0  # done once


def test_rotation_accepts_both_keys_then_rewraps_every_row_under_the_new_one(store: Store, tmp_path: Path):
    old, new = new_wrapping_key(), new_wrapping_key()
    before = keys_of(store.open(TANDEM_KEYS_WRAPPING_KEY=old))
    sealed = before.seal(bound(ADA), "Ada")
    # 1. Every process restarts with the new key first and the old one after it.
    rotating = store.open(TANDEM_KEYS_WRAPPING_KEY=f"{new},{old}")
    assert keys_of(rotating).unseal(sealed, bound(ADA)) == "Ada"
    rotating.create({BOB: new_wrapping_key()})
    assert len({kid for _, kid in store.rows().values()}) == 2  # Ada under the old key, Bob under the new
    # 2. `tandem keys rotate-wrapping-key` re-wraps what is left under the old one.
    assert rotating.rewrap() == 1 and rotating.rewrap() == 0
    # 3. The old key is dropped; a store that still needs it would be refused.
    key_file = tmp_path / "new-key"
    key_file.write_text(new + "\n")
    after = store.open(TANDEM_KEYS_WRAPPING_KEY_FILE=str(key_file))
    assert keys_of(after).unseal(sealed, bound(ADA)) == "Ada" and after.fetch(BOB)[1] is not None
    with pytest.raises(WrappingKeyError):
        store.open(TANDEM_KEYS_WRAPPING_KEY=old)


class _Plain(KeyStore):
    """Keys as today's code held them, to seal a value before the store is migrated."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    def fetch(self, subject: str) -> tuple[bool, str | None]:
        return (subject in self.keys, self.keys.get(subject))


def test_the_memory_store_needs_no_wrapping_key():
    assert key_store_from({"PERSISTENCE_MODULE": "eventsourcing.popo"}).wrapping is None


def test_tandem_keys_rotate_wrapping_key_rewraps_the_services_store(store: Store, tmp_path: Path, monkeypatch, capsys):
    from infra.cli import main

    old, new = new_wrapping_key(), new_wrapping_key()
    store.open(TANDEM_KEYS_WRAPPING_KEY=old).create({ADA: new_wrapping_key(), BOB: new_wrapping_key()})
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "ENROLMENT_PERSISTENCE_MODULE", "ENROLMENT_SQLITE_DBNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**store.settings, "TANDEM_KEYS_WRAPPING_KEY": f"{new}\n{old}"}.items():
        monkeypatch.setenv(name, value)
    assert main(["keys", "rotate-wrapping-key"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 participant key(s) re-wrapped") and new not in out and old not in out
    assert store.open(TANDEM_KEYS_WRAPPING_KEY=new).fetch(ADA)[1] is not None
    monkeypatch.setenv("TANDEM_KEYS_WRAPPING_KEY", old)  # only the old key now: refused, saying so
    assert main(["keys", "rotate-wrapping-key"]) == 2
    err = capsys.readouterr().err
    assert "TANDEM_KEYS_WRAPPING_KEY" in err and old not in err and new not in err
