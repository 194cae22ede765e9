"""Enrolment's aggregates and what they publish: pure, no I/O."""

from collections.abc import Iterator
from datetime import timezone
from uuid import uuid5

import pytest

from contracts import decode, encode
from contracts import enrolment as published
from services.common.context import acting
from services.enrolment.domain import (
    CERTIFIED,
    DEFAULT_PROGRAMME,
    NAMESPACE,
    WITHDRAWN,
    EmailClaim,
    EnrolmentError,
    Participant,
    Subsidiary,
    email_claim_id,
    legacy_email_claim_id,
    subsidiary_id,
)
from services.common.personal_data import MemoryKeyStore, PersonalDataKeys
from services.enrolment.publishing import to_integration_event

CONTEXT = {
    "subsidiary_id": "axa-fr",
    "actor": {"subject": "alice", "role": "group-admin"},
    "correlation_id": "corr-1",
    "causation_id": "req-1",
}

@pytest.fixture(autouse=True)
def _acting() -> Iterator[None]:
    """Every event a test records is recorded as one command's (services.common.context)."""
    with acting(**CONTEXT):
        yield



def profile(role: str = "mentor", email: str = "zoe@example.com") -> dict:
    return {
        "role": role,
        "personal_data": {"name": "Zoé", "email": email, "birth_year": 1999, "manager_email": None},
        "department": "IT",
        "site": "Paris",
        "languages": ["fr", "en"],
        "themes": ["networking"],
        "availability": ["mon-am"],
    }


def test_a_subsidiary_id_is_derived_from_its_slug_so_duplicates_collide():
    first = Subsidiary(slug="axa-fr", name="AXA France", timezone="Europe/Paris", locale="fr-FR")
    second = Subsidiary(slug="axa-fr", name="Other", timezone="Europe/Paris", locale="fr-FR")
    assert first.id == second.id == subsidiary_id("axa-fr")
    assert subsidiary_id("axa-be") != first.id


def test_themes_match_whatever_the_case_and_spacing():
    subsidiary = Subsidiary(slug="axa-fr", name="AXA", timezone="Europe/Paris", locale="fr-FR")
    subsidiary.configure_programme(settings=DEFAULT_PROGRAMME)
    assert subsidiary.canonical_theme("  Online   LEARNING ") == "online learning"
    assert subsidiary.canonical_theme("cooking") is None


def test_only_a_mentor_is_certified_and_only_once():
    mentor = Participant(subsidiary_id="axa-fr", profile=profile("mentor"))
    assert mentor.certify() is True
    assert mentor.status == CERTIFIED
    assert mentor.certify() is False  # no second event
    assert [type(e).__name__ for e in mentor.collect_events()] == ["Enrolled", "Certified"]

    mentee = Participant(subsidiary_id="axa-fr", profile=profile("mentee"))
    with pytest.raises(EnrolmentError, match="mentee"):
        mentee.certify()
    assert len(mentee.collect_events()) == 1


def test_a_withdrawn_participant_cannot_be_certified_updated_or_withdrawn_again():
    mentor = Participant(subsidiary_id="axa-fr", profile=profile())
    mentor.withdraw("moved abroad")
    assert mentor.status == WITHDRAWN
    for command in (lambda: mentor.certify(), lambda: mentor.update_profile({"site": "Lyon"}), lambda: mentor.withdraw("again")):
        with pytest.raises(EnrolmentError):
            command()
    assert [type(e).__name__ for e in mentor.collect_events()] == ["Enrolled", "Withdrawn"]


def test_a_profile_update_records_only_what_changed():
    mentee = Participant(subsidiary_id="axa-fr", profile=profile("mentee"))
    assert mentee.update_profile({"site": "Paris", "name": "Zoé"}) == []
    assert mentee.update_profile({"site": "Lyon", "email": "new@example.com"}) == ["site", "email"]
    assert mentee.profile["site"] == "Lyon"
    assert mentee.profile["personal_data"]["email"] == "new@example.com"
    assert [type(e).__name__ for e in mentee.collect_events()] == ["Enrolled", "ProfileUpdated"]


def test_an_email_claim_is_held_once_until_released():
    claim = EmailClaim(subsidiary_id="axa-fr", id=email_claim_id("s3cret", "axa-fr", "Zoe@Example.com"))
    assert claim.id == email_claim_id("s3cret", "axa-fr", "zoe@example.com")  # case does not make a new email
    with pytest.raises(EnrolmentError):
        claim.claim()
    claim.release()
    claim.claim()
    assert claim.is_held
    # Nothing in a claim's events names a participant.
    assert all(getattr(e, "participant_id", None) is None for e in claim.collect_events())


def test_an_email_claims_id_is_a_keyed_hash_nobody_computes_without_the_secret():
    keyed = email_claim_id("s3cret", "axa-fr", "zoe@example.com")
    # Whoever knows the public constant and guesses the email gets the old id, not this one.
    assert keyed != legacy_email_claim_id("axa-fr", "zoe@example.com") == uuid5(NAMESPACE, "email:axa-fr:zoe@example.com")
    assert keyed != email_claim_id("another", "axa-fr", "zoe@example.com")
    assert keyed != email_claim_id("s3cret", "axa-be", "zoe@example.com")
    assert keyed.version == 4  # a UUID like any other


def test_every_published_domain_event_becomes_its_integration_event():
    subsidiary = Subsidiary(slug="axa-fr", name="AXA France", timezone="Europe/Paris", locale="fr-FR")
    subsidiary.configure_programme(settings=DEFAULT_PROGRAMME)
    mentor = Participant(subsidiary_id="axa-fr", profile=profile())
    mentor.certify()
    mentor.update_profile({"site": "Lyon"})
    mentor.withdraw("moved")
    mentor.erase_personal_data()
    events = [to_integration_event(e) for e in [*subsidiary.collect_events(), *mentor.collect_events()]]
    assert [type(e) for e in events] == [
        published.SubsidiaryOnboarded,
        published.ProgrammeConfigured,
        published.ParticipantEnrolled,
        published.MentorCertified,
        published.ParticipantProfileUpdated,
        published.ParticipantWithdrawn,
        published.ParticipantErased,
    ]
    enrolled = events[2]
    assert enrolled.payload.participant_id == mentor.id
    assert enrolled.payload.personal_data.email == "zoe@example.com"
    assert events[4].payload.changed == ["site"] and events[4].payload.site == "Lyon"
    assert events[5].payload.role == "mentor"
    assert events[6].payload.participant_id == mentor.id
    keys = PersonalDataKeys(MemoryKeyStore())
    for event in events:
        assert event.subsidiary_id == "axa-fr"
        assert event.actor.subject == "alice" and event.correlation_id == "corr-1" and event.causation_id == "req-1"
        assert event.occurred_at.tzinfo is not None and event.occurred_at.utcoffset() == timezone.utc.utcoffset(None)
        key, value, headers = encode(event, keys)
        assert key == b"axa-fr"
        assert dict(headers) == {
            "type": event.type.encode(),
            "schema_version": str(event.schema_version).encode(),
            "event_id": str(event.event_id).encode(),
            "subsidiary_id": b"axa-fr",
        }
        assert b"zoe@example.com" not in value
        assert decode(value, keys) == event


def test_erasing_withdraws_a_participant_still_taking_part_and_keeps_nothing_personal():
    mentor = Participant(subsidiary_id="axa-fr", profile=profile())
    assert mentor.erase_personal_data() is True
    assert mentor.status == WITHDRAWN and mentor.erased
    assert mentor.profile["personal_data"] == {"name": None, "email": None, "birth_year": None, "manager_email": None}
    assert mentor.profile["site"] == "Paris" and mentor.email is None
    assert mentor.erase_personal_data() is False  # once is enough
    assert [type(e).__name__ for e in mentor.collect_events()] == ["Enrolled", "Withdrawn", "Erased"]
    with pytest.raises(EnrolmentError):
        mentor.update_profile({"site": "Lyon"})


def test_erasing_a_withdrawn_participant_records_the_erasure_only():
    mentee = Participant(subsidiary_id="axa-fr", profile=profile("mentee"))
    mentee.withdraw("moved")
    mentee.erase_personal_data()
    withdrawn = [e for e in mentee.collect_events() if type(e).__name__ == "Withdrawn"]
    assert [e.reason for e in withdrawn] == ["moved"]


def test_email_claims_are_not_published():
    claim = EmailClaim(subsidiary_id="axa-fr", id=email_claim_id("s3cret", "axa-fr", "a@b.fr"))
    assert to_integration_event(claim.collect_events()[0]) is None


def test_an_events_id_is_the_same_every_time_it_is_published():
    mentor = Participant(subsidiary_id="axa-fr", profile=profile())
    [enrolled] = mentor.collect_events()
    again = object.__new__(Participant.Enrolled)  # the same stored event, read back (as the library's mapper does)
    object.__setattr__(again, "__dict__", dict(enrolled.__dict__))
    assert to_integration_event(enrolled).event_id == to_integration_event(again).event_id


def test_personal_data_never_reaches_keys_or_headers_and_travels_sealed():
    mentor = Participant(subsidiary_id="axa-fr", profile=profile(email="secret.person@example.com"))
    enrolled = to_integration_event(mentor.collect_events()[0])
    key, value, headers = encode(enrolled, PersonalDataKeys(MemoryKeyStore()))
    exposed = key + b"".join(v for _, v in headers) + b"".join(k.encode() for k, _ in headers)
    for personal in (b"secret.person", b"Zo", b"1999"):
        assert personal not in exposed
    # In the value, as JSON would write them (a short string alone may turn up in base64 ciphertext).
    for personal in (b"secret.person", "Zoé".encode(), b"Zo\\u00e9", b":1999"):
        assert personal not in value
    assert f"sealed:2:{mentor.id}:".encode() in value
    with pytest.raises(ValueError, match="personal data"):
        encode(enrolled)  # never in plaintext
