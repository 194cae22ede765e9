"""An email's uniqueness claim, on the real app and its real store: its id is a keyed hash
(HMAC-SHA256 under a secret outside the event store), claims made before that (uuid5 ids of a
public constant) still count, and an erased participant's claim leads nowhere.
The conftest's world: in A, the mentor Zoé Leroy (zoe@axa.fr) and the mentee Jeanne Martin
(jeanne@axa.fr); in B, one mentee."""

from __future__ import annotations

import stat
from pathlib import Path
from uuid import UUID

from apitools import ADMIN_A, SUB_A, participant
from services.common.context import acting
from services.enrolment.domain import EmailClaim, Participant, email_claim_id, legacy_email_claim_id


def erase(client, pid: str):
    return client.delete(f"/subsidiaries/{SUB_A}/participants/{pid}/personal-data", headers=ADMIN_A)


def enrol(client, email: str, role: str = "mentee"):
    return client.post(f"/subsidiaries/{SUB_A}/participants", json=participant(email, role), headers=ADMIN_A)


def claim_rows(client) -> list:
    """The claims' stored events, as the event store holds them."""
    rows = client.app.state.application.recorder.select_notifications(start=0, limit=10_000)
    return [row for row in rows if ":EmailClaim." in row.topic]


def enrol_as_before_claims_were_keyed(client, email: str) -> str:
    """What enrolment stored until now: the participant, and a claim with the uuid5 id of the
    public constant naming them in plaintext."""
    app = client.app.state.application
    context = {"subsidiary_id": SUB_A, "actor": {"subject": "before", "role": "group-admin"}, "correlation_id": "before"}
    body = participant(email)
    profile = {
        "role": body["role"],
        "personal_data": {k: body.get(k) for k in ("name", "email", "birth_year", "manager_email")},
        **{k: body[k] for k in ("department", "site", "languages", "themes") if k in body},
        "availability": body.get("availability", []),
    }
    with acting(**context):
        person = Participant(subsidiary_id=SUB_A, profile=profile)
    claim = EmailClaim(participant_id=person.id, subsidiary_id=SUB_A, id=legacy_email_claim_id(SUB_A, email))
    personal, app.mapper.personal = app.mapper.personal, {  # today's code did not seal a claim's participant id
        cls: fields for cls, fields in app.mapper.personal.items() if not issubclass(cls, EmailClaim.Event)
    }
    try:
        app.save(person, claim)
    finally:
        app.mapper.personal = personal
    return str(person.id)


def test_a_claims_id_is_the_keyed_hash_an_outsider_cannot_compute(client, world, tandem_home: Path):
    secret_file = tandem_home / "email-claim-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    ids = {row.originator_id for row in claim_rows(client)}
    secret = secret_file.read_text().strip()
    assert email_claim_id(secret, SUB_A, "zoe@axa.fr") in ids
    # Whoever knows the public constant and guesses the email computes the old id: no such claim.
    assert legacy_email_claim_id(SUB_A, "zoe@axa.fr") not in ids
    assert email_claim_id("a-guessed-secret", SUB_A, "zoe@axa.fr") not in ids
    # And no claim names its participant.
    for row in claim_rows(client):
        assert world.mentor.encode() not in row.state and UUID(world.mentor).hex.encode() not in row.state


def test_the_secret_can_be_given_and_the_claims_hold_across_restarts(start_service, tandem_home: Path, tmp_path: Path):
    from apitools import GROUP_ADMIN, subsidiary

    given = tmp_path / "claim-secret"
    given.write_text("a-secret-from-the-secret-store\n")
    client = start_service(TANDEM_EMAIL_CLAIM_SECRET_FILE=str(given))
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN).status_code == 201
    assert enrol(client, "zoe@axa.fr").status_code == 201
    assert email_claim_id("a-secret-from-the-secret-store", SUB_A, "zoe@axa.fr") in {r.originator_id for r in claim_rows(client)}
    assert not (tandem_home / "email-claim-secret").exists()
    again = start_service(TANDEM_EMAIL_CLAIM_SECRET="a-secret-from-the-secret-store")
    assert enrol(again, "Zoe@axa.fr").status_code == 409


def test_an_email_enrolled_before_claims_were_keyed_is_not_enrolled_twice(client, world, events):
    before = enrol_as_before_claims_were_keyed(client, "paul@axa.fr")
    with events.nothing_recorded():
        assert enrol(client, "Paul@axa.fr").status_code == 409
    # Released on withdrawal as before: the email is free again, under a keyed claim now.
    assert client.post(f"/subsidiaries/{SUB_A}/participants/{before}/withdraw", json={"reason": "moved"}, headers=ADMIN_A).status_code == 200
    response = enrol(client, "paul@axa.fr")
    assert response.status_code == 201 and response.json()["id"] != before
    assert enrol(client, "paul@axa.fr").status_code == 409


def test_changing_the_email_of_a_participant_enrolled_before_releases_their_old_claim(client, world):
    before = enrol_as_before_claims_were_keyed(client, "paul@axa.fr")
    changed = client.patch(f"/subsidiaries/{SUB_A}/participants/{before}", json={"email": "paul.new@axa.fr"}, headers=ADMIN_A)
    assert changed.status_code == 200, changed.text
    assert enrol(client, "paul.new@axa.fr").status_code == 409
    assert enrol(client, "paul@axa.fr").status_code == 201


def test_an_erased_participants_claim_leads_nowhere_and_their_email_enrols_someone_new(client, world):
    assert erase(client, world.mentor).status_code == 204
    app = client.app.state.application
    # The claim is free, names nobody, and only the keyed id (the secret) finds it at all.
    keyed, legacy = app.claim_ids(SUB_A, "zoe@axa.fr")
    claim = app.repository.get(keyed)
    assert not claim.is_held and not hasattr(claim, "participant_id")
    assert not app.view.ever_claimed(legacy)
    assert all(world.mentor.encode() not in row.state for row in claim_rows(client))
    # The same email again is someone new, not the erased participant brought back.
    response = enrol(client, "zoe@axa.fr", "mentor")
    assert response.status_code == 201 and response.json()["id"] != world.mentor
    old = client.get(f"/subsidiaries/{SUB_A}/participants/{world.mentor}", headers=ADMIN_A).json()
    assert old["personal_data_erased"] is True and old["email"] is None


def test_an_erased_participants_claim_from_before_claims_were_keyed_no_longer_names_them(client, world):
    before = enrol_as_before_claims_were_keyed(client, "paul@axa.fr")
    app = client.app.state.application
    legacy = legacy_email_claim_id(SUB_A, "paul@axa.fr")
    [claimed] = [e for e in app.repository.event_store.get(legacy) if isinstance(e, EmailClaim.Claimed)]
    assert str(claimed.participant_id) == before  # what today's store holds: the link
    assert erase(client, before).status_code == 204
    [claimed] = [e for e in app.repository.event_store.get(legacy) if isinstance(e, EmailClaim.Claimed)]
    assert claimed.participant_id is None  # their erasure reaches it: it reads as erased
    assert not app.repository.get(legacy).is_held
    response = enrol(client, "paul@axa.fr")
    assert response.status_code == 201 and response.json()["id"] != before
    # The audit API shows it erased too.
    audit = client.get(f"/subsidiaries/{SUB_A}/audit/events?limit=5000", headers=ADMIN_A).json()
    shown = [e for e in audit if e["type"] == "EmailClaim.Claimed" and e["payload"].get("participant_id") == before]
    assert shown == []
