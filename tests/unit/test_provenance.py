"""The consumer's own check of where an event came from (contracts/provenance.py), and the
reasons it parks messages with (services/common/consumer.py): they name the check that
failed and never a value of the message."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from contracts import decode, encode
from contracts import enrolment as published
from contracts.matching import MatchEnded
from contracts.provenance import PRODUCED_BY, ProvenanceError, check_provenance
from contracts.registry import EVENT_TYPES
from contracts.topics import Topics, producing_service
from services.common.consumer import WITHHELD, failure_of, reason_of
from services.common.personal_data import MemoryKeyStore, PersonalDataKeys

TOPICS = Topics("t-42.blue")  # a prefix with a dot in it
ADA = str(uuid.uuid4())
EMAIL = "zoe.martin(at)example.com"


def envelope(**fields):
    return {
        "event_id": uuid.uuid4(), "subsidiary_id": "lyon", "occurred_at": datetime.now(UTC), "producer": "enrolment",
        "actor": {"subject": "hr", "role": "group-admin"}, "correlation_id": "c", **fields,
    }


def withdrawn(**fields) -> published.ParticipantWithdrawn:
    payload = {"participant_id": ADA, "role": "mentee", "reason": "moved"}
    return published.ParticipantWithdrawn(**envelope(payload=payload, **fields))


KEYS = PersonalDataKeys(MemoryKeyStore())  # a withdrawal's reason is personal: it travels sealed


def wire(event):
    """(key, headers, event) as the relay sends it and the consumer decodes it."""
    key, value, headers = encode(event, KEYS)
    return key, headers, decode(value, KEYS)


def check(event, topic=TOPICS.enrolment, key=None, headers=None):
    default_key, default_headers, decoded = wire(event)
    check_provenance(decoded, topic=topic, key=default_key if key is None else key, headers=default_headers if headers is None else headers)


def replaced(headers, name, value):
    return [(n, value if n == name else v) for n, v in headers]


def test_topics_name_their_producing_service():
    assert [producing_service(TOPICS.of(s)) for s in ("enrolment", "matching", "sessions")] == ["enrolment", "matching", "sessions"]
    assert producing_service(TOPICS.dead_letters("matching")) is None
    assert producing_service("events") is None and producing_service(".events") is None
    assert set(PRODUCED_BY) == {"enrolment", "matching", "sessions"}
    assert {name for names in PRODUCED_BY.values() for name in names} == set(EVENT_TYPES)


def test_an_event_as_its_producer_sends_it_passes():
    check(withdrawn())
    match_ended = MatchEnded(**envelope(producer="matching", payload={"match_id": ADA, "mentor_id": ADA, "mentee_ids": [ADA], "reason": "done"}))
    check(match_ended, topic=TOPICS.matching)


def test_a_message_of_an_earlier_schema_version_passes_with_its_header():
    keys = PersonalDataKeys(MemoryKeyStore())
    event = published.ParticipantEnrolled(**envelope(payload={
        "participant_id": ADA, "role": "mentee", "department": "IT", "site": "Paris", "languages": ["fr"], "themes": ["networking"],
        "personal_data": {"name": "Ada", "email": "ada@axa.fr", "birth_year": 1962, "manager_email": None},
    }))
    key, value, headers = encode(event, keys)
    v1 = json.dumps({**json.loads(value), "schema_version": 1}).encode()
    decoded = decode(v1, keys)
    assert decoded.schema_version == published.ParticipantEnrolled.version() > 1  # upcast
    check_provenance(decoded, topic=TOPICS.enrolment, key=key, headers=replaced(headers, "schema_version", b"1"))
    newer = str(decoded.schema_version + 1).encode()
    with pytest.raises(ProvenanceError, match="header schema_version does not match"):
        check_provenance(decoded, topic=TOPICS.enrolment, key=key, headers=replaced(headers, "schema_version", newer))


@pytest.mark.parametrize(
    ("bend", "reason"),
    [
        (lambda e, k, h: (TOPICS.matching, k, h), "type ParticipantWithdrawn is not produced by matching (topic t-42.blue.matching.events)"),
        (lambda e, k, h: (TOPICS.dead_letters("sessions"), k, h), "is not the events topic of a producing service"),
        (lambda e, k, h: (TOPICS.of("payroll"), k, h), "is not the events topic of a producing service"),
        (lambda e, k, h: (TOPICS.enrolment, b"paris", h), "the key does not match the subsidiary in the body (lyon)"),
        (lambda e, k, h: (TOPICS.enrolment, None, h), "the key does not match"),
        (lambda e, k, h: (TOPICS.enrolment, k, replaced(h, "subsidiary_id", b"paris")), "the header subsidiary_id does not match the body"),
        (lambda e, k, h: (TOPICS.enrolment, k, replaced(h, "type", b"MentorCertified")), "the header type does not match the body"),
        (lambda e, k, h: (TOPICS.enrolment, k, replaced(h, "event_id", str(uuid.uuid4()).encode())), "the header event_id does not match"),
        (lambda e, k, h: (TOPICS.enrolment, k, replaced(h, "schema_version", b"7")), "the header schema_version does not match"),
        (lambda e, k, h: (TOPICS.enrolment, k, replaced(h, "subsidiary_id", b"\xff")), "the header subsidiary_id does not match"),
        (lambda e, k, h: (TOPICS.enrolment, k, [x for x in h if x[0] != "event_id"]), "the header event_id is missing"),
        (lambda e, k, h: (TOPICS.enrolment, k, None), "the header type is missing"),
        (lambda e, k, h: (TOPICS.enrolment, k, [*h, ("subsidiary_id", b"paris")]), "the header subsidiary_id appears 2 times"),
    ],
)
def test_a_message_that_disagrees_with_its_topic_or_itself_is_refused(bend, reason):
    key, headers, event = wire(withdrawn())
    topic, key, headers = bend(event, key, headers)
    with pytest.raises(ProvenanceError) as raised:
        check_provenance(event, topic=topic, key=key, headers=headers)
    assert reason in str(raised.value)


def test_a_producer_that_lies_is_refused_without_repeating_it():
    with pytest.raises(ProvenanceError) as raised:
        check(withdrawn(producer="zoe.martin@example.com"))
    assert str(raised.value) == "the producer in the body is not enrolment, whose topic t-42.blue.enrolment.events it came on"


# --- reasons ---------------------------------------------------------------------------------


def reason_for(value: bytes) -> str:
    try:
        decode(value, PersonalDataKeys(MemoryKeyStore()))
    except Exception as exc:  # noqa: BLE001
        return reason_of(exc)
    raise AssertionError("decoded")


def test_a_validation_error_is_told_by_where_and_what_never_the_value():
    event = json.loads(encode(withdrawn(), KEYS)[1])
    event["payload"] = {"participant_id": ADA, "role": "mentee", "reason": EMAIL, "extra": EMAIL}
    event["subsidiary_id"] = EMAIL
    event["type"] = "ParticipantEnrolled"
    event["schema_version"] = 1  # plaintext personal values, as before sealing
    event["payload"].update(department="IT", site="Paris", languages=["fr"], themes=["networking"], personal_data={"name": "Zoé", "email": EMAIL, "birth_year": 1962, "manager_email": None})
    reason = reason_for(json.dumps(event).encode())
    assert reason.startswith("ValidationError: ") and "subsidiary_id: string_pattern_mismatch" in reason
    assert "payload.personal_data.email" in reason
    for part in ("zoe", "martin", "example", "(at)", "Zoé", "input"):
        assert part not in reason, reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json {", "JSONDecodeError: Expecting value at line 1 column 1 (char 0)"),
        (b'{"a": "\xff"}', "UnicodeDecodeError: not utf-8 at position 7"),
        (b"[1, 2]", "ValueError: an event must be a JSON object"),
        (b'{"type": "SubsidiaryAnnexedByMars"}', "UnknownEventType: unknown event type 'SubsidiaryAnnexedByMars'"),
        (json.dumps({"type": EMAIL}).encode(), f"UnknownEventType: {WITHHELD}"),
        (json.dumps({"type": "SubsidiaryOnboarded", "schema_version": 99}).encode(), "ValueError: SubsidiaryOnboarded schema version 99 is newer than the 1 this service reads"),
    ],
)
def test_other_reasons_keep_only_texts_known_to_hold_no_value(value, reason):
    assert reason_for(value) == reason


def test_a_contract_error_raised_again_in_other_words_is_told_as_pydantics():
    try:
        try:
            published.PersonalData.model_validate({"name": "Zoé", "email": EMAIL, "birth_year": 1962, "manager_email": None})
        except Exception:  # noqa: BLE001
            raise ValueError(f"PersonalData breaks its contract with {EMAIL}") from None
    except ValueError as exc:
        reason = reason_of(exc)
    assert reason.startswith("ValidationError: ") and "email" in reason and "zoe" not in reason.lower(), reason


def test_an_unknown_exception_keeps_only_its_type():
    assert reason_of(ValueError(f"bad email {EMAIL!r}")) == f"ValueError: {WITHHELD}"
    assert reason_of(KeyError(EMAIL)) == f"KeyError: {WITHHELD}"


def test_the_consumers_own_failures_keep_the_broker_and_store_texts_only():
    from kafka.errors import KafkaConnectionError

    assert failure_of(KafkaConnectionError("111 ECONNREFUSED")).endswith(": 111 ECONNREFUSED")  # its text, as before
    assert failure_of(ConnectionRefusedError("refused")) == "ConnectionRefusedError: refused"
    assert failure_of(ValueError(f"cannot apply {EMAIL}")) == f"ValueError: {WITHHELD}"
