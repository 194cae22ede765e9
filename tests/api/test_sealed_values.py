"""Personal values are data, never ciphertext: whatever arrives is sealed, and a sealed value
opens only where it belongs (its participant, its field, its event's subsidiary). On the real
enrolment app and its real SQLite stores; the conftest's world: in A, the mentor Zoé Leroy and
the mentee Jeanne Martin; in B, the mentee Jan (jan@axa.be)."""

from __future__ import annotations

import logging
import re

import pytest

from apitools import ADMIN_A, GROUP_ADMIN, SUB_A, SUB_B, participant
from contracts.personal import is_token, personal_values
from services.common import personal_data
from support import seal_v1

TOKEN = re.compile(rb"sealed:[12]:[^:\"\s]+:[A-Za-z0-9_=-]+")


def tokens_of(app, participant_id: str) -> list[str]:
    """The sealed values the store holds for a participant: what anyone reading the topic sees."""
    rows = app.state.application.recorder.select_notifications(start=0, limit=10_000)
    found = [t.decode() for row in rows for t in TOKEN.findall(row.state)]
    return [t for t in found if t.split(":")[2] == participant_id]


def name_of(client, slug: str, pid: str) -> str | None:
    response = client.get(f"/subsidiaries/{slug}/participants/{pid}", headers=GROUP_ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["name"]


def forged_v1(subject: str) -> str:
    return f"sealed:1:{subject}:" + "A" * 40


def test_a_name_shaped_like_a_sealed_value_is_sealed_as_data_and_breaks_nothing(client, world, start_service, still_serving):
    """The attack, reproduced on the code before this change: A's admin enrols someone whose
    name is a token naming B's participant; every read and write of the service, and its
    restart, then failed with 'Invalid cipher tag'."""
    forged = forged_v1(world.mentee_b)
    pid = client.post(f"/subsidiaries/{SUB_A}/participants", json=participant("x@axa.fr", name=forged), headers=ADMIN_A).json()["id"]
    assert name_of(client, SUB_A, pid) == forged  # a string like any other
    assert forged.encode() not in b"".join(r.state for r in client.app.state.application.recorder.select_notifications(0, 10_000))
    still_serving()
    assert name_of(client, SUB_B, world.mentee_b) == "Jeanne Martin"  # B is untouched
    again = start_service()  # a restart rebuilds the read models from the events
    assert name_of(again, SUB_A, pid) == forged and again.get("/healthz").json()["personal_data"]["unopenable"] == 0


@pytest.mark.parametrize("how", ["enrol", "update"])
def test_a_real_sealed_value_of_another_subsidiary_reads_as_the_string_it_is(client, world, how):
    """A's admin copies B's participant's sealed name (from the topic) into A: A's API shows
    the copied string back, never B's plaintext."""
    [b_name, *_] = tokens_of(client.app, world.mentee_b)
    if how == "enrol":
        pid = client.post(f"/subsidiaries/{SUB_A}/participants", json=participant("y@axa.fr", name=b_name), headers=ADMIN_A).json()["id"]
    else:
        pid = world.mentee
        assert client.patch(f"/subsidiaries/{SUB_A}/participants/{pid}", json={"name": b_name}, headers=ADMIN_A).status_code == 200
    assert name_of(client, SUB_A, pid) == b_name  # not B's "Jeanne Martin"
    listed = {p["id"]: p["name"] for p in client.get(f"/subsidiaries/{SUB_A}/participants", headers=ADMIN_A).json()}
    assert listed[pid] == b_name


# -- a store written before this change -------------------------------------------------------------


def seal_fields_v1(root, fields, keys, subsidiary, **_):
    """The code before this change: a value shaped like a token was passed through."""
    for container, key, subject in personal_values(root, fields):
        value = container[key]
        if value is not None and not (isinstance(value, str) and value.startswith("sealed:1:") and is_token(value)):
            container[key] = seal_v1(keys, subject, value)


def test_a_store_written_before_binding_still_reads_and_its_forged_values_read_as_unavailable(
    start_service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    with monkeypatch.context() as old_code:
        old_code.setattr(personal_data, "seal_fields", seal_fields_v1)
        before = start_service()
        for slug in (SUB_A, SUB_B):
            assert before.post("/subsidiaries", json={"id": slug, "name": slug, "timezone": "Europe/Paris", "locale": "fr-FR"}, headers=GROUP_ADMIN).status_code == 201
        zoe = before.post(f"/subsidiaries/{SUB_A}/participants", json=participant("zoe@axa.fr", "mentor", name="Zoé Leroy"), headers=GROUP_ADMIN).json()["id"]
        jan = before.post(f"/subsidiaries/{SUB_B}/participants", json=participant("jan@axa.be", name="Jan Peeters"), headers=GROUP_ADMIN).json()["id"]
        [jan_name, *_] = [t for t in tokens_of(before.app, jan) if t.startswith("sealed:1:")]
        # The attacks, as they were stored then: B's real sealed name, and a forged token.
        thief = before.post(f"/subsidiaries/{SUB_A}/participants", json=participant("t@axa.fr", name=jan_name), headers=ADMIN_A).json()["id"]
        vandal = before.post(f"/subsidiaries/{SUB_A}/participants", json=participant("v@axa.fr", name=forged_v1(zoe)), headers=ADMIN_A).json()["id"]

    caplog.set_level(logging.WARNING, logger=personal_data.__name__)
    after = start_service()  # today's code on that store: it starts
    assert (name_of(after, SUB_A, zoe), name_of(after, SUB_B, jan)) == ("Zoé Leroy", "Jan Peeters")  # old values still read
    assert name_of(after, SUB_A, thief) is None and name_of(after, SUB_A, vandal) is None  # unavailable, as if erased
    shown = after.get(f"/subsidiaries/{SUB_A}/participants/{thief}", headers=GROUP_ADMIN).json()
    assert shown["email"] == "t@axa.fr"  # the rest of the record is intact
    health = after.get("/healthz").json()["personal_data"]
    assert health["unopenable"] == 2 and health["by_field"] == {"name": 2}
    assert {place["participant"] for place in health["last"]} == {thief, vandal}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert thief in logged and "Jan" not in logged and "AAAA" not in logged and jan_name not in logged
    # Writes go on, and an erasure of an old participant still shreds their old tokens.
    assert after.delete(f"/subsidiaries/{SUB_A}/participants/{zoe}/personal-data", headers=GROUP_ADMIN).status_code == 204
    assert name_of(after, SUB_A, zoe) is None
