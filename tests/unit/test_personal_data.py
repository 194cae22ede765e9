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
from contracts.personal import Binding, copied_along, is_token, open_fields, parse_token, personal_values, seal_fields
from services.common.personal_data import (
    MemoryKeyStore,
    PersonalDataKeys,
    PostgresKeyStore,
    SealingMapper,
    SQLiteKeyStore,
    key_store_from,
)
from support import seal_v1

ADA, BOB = str(uuid.uuid4()), str(uuid.uuid4())


def bound(subject: str, field: str = "name", subsidiary: str = "axa-fr") -> Binding:
    return Binding(subject, field, subsidiary)


@pytest.fixture
def keys(tmp_path: Path) -> PersonalDataKeys:
    return PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db"))


# -- tokens and the key store -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["Ada Lovelace", "zoé@axa.fr", 1990, "", {"nested": ["ok", 1]}])
def test_a_sealed_value_is_a_token_naming_its_participant_and_opens_to_itself(keys, value: Any):
    sealed = keys.seal(bound(ADA), value)
    assert is_token(sealed) and parse_token(sealed)[:2] == (2, ADA)
    assert json.dumps(value, ensure_ascii=False) not in sealed
    assert keys.unseal(sealed, bound(ADA)) == value
    assert keys.seal(bound(ADA), value) != sealed  # a fresh nonce each time


def test_each_participant_has_a_key_of_their_own(keys):
    sealed = keys.seal(bound(ADA), "secret")
    forged = sealed.replace(ADA, BOB)  # the same ciphertext, claimed for another participant
    keys.seal(bound(BOB), "anything")
    assert keys.unseal(forged, bound(BOB)) is None  # unopenable: as if erased, and counted
    assert keys.unopenable.count == 1


@pytest.mark.parametrize(
    "elsewhere",
    [bound(ADA, field="email"), bound(ADA, subsidiary="axa-be"), bound(BOB)],
    ids=["another field", "another subsidiary", "another participant"],
)
def test_a_sealed_value_moved_elsewhere_does_not_open_and_is_counted_once(keys, elsewhere: Binding):
    sealed = keys.seal(bound(ADA), "Ada Lovelace")
    keys.seal(bound(BOB), "Bob")
    moved = sealed if elsewhere.subject == ADA else sealed.replace(ADA, BOB)
    assert keys.unseal(moved, elsewhere) is None
    assert keys.unseal(moved, elsewhere) is None  # met again: the same one, counted once
    assert keys.unopenable.report()["unopenable"] == 1 and keys.unopenable.report()["by_field"] == {elsewhere.field: 1}
    assert keys.unseal(sealed, bound(ADA)) == "Ada Lovelace"  # where it belongs, it opens


def test_a_damaged_or_forged_token_reads_as_unavailable_and_never_raises(keys):
    sealed = keys.seal(bound(ADA), "Ada Lovelace")
    head, body = sealed.rsplit(":", 1)
    flipped = head + ":" + ("B" if body[20] != "B" else "C").join((body[:20], body[21:]))
    for broken in (flipped, f"{head}:AAAA", f"{head}:{body[:8]}", f"sealed:1:{ADA}:" + "A" * 40):
        assert keys.unseal(broken, bound(ADA)) is None
    assert keys.unopenable.count == 4
    keys.erase(ADA)
    assert keys.unseal(sealed, bound(ADA)) is None and keys.unopenable.count == 4  # erased is not unopenable


def test_a_value_sealed_before_binding_still_opens_where_its_participant_is_the_fields_own(keys):
    v1 = seal_v1(keys, ADA, "Ada")
    assert keys.unseal(v1, bound(ADA)) == "Ada" and keys.unseal(v1, bound(ADA, field="email")) == "Ada"
    assert keys.unseal(v1, bound(BOB)) is None  # claimed for somebody else: never opened with their key


def test_input_shaped_like_a_token_is_sealed_as_data(keys):
    forged = f"sealed:2:{BOB}:" + "A" * 40
    state = {"id": ADA, "name": forged}
    seal_fields(state, {"name": "id"}, keys, "axa-fr")
    assert state["name"] != forged and parse_token(state["name"])[1] == ADA
    open_fields(state, {"name": "id"}, keys, "axa-fr")
    assert state["name"] == forged
    relayed = {"id": ADA, "name": keys.seal(bound(ADA), "Ada")}
    seal_fields(relayed, {"name": "id"}, keys, "axa-fr", pass_tokens=True)  # a relay: its own store's tokens go out as they are
    open_fields(relayed, {"name": "id"}, keys, "axa-fr")
    assert relayed["name"] == "Ada"


def test_erasing_destroys_the_key_for_good_and_leaves_a_tombstone(tmp_path: Path, keys):
    sealed = keys.seal(bound(ADA), "Ada Lovelace")
    other = keys.seal(bound(BOB), "Bob")
    keys.erase(ADA)
    assert keys.unseal(sealed, bound(ADA)) is None and keys.is_erased(ADA)
    assert keys.seal(bound(ADA), "late event") is None  # nothing of theirs is sealed again
    assert keys.unseal(other, bound(BOB)) == "Bob" and not keys.is_erased(BOB)

    store = SQLiteKeyStore(tmp_path / "keys.db")
    assert store.fetch(ADA) == (True, None)
    store.create({ADA: "bmV3IGtleQ=="})  # a late or replayed event must not bring a key back
    assert store.fetch(ADA) == (True, None)
    another_process = PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db"))
    assert another_process.unseal(sealed, bound(ADA)) is None and another_process.seal(bound(ADA), "x") is None
    assert another_process.unseal(other, bound(BOB)) == "Bob"
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
    assert keys.seal(bound(ADA), "x") is None and keys.is_erased(ADA)
    assert keys.unseal(keys.seal(bound(BOB), "y"), bound(BOB)) == "y"


def test_a_process_that_learns_of_an_erasure_stops_using_the_key_at_once(tmp_path: Path, keys):
    elsewhere = PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db"))
    sealed = keys.seal(bound(ADA), "Ada")
    assert elsewhere.unseal(sealed, bound(ADA)) == "Ada"  # its key now cached there
    keys.erase(ADA)
    elsewhere.forget(ADA)  # it consumed ParticipantErased
    assert elsewhere.unseal(sealed, bound(ADA)) is None and elsewhere.seal(bound(ADA), "Ada") is None


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
        def seal(self, binding: Binding, value: Any) -> str:
            sealed_with.append(binding.subject)
            return f"sealed:2:{binding.subject}:AAAA"

        def unseal(self, token: str, binding: Binding) -> Any:
            return "opened"

        def is_erased(self, subject: str) -> bool:
            return subject == "m2"

    original = copy.deepcopy(state)
    copied = copied_along(state, fields)
    seal_fields(copied, fields, Recording(), "axa-fr")
    assert state == original  # sealing a copy leaves the event's own state alone
    assert copied["unmatched"] is state["unmatched"] or copied["unmatched"] == []
    assert copied["proposals"][0]["explanation"]["members"][0]["name"] == "sealed:2:e1:AAAA"
    sealed_with.clear()

    seal_fields(state, fields, Recording(), "axa-fr")
    assert state == copied
    assert state["proposals"][0]["mentee_names"] == ["sealed:2:e1:AAAA", None] and sorted(sealed_with) == sorted(["m1", "e1", "e1", "m2", "e3", str(uuid.UUID(int=7))])
    state["proposals"][1]["mentor_name"] = "Hugo"  # as if stored before sealing began
    open_fields(state, fields, Recording(), "axa-fr")
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
    sealed = {field: keys.seal(bound(ADA, field), value) for field, value in enrolled(ADA).payload.personal_data.model_dump().items()}
    event = enrolled(ADA).model_copy(update={"payload": enrolled(ADA).payload.model_copy(update={"personal_data": published.PersonalData(**sealed)})})
    _, value, _ = encode(event, keys)
    assert json.loads(value)["payload"]["personal_data"] == sealed
    assert decode(value, keys).payload.personal_data == enrolled(ADA).payload.personal_data


def test_a_message_of_the_first_version_is_upcast_and_honours_the_erasure(keys):
    v1 = json.loads(enrolled(ADA).model_dump_json())
    v1["schema_version"] = 1  # as published before sealing: plaintext
    value = json.dumps(v1).encode()
    read = decode(value, keys)
    assert read.schema_version == 3 and read.payload.personal_data.email == "ada@axa.fr"
    keys.erase(ADA)
    assert decode(value, keys).payload.personal_data.email is None


# -- PostgreSQL -------------------------------------------------------------------------------------


def test_the_postgres_key_store_is_shared_and_keeps_its_tombstones(postgres: dict[str, str]):
    settings = {**postgres, "TANDEM_KEYS_POSTGRES_DBNAME": postgres["POSTGRES_DBNAME"], "POSTGRES_DBNAME": "tandem_enrolment"}
    store = key_store_from(settings)  # the dedicated setting wins over the service's own database
    assert isinstance(store, PostgresKeyStore)
    enrolment, matching = PersonalDataKeys(store), PersonalDataKeys(key_store_from(settings))
    enrolment.provide([ADA, BOB])
    sealed = enrolment.seal(bound(ADA), "Ada Lovelace")
    assert matching.unseal(sealed, bound(ADA)) == "Ada Lovelace"
    enrolment.erase(ADA)
    matching.forget(ADA)
    assert matching.unseal(sealed, bound(ADA)) is None and matching.seal(bound(ADA), "again") is None
    fresh = PersonalDataKeys(key_store_from(settings))
    assert fresh.unseal(sealed, bound(ADA)) is None and fresh.is_erased(ADA) and not fresh.is_erased(BOB)
    store.create({ADA: "bmV3IGtleQ=="})
    assert store.fetch(ADA) == (True, None)
    enrolment.erase(ADA)  # again
    assert store.fetch(ADA) == (True, None)
    assert fresh.unseal(fresh.seal(bound(BOB), "Bob"), bound(BOB)) == "Bob"
    carol = str(uuid.uuid4())
    assert sorted(store.destroy_all([ADA, BOB, carol])) == sorted([BOB, carol])  # Ada was already erased
    assert store.destroy_all([ADA, BOB, carol]) == [] and store.fetch(BOB) == (True, None)
    dave = str(uuid.uuid4())
    assert store.fetch_many([ADA, BOB, carol, dave]) == {**dict.fromkeys([ADA, BOB, carol], (True, None)), dave: (False, None)}
    for k in (enrolment, matching, fresh):
        k.close()


def test_a_message_of_the_second_version_with_its_sealed_1_values_is_upcast(keys):
    """What the topics hold from before binding: version 2, values sealed without it."""
    v2 = json.loads(enrolled(ADA).model_dump_json())
    v2["schema_version"] = 2
    v2["payload"]["personal_data"] = {f: seal_v1(keys, ADA, v) for f, v in v2["payload"]["personal_data"].items()}
    read = decode(json.dumps(v2).encode(), keys)
    assert read.schema_version == 3 and read.payload.personal_data == enrolled(ADA).payload.personal_data
    keys.erase(ADA)
    assert decode(json.dumps(v2).encode(), keys).payload.personal_data.name is None


def test_a_message_moved_to_another_subsidiary_opens_nothing(keys):
    moved = json.loads(encode(enrolled(ADA), keys)[1])
    moved["subsidiary_id"] = "axa-be"  # the same tokens, replayed as another subsidiary's event
    read = decode(json.dumps(moved).encode(), keys)
    assert read.payload.personal_data.model_dump() == dict.fromkeys(["name", "email", "birth_year", "manager_email"])
    assert keys.unopenable.count == 4


@pytest.mark.parametrize("where", ["in the clear", "sealed"])
def test_a_message_breaking_its_contract_is_refused_without_quoting_a_value(keys, where: str):
    message = json.loads(encode(enrolled(ADA), keys)[1])
    bad = "zoe.martin(at)example.com"
    message["payload"]["personal_data"]["email"] = bad if where == "in the clear" else keys.seal(bound(ADA, "email"), bad)
    with pytest.raises(ValueError) as refused:
        decode(json.dumps(message).encode(), keys)
    assert "zoe.martin" not in str(refused.value) and "payload.personal_data.email" in str(refused.value)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_destroying_many_keys_at_once_changes_only_the_rows_that_still_had_one(tmp_path: Path, kind: str):
    store = MemoryKeyStore() if kind == "memory" else SQLiteKeyStore(tmp_path / "keys.db")
    carol = str(uuid.uuid4())
    store.create({ADA: "a2V5IEE=", BOB: "a2V5IEI="})
    store.destroy(BOB)
    assert sorted(store.destroy_all([ADA, BOB, carol, ADA])) == sorted([ADA, carol])  # Bob was already erased
    assert [store.fetch(s) for s in (ADA, BOB, carol)] == [(True, None)] * 3
    assert store.destroy_all([ADA, BOB, carol]) == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_many_keys_are_read_at_once_as_one_by_one(tmp_path: Path, kind: str):
    store = MemoryKeyStore() if kind == "memory" else SQLiteKeyStore(tmp_path / "keys.db")
    carol, dave = str(uuid.uuid4()), str(uuid.uuid4())
    store.create({ADA: "a2V5IEE=", BOB: "a2V5IEI=", carol: "a2V5IEM="})
    store.destroy(BOB)
    subjects = [ADA, BOB, carol, dave, ADA]
    assert store.fetch_many(subjects) == {s: store.fetch(s) for s in subjects}
    assert store.fetch_many([dave]) == {dave: (False, None)} and store.fetch_many([]) == {}


def test_keys_provided_in_bulk_are_each_participants_own_and_keep_what_another_process_made(tmp_path: Path):
    first, second = (PersonalDataKeys(SQLiteKeyStore(tmp_path / "keys.db")) for _ in range(2))
    sealed = first.seal(bound(ADA), "Ada")  # made by another process first
    second.erase(BOB)
    carol = str(uuid.uuid4())
    second.provide([ADA, BOB, carol])
    assert second.unseal(sealed, bound(ADA)) == "Ada"  # the key the first made, not a new one
    assert second.is_erased(BOB) and second.seal(bound(BOB), "x") is None
    assert first.unseal(second.seal(bound(carol), "Carol"), bound(carol)) == "Carol"
