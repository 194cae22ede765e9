"""Personal data sealed per participant: tokens, the key store and its tombstones, the
mapper that seals stored events, and the wire (real stores: SQLite files, PostgreSQL)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from contracts import decode, encode
from contracts import enrolment as published
from contracts.personal import copied_along, is_token, open_fields, parse_token, personal_values, seal_fields
from services.common.personal_data import (
    MemoryKeyStore,
    PersonalDataKeys,
    PostgresKeyStore,
    SealingMapper,
    SQLiteKeyStore,
    key_store_from,
)

ADA, BOB = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def keys(tmp_path: Path) -> PersonalDataKeys:
    return PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db"))


# -- tokens and the key store -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["Ada Lovelace", "zoé@axa.fr", 1990, "", {"nested": ["ok", 1]}])
def test_a_sealed_value_is_a_token_naming_its_participant_and_opens_to_itself(keys, value: Any):
    sealed = keys.seal(ADA, value)
    assert is_token(sealed) and parse_token(sealed)[0] == ADA
    assert json.dumps(value, ensure_ascii=False) not in sealed
    assert keys.unseal(sealed) == value
    assert keys.seal(ADA, value) != sealed  # a fresh nonce each time


def test_each_participant_has_a_key_of_their_own(keys):
    sealed = keys.seal(ADA, "secret")
    forged = sealed.replace(ADA, BOB)  # the same ciphertext, claimed for another participant
    keys.seal(BOB, "anything")
    with pytest.raises(ValueError):
        keys.unseal(forged)


def test_erasing_destroys_the_key_for_good_and_leaves_a_tombstone(tmp_path: Path, keys):
    sealed = keys.seal(ADA, "Ada Lovelace")
    other = keys.seal(BOB, "Bob")
    keys.erase(ADA)
    assert keys.unseal(sealed) is None and keys.is_erased(ADA)
    assert keys.seal(ADA, "late event") is None  # nothing of theirs is sealed again
    assert keys.unseal(other) == "Bob" and not keys.is_erased(BOB)

    store = SQLiteKeyStore(tmp_path / "keys.db")
    assert store.fetch(ADA) == (True, None)
    store.create({ADA: "bmV3IGtleQ=="})  # a late or replayed event must not bring a key back
    assert store.fetch(ADA) == (True, None)
    another_process = PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db"))
    assert another_process.unseal(sealed) is None and another_process.seal(ADA, "x") is None
    assert another_process.unseal(other) == "Bob"
    keys.erase(ADA)  # again: nothing changes
    assert store.fetch(ADA) == (True, None)


def test_the_destroyed_key_is_gone_from_the_file(tmp_path: Path, keys):
    keys.provide([ADA])
    key = SQLiteKeyStore(tmp_path / "keys.db").fetch(ADA)[1]
    assert key is not None
    keys.erase(ADA)
    keys.close()
    for path in tmp_path.glob("keys.db*"):  # the database and its write-ahead log
        assert key.encode() not in path.read_bytes(), path.name


def test_a_participant_erased_before_any_key_was_made_never_gets_one(keys):
    keys.erase(ADA)
    keys.provide([ADA, BOB])
    assert keys.seal(ADA, "x") is None and keys.is_erased(ADA)
    assert keys.unseal(keys.seal(BOB, "y")) == "y"


def test_a_process_that_learns_of_an_erasure_stops_using_the_key_at_once(tmp_path: Path, keys):
    elsewhere = PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db"))
    sealed = keys.seal(ADA, "Ada")
    assert elsewhere.unseal(sealed) == "Ada"  # its key now cached there
    keys.erase(ADA)
    elsewhere.forget(ADA)  # it consumed ParticipantErased
    assert elsewhere.unseal(sealed) is None and elsewhere.seal(ADA, "Ada") is None


def test_the_settings_choose_the_key_store(tmp_path: Path):
    sqlite = key_store_from({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "TANDEM_HOME": str(tmp_path)})
    assert isinstance(sqlite, SQLiteKeyStore) and sqlite.path == str(tmp_path / "keys.db")
    beside = key_store_from({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "store" / "sessions.db")})
    assert beside.path == str(tmp_path / "store" / "keys.db")  # no TANDEM_HOME: beside the event store
    chosen = key_store_from({"TANDEM_KEY_STORE": "sqlite", "TANDEM_KEYS_DBNAME": str(tmp_path / "k.db")})
    assert isinstance(chosen, SQLiteKeyStore) and chosen.path == str(tmp_path / "k.db")
    assert isinstance(key_store_from({"PERSISTENCE_MODULE": "eventsourcing.popo"}), MemoryKeyStore)
    with pytest.raises(ValueError, match="POSTGRES_HOST"):
        key_store_from({"PERSISTENCE_MODULE": "eventsourcing.postgres"})
    with pytest.raises(ValueError, match="sqlite, postgres or memory"):
        key_store_from({"TANDEM_KEY_STORE": "vault"})


# -- where the personal values are ------------------------------------------------------------


def test_paths_find_each_value_with_its_own_participant():
    state = {
        "proposals": [
            {"mentor_id": "m1", "mentor_name": "Zoé", "mentee_ids": ["e1", "e2"], "mentee_names": ["Ann", None],
             "explanation": {"members": [{"mentee_id": "e1", "name": "Ann"}]}},
            {"mentor_id": "m2", "mentor_name": "Hugo", "mentee_ids": ["e3"], "mentee_names": ["Eve"], "explanation": {}},
        ],
        "unmatched": [],
        "profile": {"personal_data": {"email": "a@b.c"}},
        "originator_id": uuid.UUID(int=7),
    }
    fields = {
        "proposals[].mentor_name": "proposals[].mentor_id",
        "proposals[].mentee_names[]": "proposals[].mentee_ids[]",
        "proposals[].explanation.members[].name": "proposals[].explanation.members[].mentee_id",
        "unmatched[].name": "unmatched[].participant_id",
        "profile.personal_data.email": "originator_id",
        "profile.personal_data.name": "originator_id",  # absent: nothing to seal
    }
    found = sorted((container[key], subject) for container, key, subject in personal_values(state, fields) if container[key])
    assert found == sorted([("Zoé", "m1"), ("Ann", "e1"), ("Ann", "e1"), ("Hugo", "m2"), ("Eve", "e3"), ("a@b.c", str(uuid.UUID(int=7)))])

    sealed_with: list[str] = []

    class Recording:
        def seal(self, subject: str, value: Any) -> str:
            sealed_with.append(subject)
            return f"sealed:1:{subject}:AAAA"

        def unseal(self, token: str) -> Any:
            return "opened"

        def is_erased(self, subject: str) -> bool:
            return subject == "m2"

    original = copy.deepcopy(state)
    copied = copied_along(state, fields)
    seal_fields(copied, fields, Recording())
    assert state == original  # sealing a copy leaves the event's own state alone
    assert copied["unmatched"] is state["unmatched"] or copied["unmatched"] == []
    assert copied["proposals"][0]["explanation"]["members"][0]["name"] == "sealed:1:e1:AAAA"
    sealed_with.clear()

    seal_fields(state, fields, Recording())
    assert state == copied
    assert state["proposals"][0]["mentee_names"] == ["sealed:1:e1:AAAA", None] and sorted(sealed_with) == sorted(["m1", "e1", "e1", "m2", "e3", str(uuid.UUID(int=7))])
    state["proposals"][1]["mentor_name"] = "Hugo"  # as if stored before sealing began
    open_fields(state, fields, Recording())
    assert state["proposals"][0]["mentor_name"] == "opened" and state["proposals"][1]["mentor_name"] is None  # m2 is erased
    with pytest.raises(ValueError, match="no data subject"):
        list(personal_values({"note": "hello"}, {"note": "author_id"}))


# -- stored events ------------------------------------------------------------------------------


class Person(Aggregate):
    @event("Registered")
    def __init__(self, profile: dict[str, Any], note: str | None) -> None:
        self.profile = profile
        self.note = note


PERSONAL = {Person.Registered: {"profile.name": "originator_id", "note": "originator_id"}}


class Sealing(Application[uuid.UUID]):
    def construct_mapper(self) -> SealingMapper:
        return SealingMapper(self.construct_transcoder(), keys=self.keys, personal=PERSONAL)


def sealing(db: Path, keys: PersonalDataKeys) -> Sealing:
    Sealing.keys = keys  # type: ignore[attr-defined]
    return Sealing(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)})


def test_events_are_stored_sealed_once_and_read_as_erased_once_the_key_is_gone(tmp_path: Path, keys):
    app = sealing(tmp_path / "events.db", keys)
    ada = Person(profile={"name": "Ada Lovelace", "site": "London"}, note="likes engines")
    app.save(ada)
    assert ada.profile["name"] == "Ada Lovelace"  # the aggregate keeps its own state
    [row] = app.recorder.select_notifications(start=0, limit=10)
    assert b"Ada Lovelace" not in row.state and b"likes engines" not in row.state and b"London" in row.state
    assert app.repository.get(ada.id).profile == {"name": "Ada Lovelace", "site": "London"}

    keys.erase(ada.id)
    [after] = app.recorder.select_notifications(start=0, limit=10)
    assert after.state == row.state  # never rewritten
    again = app.repository.get(ada.id)
    assert (again.profile, again.note) == ({"name": None, "site": "London"}, None)


def test_events_stored_before_sealing_began_still_load_and_honour_the_erasure(tmp_path: Path, keys):
    db = tmp_path / "events.db"
    before = Application[uuid.UUID](env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)})
    old = Person(profile={"name": "Ada Lovelace", "site": "London"}, note=None)
    before.save(old)  # the plain mapper: plaintext, as every event stored before this change
    before.close()

    app = sealing(db, keys)
    assert app.repository.get(old.id).profile["name"] == "Ada Lovelace"
    keys.erase(old.id)
    assert app.repository.get(old.id).profile == {"name": None, "site": "London"}
    [row] = app.recorder.select_notifications(start=0, limit=10)
    assert b"Ada Lovelace" in row.state  # the old row itself still holds it: it is never rewritten


# -- the wire -------------------------------------------------------------------------------------


def enrolled(pid: str, version: int = 2) -> published.ParticipantEnrolled:
    return published.ParticipantEnrolled(
        event_id=uuid.uuid4(), subsidiary_id="axa-fr", occurred_at=datetime.now(UTC), producer="enrolment",
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="c",
        payload={
            "participant_id": pid, "role": "mentee", "department": "IT", "site": "Paris", "languages": ["fr"], "themes": ["networking"],
            "personal_data": {"name": "Ada Lovelace", "email": "ada@axa.fr", "birth_year": 1962, "manager_email": "boss@axa.fr"},
        },
    )


def test_a_message_holds_personal_data_sealed_and_opens_to_erased_once_the_key_is_gone(keys):
    event = enrolled(ADA)
    _, value, _ = encode(event, keys)
    for plaintext in (b"Ada Lovelace", b"ada@axa.fr", b"1962", b"boss@axa.fr"):
        assert plaintext not in value
    assert decode(value, keys) == event
    assert decode(value).payload.personal_data.name is None  # without the keys, nothing personal reads
    keys.erase(ADA)
    erased = decode(value, keys)
    assert erased.payload.personal_data.model_dump() == dict.fromkeys(["name", "email", "birth_year", "manager_email"])
    assert erased.payload.site == "Paris"


def test_values_still_sealed_as_stored_go_out_as_they_are(keys):
    """A relay builds its messages from the stored events without opening them: the tokens
    are published unchanged, and read like any others."""
    sealed = {field: keys.seal(ADA, value) for field, value in enrolled(ADA).payload.personal_data.model_dump().items()}
    event = enrolled(ADA).model_copy(update={"payload": enrolled(ADA).payload.model_copy(update={"personal_data": published.PersonalData(**sealed)})})
    _, value, _ = encode(event, keys)
    assert json.loads(value)["payload"]["personal_data"] == sealed
    assert decode(value, keys).payload.personal_data == enrolled(ADA).payload.personal_data


def test_a_message_of_the_first_version_is_upcast_and_honours_the_erasure(keys):
    v1 = json.loads(enrolled(ADA).model_dump_json())
    v1["schema_version"] = 1  # as published before sealing: plaintext
    value = json.dumps(v1).encode()
    read = decode(value, keys)
    assert read.schema_version == 2 and read.payload.personal_data.email == "ada@axa.fr"
    keys.erase(ADA)
    assert decode(value, keys).payload.personal_data.email is None


# -- PostgreSQL -------------------------------------------------------------------------------------


def test_the_postgres_key_store_is_shared_and_keeps_its_tombstones(postgres: dict[str, str]):
    settings = {**postgres, "TANDEM_KEYS_POSTGRES_DBNAME": postgres["POSTGRES_DBNAME"], "POSTGRES_DBNAME": "tandem_enrolment"}
    store = key_store_from(settings)  # the dedicated setting wins over the service's own database
    assert isinstance(store, PostgresKeyStore)
    enrolment, matching = PersonalDataKeys(store), PersonalDataKeys(key_store_from(settings))
    enrolment.provide([ADA, BOB])
    sealed = enrolment.seal(ADA, "Ada Lovelace")
    assert matching.unseal(sealed) == "Ada Lovelace"
    enrolment.erase(ADA)
    matching.forget(ADA)
    assert matching.unseal(sealed) is None and matching.seal(ADA, "again") is None
    fresh = PersonalDataKeys(key_store_from(settings))
    assert fresh.unseal(sealed) is None and fresh.is_erased(ADA) and not fresh.is_erased(BOB)
    store.create({ADA: "bmV3IGtleQ=="})
    assert store.fetch(ADA) == (True, None)
    enrolment.erase(ADA)  # again
    assert store.fetch(ADA) == (True, None)
    assert fresh.unseal(fresh.seal(BOB, "Bob")) == "Bob"
    carol = str(uuid.uuid4())
    assert sorted(store.destroy_all([ADA, BOB, carol])) == sorted([BOB, carol])  # Ada was already erased
    assert store.destroy_all([ADA, BOB, carol]) == [] and store.fetch(BOB) == (True, None)
    for k in (enrolment, matching, fresh):
        k.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_destroying_many_keys_at_once_changes_only_the_rows_that_still_had_one(tmp_path: Path, kind: str):
    store = MemoryKeyStore() if kind == "memory" else SQLiteKeyStore(tmp_path / "keys.db")
    carol = str(uuid.uuid4())
    store.create({ADA: "a2V5IEE=", BOB: "a2V5IEI="})
    store.destroy(BOB)
    assert sorted(store.destroy_all([ADA, BOB, carol, ADA])) == sorted([ADA, carol])  # Bob was already erased
    assert [store.fetch(s) for s in (ADA, BOB, carol)] == [(True, None)] * 3
    assert store.destroy_all([ADA, BOB, carol]) == []
