"""Hostile events: what a consumer cannot read, or what did not come from where it arrived,
is parked on its dead-letter topic with the reason (never a value of the message), and the
consumer goes on with the next message."""

import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from kafka import KafkaProducer

from contracts import encode
from contracts.matching import MatchConfirmed
from contracts.personal import Binding
from support import TopicReader

REASON = "tandem-dead-letter-reason"


def test_unreadable_messages_are_parked_with_their_reason_and_the_consumers_go_on(platform):
    matching, sessions = platform.start("matching"), platform.start("sessions")
    enrolment = platform.start("enrolment")
    admin = platform.client(enrolment)

    # A real event first, so that its shape can be bent into the hostile ones.
    assert admin.post("/subsidiaries", json={"id": "lyon", "name": "Lyon", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        good = json.loads(topic.read_count(2)[0].value)
    hostile = {
        b"not json at all {": "JSONDecodeError",
        json.dumps({**good, "type": "SubsidiaryAnnexedByMars"}).encode(): "unknown event type",
        json.dumps({**good, "schema_version": 99}).encode(): "schema version 99 is newer",
        json.dumps({**good, "subsidiary_id": ["not", "a", "slug"]}).encode(): "ValidationError",
        b"[1, 2, 3]": "must be a JSON object",
    }
    producer = KafkaProducer(bootstrap_servers=platform.bootstrap)
    for value in hostile:
        producer.send(platform.topics.enrolment, key=b"lyon", value=value, headers=[("origin", b"attacker")])
    producer.flush()
    producer.close()

    consumers_go_on(platform, admin, matching, sessions, "the hostile messages")

    for service in ("matching", "sessions"):
        with TopicReader(platform.bootstrap, platform.topics.dead_letters(service)) as parked:
            records = parked.read_count(len(hostile))
            time.sleep(1)
            records = parked.settle(0.5)
        assert len(records) == len(hostile), f"{service} parked {len(records)} messages"  # each once, no valid one
        for record in records:
            headers = dict(record.headers)
            assert record.value in hostile and record.key == b"lyon"  # as it came
            assert hostile[record.value] in headers[REASON].decode(), headers[REASON]
            assert headers["tandem-source-topic"].decode() == platform.topics.enrolment
            assert int(headers["tandem-source-offset"]) >= 0 and headers["origin"] == b"attacker"
        process = matching if service == "matching" else sessions
        consumer = httpx.get(f"{process.url}/healthz").json()["consumer"]
        assert consumer["dead_lettered"] == len(hostile) and consumer["ok"]
        assert consumer["dead_letter_topic"] == platform.topics.dead_letters(service)


# --- forged events: well-formed, but not from where they arrived -------------------------------


def consumers_go_on(platform, admin, matching, sessions, after: str) -> None:
    """A subsidiary onboarded after `after` reaches both consumers."""
    assert admin.post("/subsidiaries", json={"id": "nantes", "name": "Nantes", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    deadline = time.monotonic() + 30
    for service, path in ((matching, "/subsidiaries/nantes/pool"), (sessions, "/subsidiaries/nantes/dashboard")):
        while platform.client(service).get(path).status_code != 200:
            assert time.monotonic() < deadline, f"{service.spec.name} stopped consuming after {after}"
            time.sleep(0.2)


def message(event: dict, *, key: str | None = None, **headers: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """An event as the wire lays it out (contracts/wire.py), the key and headers bent as asked."""
    values = {"type": event["type"], "schema_version": str(event["schema_version"]), "event_id": event["event_id"], "subsidiary_id": event["subsidiary_id"], **headers}
    return (key or event["subsidiary_id"]).encode(), json.dumps(event).encode(), [(name, value.encode()) for name, value in values.items()]


def onboarded(good: dict, slug: str, **fields) -> dict:
    return {**good, "event_id": str(uuid.uuid4()), "subsidiary_id": slug, "payload": {**good["payload"], "name": slug}, **fields}


def parked_by(platform, service: str, count: int) -> list:
    with TopicReader(platform.bootstrap, platform.topics.dead_letters(service)) as parked:
        parked.read_count(count)
        time.sleep(1)
        return parked.settle(0.5)


def test_forged_events_are_parked_with_the_check_they_failed_and_not_applied(platform):
    matching, sessions = platform.start("matching"), platform.start("sessions")
    enrolment = platform.start("enrolment")
    admin = platform.client(enrolment)
    assert admin.post("/subsidiaries", json={"id": "lyon", "name": "Lyon", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        good = json.loads(topic.read_count(2)[0].value)
    assert good["type"] == "SubsidiaryOnboarded"
    # Each forgery would onboard a subsidiary of its own (or open a relationship in lyon) if it were applied.
    match = MatchConfirmed(
        event_id=uuid.uuid4(), subsidiary_id="lyon", occurred_at=datetime.now(UTC), producer="matching",
        actor={"subject": "mallory", "role": "system"}, correlation_id="forged",
        payload={"match_id": uuid.uuid4(), "run_id": uuid.uuid4(), "format": "pair", "mentor_id": uuid.uuid4(), "mentee_ids": [uuid.uuid4()],
                 "theme": "networking", "shared_themes": ["networking"], "language": "fr", "score": 9},
    )
    _, match_value, _ = encode(match)
    enrolment_topic, matching_topic = platform.topics.enrolment, platform.topics.matching
    forged = {  # name: (topic, (key, value, headers), reason, the consuming services that read that topic)
        "enrolment event on the matching topic": (
            matching_topic, message(onboarded(good, "forged-topic")),
            f"type SubsidiaryOnboarded is not produced by matching (topic {matching_topic})", ("sessions",),
        ),
        "matching event on the enrolment topic": (
            enrolment_topic, message(json.loads(match_value)),
            f"type MatchConfirmed is not produced by enrolment (topic {enrolment_topic})", ("matching", "sessions"),
        ),
        "key of another subsidiary": (
            enrolment_topic, message(onboarded(good, "forged-key"), key="lyon"),
            "the key does not match the subsidiary in the body (forged-key)", ("matching", "sessions"),
        ),
        "header of another subsidiary": (
            enrolment_topic, message(onboarded(good, "forged-header"), subsidiary_id="lyon"),
            "the header subsidiary_id does not match the body", ("matching", "sessions"),
        ),
        "producer that lies": (
            enrolment_topic, message(onboarded(good, "forged-producer", producer="sessions")),
            f"the producer in the body is not enrolment, whose topic {enrolment_topic} it came on", ("matching", "sessions"),
        ),
    }
    producer = KafkaProducer(bootstrap_servers=platform.bootstrap)
    for topic_name, (key, value, headers), _, _ in forged.values():
        producer.send(topic_name, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()

    consumers_go_on(platform, admin, matching, sessions, "the forged messages")

    for service, process, path in (("matching", matching, "/subsidiaries/{}/pool"), ("sessions", sessions, "/subsidiaries/{}/dashboard")):
        expected = {value: (topic_name, reason) for topic_name, (_, value, _), reason, readers in forged.values() if service in readers}
        records = parked_by(platform, service, len(expected))
        assert len(records) == len(expected), f"{service} parked {len(records)} messages"
        for record in records:
            topic_name, reason = expected[record.value]
            assert headers_of(record)[REASON] == f"ProvenanceError: {reason}"
            assert headers_of(record)["tandem-source-topic"] == topic_name
        # Not applied: none of the forged subsidiaries exists, and lyon has no relationship.
        client = platform.client(process)
        for slug in ("forged-topic", "forged-key", "forged-header", "forged-producer"):
            assert client.get(path.format(slug)).status_code == 404, f"{service} applied the forged {slug}"
        assert httpx.get(f"{process.url}/healthz").json()["consumer"]["dead_lettered"] == len(expected)
    relationships = platform.client(sessions).get("/subsidiaries/lyon/relationships")
    assert relationships.status_code == 200 and relationships.json() == [], relationships.text


def headers_of(record) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


def test_a_dead_letter_reason_and_the_logs_hold_no_value_of_the_message(platform):
    """A participant's message with an email that breaks the contract is parked; neither its
    reason nor any service's log holds any part of the value."""
    matching, sessions = platform.start("matching"), platform.start("sessions")
    enrolment = platform.start("enrolment")
    admin = platform.client(enrolment)
    assert admin.post("/subsidiaries", json={"id": "lyon", "name": "Lyon", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    person = {"role": "mentee", "name": "Zoé Martin", "email": "zoe@axa.fr", "birth_year": 1961, "department": "Finance",
              "site": "Lyon", "languages": ["fr"], "themes": ["networking"]}
    participant_id = admin.post("/subsidiaries/lyon/participants", json=person).json()["id"]
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        enrolled = json.loads(topic.read(lambda rs: any(b"ParticipantEnrolled" in r.value for r in rs))[-1].value)
    assert enrolled["type"] == "ParticipantEnrolled"

    bad_email = "zoe.martin(at)quetzalcoatl-xqz.test"
    # Sealed with her own key where it belongs, as the relay would send it (it breaks the
    # contract once opened), and in plaintext (it breaks it as it came).
    sealed = platform.keys().seal(Binding(participant_id, "email", "lyon"), bad_email)
    producer = KafkaProducer(bootstrap_servers=platform.bootstrap)
    for email in (sealed, bad_email):
        event = {**enrolled, "event_id": str(uuid.uuid4())}
        event["payload"] = {**event["payload"], "personal_data": {**event["payload"]["personal_data"], "email": email}}
        key, value, headers = message(event)
        producer.send(platform.topics.enrolment, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()

    for service in ("matching", "sessions"):
        records = parked_by(platform, service, 2)
        assert len(records) == 2, f"{service} parked {len(records)} messages"
        for record in records:
            reason = headers_of(record)[REASON]
            assert reason.startswith("ValidationError: ") and "payload.personal_data.email" in reason, reason
            for part in ("zoe", "martin", "quetzal", "xqz", "(at)", "input"):
                assert part not in reason.lower(), reason
    time.sleep(1)  # the log lines are written as the messages are parked
    for process in (matching, sessions):
        process_log = (platform.home / f"{process.spec.name}.log").read_text(errors="replace")
        assert "parked unreadable message" in process_log and "payload.personal_data.email" in process_log  # it does log the parking
        for part in ("martin(at)", "quetzal", "xqz"):
            assert part not in process_log, f"{process.spec.name}'s log holds {part!r}"
