"""Hostile events: what a consumer cannot read is parked on its dead-letter topic with the
reason, and the consumer goes on with the next message."""

import json
import time

import httpx
from kafka import KafkaProducer

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

    # The consumers go on: a subsidiary onboarded after the hostile messages reaches both.
    assert admin.post("/subsidiaries", json={"id": "nantes", "name": "Nantes", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    deadline = time.monotonic() + 30
    for service, path in ((matching, "/subsidiaries/nantes/pool"), (sessions, "/subsidiaries/nantes/dashboard")):
        while platform.client(service).get(path).status_code != 200:
            assert time.monotonic() < deadline, f"{service.spec.name} stopped consuming after the hostile messages"
            time.sleep(0.2)

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
