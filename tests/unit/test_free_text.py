"""Free text that can name a person (withdrawal, decline, end, close and cancel reasons,
session places) is sealed: in every service's stored events and on the wire, with the same
key in both (the relay publishes the stored tokens as they are), and old plaintext still
reads, as it is, until its key is destroyed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import decode, encode
from contracts import enrolment, matching, sessions
from contracts.envelope import IntegrationEvent
from contracts.personal import is_token, parse_token, personal_values
from services.common.context import acting
from services.common.personal_data import MemoryKeyStore, PersonalDataKeys
from services.enrolment import domain as enrolment_domain
from services.enrolment.application import EnrolmentApplication
from services.enrolment.publishing import to_integration_event as enrolment_event
from services.matching import domain as matching_domain
from services.matching.application import MatchingApplication
from services.matching.domain import MatchBook
from services.matching.publishing import to_integration_event as matching_event
from services.sessions import domain as sessions_domain
from services.sessions.application import SessionsApplication
from services.sessions.domain import Relationship
from services.sessions.publishing import to_integration_event as sessions_event

ADA, BOB, CY = (str(uuid.uuid4()) for _ in range(3))
MATCH, REL, SESSION = (str(uuid.uuid4()) for _ in range(3))
T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
CONTEXT = {"subsidiary_id": "axa-fr", "actor": {"subject": "hr", "role": "group-admin"}, "correlation_id": "c"}


@pytest.fixture(autouse=True)
def _acting() -> Iterator[None]:
    """Every event a test records is recorded as one command's (services.common.context)."""
    with acting(**CONTEXT):
        yield


FREE_TEXT_NAMES = ("reason", "location", "video_link", "note", "comment")

# An example of each event whose free text is sealed since version 2, and whose key it is.
EXAMPLES: dict[type[IntegrationEvent], tuple[dict[str, Any], str]] = {
    enrolment.ParticipantWithdrawn: ({"participant_id": ADA, "role": "mentee", "reason": "burn-out, ask Dr Roche"}, ADA),
    matching.MatchDeclined: ({"match_id": MATCH, "mentor_id": ADA, "mentee_ids": [BOB], "by": BOB, "reason": "Paul is my cousin"}, MATCH),
    matching.MatchEnded: ({"match_id": MATCH, "mentor_id": ADA, "mentee_ids": [BOB], "reason": "a mentee withdrew: moved"}, MATCH),
    matching.MatchMemberLeft: (
        {"match_id": MATCH, "mentor_id": ADA, "participant_id": BOB, "mentee_ids": [CY], "reason": "a mentee withdrew: moved"},
        BOB,
    ),
    sessions.RelationshipClosed: ({"relationship_id": REL, "match_id": MATCH, "reason": "Ada and Bob fell out", "sessions_held": 1}, REL),
    sessions.RelationshipMemberLeft: ({"relationship_id": REL, "participant_id": BOB, "reason": "a mentee withdrew: moved"}, BOB),
    sessions.SessionCancelled: ({"session_id": SESSION, "relationship_id": REL, "reason": "Bob is ill"}, REL),
    sessions.SessionScheduled: (
        {
            "session_id": SESSION, "relationship_id": REL, "format": "pair", "theme": "networking", "starts_at": T0.isoformat(),
            "duration_minutes": 60, "location": "Ada's office", "video_link": "https://meet.example.com/ada", "participant_ids": [ADA, BOB],
        },
        REL,
    ),
    sessions.SessionRescheduled: (
        {
            "session_id": SESSION, "relationship_id": REL, "starts_at": T0.isoformat(), "duration_minutes": 60,
            "location": "Bob's desk", "video_link": None, "sequence": 1,
        },
        REL,
    ),
}


def message(cls: type[IntegrationEvent], payload: dict[str, Any], version: int) -> bytes:
    return json.dumps({
        "event_id": str(uuid.uuid4()), "type": cls.type_name(), "schema_version": version, "subsidiary_id": "axa-fr",
        "occurred_at": T0.isoformat(), "producer": cls.PRODUCER, "actor": {"subject": "hr", "role": "group-admin"},
        "correlation_id": "c", "payload": payload,
    }).encode()


@pytest.fixture
def keys() -> PersonalDataKeys:
    return PersonalDataKeys(MemoryKeyStore())


@pytest.mark.parametrize("cls", EXAMPLES, ids=lambda cls: cls.__name__)
def test_free_text_travels_sealed_with_its_key_and_reads_as_erased_once_that_key_is_destroyed(cls, keys):
    payload, subject = EXAMPLES[cls]
    event = decode(message(cls, payload, cls.version()), keys)
    _, value, _ = encode(event, keys)
    sent = json.loads(value)["payload"]
    texts = [(name, payload[name]) for name in FREE_TEXT_NAMES if payload.get(name)]
    assert texts
    for name, text in texts:
        assert text.encode() not in value
        assert is_token(sent[name]) and parse_token(sent[name])[1] == subject
    assert decode(value, keys).payload == event.payload
    keys.erase(subject)
    assert all(getattr(decode(value, keys).payload, name) is None for name, _ in texts)


@pytest.mark.parametrize("cls", EXAMPLES, ids=lambda cls: cls.__name__)
def test_a_first_version_message_with_plaintext_reads_as_it_is_until_its_key_is_destroyed(cls, keys):
    payload, subject = EXAMPLES[cls]
    old = message(cls, payload, 1)
    read = decode(old, keys)
    assert read.schema_version == 2
    texts = [name for name in FREE_TEXT_NAMES if payload.get(name)]
    assert {name: getattr(read.payload, name) for name in texts} == {name: payload[name] for name in texts}
    keys.erase(subject)
    assert all(getattr(decode(old, keys).payload, name) is None for name in texts)


def test_every_stored_free_text_is_declared_with_whose_it_is():
    """Every domain event attribute holding free text is in its service's map of personal fields."""
    for module in (enrolment_domain, matching_domain, sessions_domain):
        declared = module.PERSONAL_DATA
        for aggregate in vars(module).values():
            if not (isinstance(aggregate, type) and hasattr(aggregate, "Event")):
                continue
            for cls in vars(aggregate).values():
                if not (isinstance(cls, type) and issubclass(cls, aggregate.Event)):
                    continue
                fields = set(getattr(cls, "__annotations__", {}))
                free = fields & set(FREE_TEXT_NAMES)
                missing = free - set(declared.get(cls, {}))
                assert not missing, f"{module.__name__}: {cls.__qualname__}.{sorted(missing)} is stored in plaintext"


# -- the relay's path: stored tokens go out as they are -------------------------------------


def published_as_stored(app: Any, translate: Any) -> list[tuple[IntegrationEvent, IntegrationEvent, bytes]]:
    """(as read, as the relay builds it from the sealed stored event, its message) for every stored event published."""
    out = []
    for notification in app.recorder.select_notifications(start=0, limit=10_000):
        sealed = translate(app.mapper.to_sealed_domain_event(notification))
        if sealed is not None:
            _, value, _ = encode(sealed, app.keys)
            out.append((translate(app.mapper.to_domain_event(notification)), sealed, value))
    return out


def check_relay(app: Any, translate: Any) -> set[str]:
    """Every free text the relay publishes is the stored token itself, naming the same subject
    on the wire as in the store, and reads back as the plaintext. Returns the types seen."""
    seen = set()
    for read, sealed, value in published_as_stored(app, translate):
        fields = type(sealed).PERSONAL
        if not any(path.rsplit(".", 1)[1] in FREE_TEXT_NAMES for path in fields):
            continue
        seen.add(sealed.type)
        dumped, sent = sealed.model_dump(mode="json"), json.loads(value)
        for container, key, subject in personal_values(dumped, fields):
            token = container[key]
            if token is None:
                continue
            assert is_token(token) and parse_token(token)[1] == subject, (sealed.type, key)
        assert [c[k] for c, k, _ in personal_values(sent, fields)] == [c[k] for c, k, _ in personal_values(dumped, fields)]
        assert decode(value, app.keys).payload == read.payload
    return seen


def test_enrolment_publishes_the_stored_withdrawal_reason_as_it_is():
    app = EnrolmentApplication()
    try:
        app.onboard_subsidiary("axa-fr", "AXA France", "Europe/Paris", "fr-FR")
        profile = {
            "role": "mentee", "personal_data": {"name": "Ada", "email": f"{uuid.uuid4().hex}@axa.fr", "birth_year": 1962, "manager_email": None},
            "department": "Digital", "site": "Paris", "languages": ["fr"], "themes": ["networking"], "availability": [],
        }
        [pid] = app.enrol("axa-fr", [profile])
        app.withdraw("axa-fr", pid, "burn-out, ask Dr Roche")
        assert check_relay(app, enrolment_event) == {"ParticipantWithdrawn"}
        [withdrawn] = [e for e in app.repository.event_store.get(pid) if isinstance(e, enrolment_domain.Participant.Withdrawn)]
        assert withdrawn.reason == "burn-out, ask Dr Roche"
        app.keys.erase(pid)
        [withdrawn] = [e for e in app.repository.event_store.get(pid) if isinstance(e, enrolment_domain.Participant.Withdrawn)]
        assert withdrawn.reason is None
    finally:
        app.close()


def test_matching_publishes_the_stored_reasons_as_they_are():
    app = MatchingApplication()
    try:
        book = MatchBook(subsidiary_id="axa-fr")
        pair, group, other = (str(uuid.uuid4()) for _ in range(3))
        for match_id, mentees in ((pair, [BOB]), (group, [CY, str(uuid.uuid4())])):
            proposal = {"mentor_id": ADA, "mentee_ids": mentees, "score": 1}
            book._confirmed(match_id=match_id, run_id=str(uuid.uuid4()), format="pair", proposal=proposal)
        dan = str(uuid.uuid4())
        book._confirmed(match_id=other, run_id=str(uuid.uuid4()), format="pair", proposal={"mentor_id": str(uuid.uuid4()), "mentee_ids": [dan], "score": 1})
        book.decline(pair, BOB, "Paul is my cousin")
        book.note_withdrawn(CY, "moved to Lyon")  # leaves the group
        book.note_withdrawn(dan, "moved to Lille")  # ends their pair
        app.save(book)
        assert check_relay(app, matching_event) == {"MatchDeclined", "MatchMemberLeft", "MatchEnded"}
    finally:
        app.close()


def test_sessions_publishes_the_stored_places_and_reasons_as_they_are():
    app = SessionsApplication()
    try:
        rel = Relationship(
            subsidiary_id="axa-fr", match_id=MATCH, format="mini-session", mentor_id=ADA, mentee_ids=[BOB, CY], theme="networking",
            target_sessions=5, session_minutes=60, matched_at=T0,
        )
        s1, s2 = str(uuid.uuid4()), str(uuid.uuid4())
        rel.schedule(s1, "networking", T0 + timedelta(days=2), 60, "Ada's office", "https://meet.example.com/ada", T0)
        rel.reschedule(s1, T0 + timedelta(days=3), 60, "Bob's desk", None, T0)
        rel.schedule(s2, "networking", T0 + timedelta(days=9), 60, None, "https://meet.example.com/bob", T0)
        rel.cancel(s2, "Bob is ill")
        rel.remove_member(CY, "a mentee withdrew: moved", T0)
        rel.close("Ada and Bob fell out")
        app.save(rel)
        assert check_relay(app, sessions_event) == {
            "SessionScheduled", "SessionRescheduled", "SessionCancelled", "RelationshipMemberLeft", "RelationshipClosed",
        }
        raw = b"".join(n.state for n in app.recorder.select_notifications(start=0, limit=10_000))
        for text in (b"Ada's office", b"meet.example.com", b"Bob's desk", b"Bob is ill", b"fell out", b"moved"):
            assert text not in raw
    finally:
        app.close()
