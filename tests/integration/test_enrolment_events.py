"""Enrolment end to end on the real broker: every API action yields its event on the topic,
with the right key and headers, and nothing is lost or doubled across crashes."""

import json
import os
import signal
import time
import uuid

import pytest

from support import TopicReader, events_of, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

HEADER = "role,name,email,birth_year,department,site,languages,themes,manager_email,availability\n"


def participant(email: str, role: str = "mentee", **extra) -> dict:
    return {
        "role": role,
        "name": "Jeanne Martin",
        "email": email,
        "birth_year": 1961 if role == "mentee" else 1998,
        "department": "Finance",
        "site": "Paris",
        "languages": ["fr", "en"],
        "themes": ["networking", "online learning"],
        **extra,
    }


def csv_rows(count: int, domain: str = "example.com") -> str:
    rows = [
        f"mentee,Person {i},person{i}@{domain},{1955 + i % 20},Dept {i % 7},Site {i % 3},fr;en,networking;information search,,mon-am"
        for i in range(count)
    ]
    return HEADER + "\n".join(rows) + "\n"


def onboard(client, slug: str) -> None:
    response = client.post("/subsidiaries", json={"id": slug, "name": slug.upper(), "timezone": "Europe/Paris", "locale": "fr-FR"})
    assert response.status_code == 201, response.text


@pytest.mark.smoke
def test_each_action_yields_its_event_with_key_headers_actor_and_correlation(platform):
    enrolment = platform.start("enrolment")
    api = platform.client(enrolment)
    correlation = {"X-Correlation-ID": "onboarding-axa-fr-42"}

    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        assert api.post(
            "/subsidiaries", json={"id": "axa-fr", "name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"}, headers=correlation
        ).status_code == 201
        assert api.put("/subsidiaries/axa-fr/programme", json={"mentor_capacity": 3, "min_age_gap": None}).status_code == 200
        mentor_id = api.post("/subsidiaries/axa-fr/participants", json=participant("zoe@axa.fr", "mentor")).json()["id"]
        assert api.post(
            "/subsidiaries/axa-fr/participants/import", content=csv_rows(2, "axa.fr"), headers={"Content-Type": "text/csv"}
        ).json() == {"imported": 2}
        assert api.post(f"/subsidiaries/axa-fr/participants/{mentor_id}/certify").status_code == 200
        assert api.patch(f"/subsidiaries/axa-fr/participants/{mentor_id}", json={"site": "Lyon"}).status_code == 200
        assert api.post(f"/subsidiaries/axa-fr/participants/{mentor_id}/withdraw", json={"reason": "moved to Madrid"}).status_code == 200

        records = topic.read_count(9)
        events = events_of(records, platform.keys())

    assert [e.type for e in events] == [
        "SubsidiaryOnboarded",
        "ProgrammeConfigured",
        "ProgrammeConfigured",
        "ParticipantEnrolled",
        "ParticipantEnrolled",
        "ParticipantEnrolled",
        "MentorCertified",
        "ParticipantProfileUpdated",
        "ParticipantWithdrawn",
    ]
    # One subsidiary, one key, one partition: its events stay in order.
    assert {r.key for r in records} == {b"axa-fr"} and len({r.partition for r in records}) == 1
    for record, event in zip(records, events):
        assert dict(record.headers) == {
            "type": event.type.encode(),
            "schema_version": str(type(event).version()).encode(),
            "event_id": str(event.event_id).encode(),
            "subsidiary_id": b"axa-fr",
        }
        assert event.producer == "enrolment" and event.subsidiary_id == "axa-fr"
        assert event.actor.subject == "test-group-admin" and event.actor.role == "group-admin"
        assert event.causation_id
    # Events recorded by one request share its correlation; each request has its own.
    assert events[0].correlation_id == events[1].correlation_id == "onboarding-axa-fr-42"
    assert events[4].correlation_id == events[5].correlation_id
    assert len({e.correlation_id for e in events}) == 7
    assert events[2].payload.mentor_capacity == 3 and events[2].payload.min_age_gap is None
    enrolled = events[3].payload
    assert str(enrolled.participant_id) == mentor_id and enrolled.role == "mentor"
    assert enrolled.personal_data.email == "zoe@axa.fr" and enrolled.personal_data.birth_year == 1998
    assert events[7].payload.changed == ["site"] and events[7].payload.site == "Lyon"
    assert events[8].payload.reason == "moved to Madrid"
    assert len({e.event_id for e in events}) == len(events)


def test_each_subsidiary_is_its_own_key_and_keeps_its_order(platform):
    enrolment = platform.start("enrolment")
    api = platform.client(enrolment)
    slugs = [f"sub-{i}" for i in range(6)]
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        for slug in slugs:
            onboard(api, slug)
        for i in range(3):
            for slug in slugs:
                assert api.post(f"/subsidiaries/{slug}/participants", json=participant(f"p{i}@{slug}.com")).status_code == 201
        records = topic.read_count(len(slugs) * 5)
    for slug in slugs:
        mine = [r for r in records if r.key == slug.encode()]
        assert len({r.partition for r in mine}) == 1
        assert [e.type for e in events_of(mine)] == ["SubsidiaryOnboarded", "ProgrammeConfigured"] + ["ParticipantEnrolled"] * 3
        assert [e.payload.personal_data.email for e in events_of(mine, platform.keys())[2:]] == [f"p{i}@{slug}.com" for i in range(3)]


def test_events_stored_while_the_relay_is_stopped_reach_the_topic_after_a_sigkill_and_restart(platform):
    enrolment = platform.start("enrolment", relay=False)
    api = platform.client(enrolment)
    onboard(api, "axa-be")
    assert api.post("/subsidiaries/axa-be/participants/import", content=csv_rows(50), headers={"Content-Type": "text/csv"}).status_code == 200

    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        assert topic.settle(1.0) == []  # stored, not yet published
        enrolment.kill()  # SIGKILL: no clean shutdown of any kind
        restarted = platform.start("enrolment", relay=True, port=enrolment.port)
        records = topic.read_count(52)
        assert topic.settle() == records  # and nothing more than once

    events = events_of(records)
    assert [e.type for e in events] == ["SubsidiaryOnboarded", "ProgrammeConfigured"] + ["ParticipantEnrolled"] * 50
    assert len({e.event_id for e in events}) == 52
    health = platform.client(restarted).get("/healthz").json()
    assert health["relay"]["lag"] == 0 and health["relay"]["ok"]


def test_a_sigkill_in_the_middle_of_publishing_loses_nothing(platform):
    """Killed right after the import commits, while the relay is publishing: at least once.
    Anything published twice is the very same event (same id), so consumers deduplicate."""
    enrolment = platform.start("enrolment")
    api = platform.client(enrolment)
    onboard(api, "axa-de")
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        topic.read_count(2)
        response = api.post("/subsidiaries/axa-de/participants/import", content=csv_rows(3000), headers={"Content-Type": "text/csv"})
        assert response.json() == {"imported": 3000}
        os.kill(enrolment.process.pid, signal.SIGKILL)
        enrolment.process.wait()
        platform.start("enrolment", port=enrolment.port)
        enrolled = lambda records: {r.value for r in records if dict(r.headers)["type"] == b"ParticipantEnrolled"}  # noqa: E731
        records = topic.read(lambda records: len(enrolled(records)) == 3000, timeout=60)
        records = topic.settle()

    events = events_of(records, platform.keys())
    by_id: dict[uuid.UUID, list] = {}
    for event in events:
        by_id.setdefault(event.event_id, []).append(event)
    assert len(by_id) == 3002  # every stored event is on the topic
    assert all(len({e.model_dump_json() for e in copies}) == 1 for copies in by_id.values())  # repeats are identical
    assert {e.payload.personal_data.email for e in events if e.type == "ParticipantEnrolled"} == {
        f"person{i}@example.com" for i in range(3000)
    }


def test_a_clean_restart_resumes_after_the_last_acknowledged_event(platform):
    enrolment = platform.start("enrolment")
    api = platform.client(enrolment)
    onboard(api, "axa-it")
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        topic.read_count(2)
        enrolment.stop()
        restarted = platform.start("enrolment", port=enrolment.port)
        assert platform.client(restarted).post("/subsidiaries/axa-it/participants", json=participant("a@axa.it")).status_code == 201
        records = topic.read_count(3)
        assert [e.type for e in events_of(topic.settle())] == ["SubsidiaryOnboarded", "ProgrammeConfigured", "ParticipantEnrolled"]
    assert len(records) == 3


def test_bad_input_is_refused_records_nothing_and_the_service_keeps_serving(platform):
    enrolment = platform.start("enrolment", TANDEM_MAX_BODY_BYTES="100000")
    api = platform.client(enrolment)
    onboard(api, "axa-es")
    refused = [
        api.post("/subsidiaries/axa-es/participants", json={"role": "mentor"}),
        api.post("/subsidiaries/axa-es/participants", json=participant("x@axa.es", themes=["cooking"])),
        api.post("/subsidiaries/axa-es/participants", content=b"{not json", headers={"Content-Type": "application/json"}),
        api.post("/subsidiaries/axa-es/participants", content=json.dumps(participant("y@axa.es")), headers={"Content-Type": "text/plain"}),
        api.post("/subsidiaries/axa-es/participants/import", content=csv_rows(3).replace("fr;en", "french"), headers={"Content-Type": "text/csv"}),
        api.post("/subsidiaries/axa-es/participants/import", content=b'role,name\n"unterminated', headers={"Content-Type": "text/csv"}),
        api.post("/subsidiaries/axa-es/participants/import", content=csv_rows(2000), headers={"Content-Type": "text/csv"}),
        api.post("/subsidiaries", json={"id": "Bad Slug!", "name": "x", "timezone": "Mars/Base", "locale": "not a locale"}),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422, 415, 422, 422, 413, 422]
    assert len(refused[0].json()["detail"]) >= 7  # every missing field is listed
    assert [e["row"] for e in refused[4].json()["detail"]] == [2, 3, 4]
    assert {e["loc"][1] for e in refused[7].json()["detail"]} == {"id", "timezone", "locale"}

    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        assert api.post("/subsidiaries/axa-es/participants", json=participant("ok@axa.es")).status_code == 201
        events = events_of(topic.read_count(3))
        assert [e.type for e in topic.settle(1.0) and events] == ["SubsidiaryOnboarded", "ProgrammeConfigured", "ParticipantEnrolled"]
    assert api.get("/subsidiaries/axa-es/participants").headers["X-Total-Count"] == "1"
    assert api.get("/healthz").json()["status"] == "ok"


@pytest.mark.smoke
def test_writes_are_accepted_while_the_broker_is_unreachable_and_health_says_so(platform):
    enrolment = platform.start("enrolment", KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    api = platform.client(enrolment)
    onboard(api, "axa-pt")
    assert api.post("/subsidiaries/axa-pt/participants", json=participant("a@axa.pt")).status_code == 201
    deadline = time.monotonic() + 30
    while (health := api.get("/healthz").json())["relay"]["ok"] and time.monotonic() < deadline:
        time.sleep(0.5)
    # Lag counts stored events not yet relayed: 2 for onboarding, 2 for the enrolment (the
    # participant and its email claim, which is stored but not published).
    assert health["status"] == "degraded" and health["relay"]["lag"] == 4 and health["relay"]["last_error"]

    # The broker comes back (here: the service is pointed at the real one): nothing was lost.
    enrolment.stop()
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        platform.start("enrolment", port=enrolment.port)
        assert [e.type for e in events_of(topic.read_count(3))] == ["SubsidiaryOnboarded", "ProgrammeConfigured", "ParticipantEnrolled"]


def test_a_fresh_broker_that_lost_every_topic_gets_every_event_again(platform, tmp_path):
    """The embedded broker keeps topics in memory. When it restarts empty, the relay sees an
    empty topic behind its position and publishes the whole log again, by itself."""
    from contracts.topics import Topics
    from infra.broker import EmbeddedBroker
    from infra.topics import ensure_topics

    topics = Topics(platform.topics.prefix)
    port = free_port()
    broker = EmbeddedBroker(port=port, log_path=tmp_path / "own-broker.log").start()
    try:
        ensure_topics(broker.bootstrap_servers, topics.all())
        enrolment = platform.start("enrolment", KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers, TANDEM_RELAY_RESET_CHECK_SECONDS="1")
        api = platform.client(enrolment)
        onboard(api, "axa-ch")
        with TopicReader(broker.bootstrap_servers, topics.enrolment) as topic:
            topic.read_count(2)

        broker.stop()
        broker = EmbeddedBroker(port=port, log_path=tmp_path / "own-broker.log").start()
        ensure_topics(broker.bootstrap_servers, topics.all())
        assert api.post("/subsidiaries/axa-ch/participants", json=participant("new@axa.ch")).status_code == 201

        with TopicReader(broker.bootstrap_servers, topics.enrolment) as topic:
            topic.read(lambda records: {dict(r.headers)["type"] for r in records} >= {b"SubsidiaryOnboarded", b"ParticipantEnrolled"}, timeout=60)
            events = events_of(topic.settle())
        assert sorted(e.type for e in {e.event_id: e for e in events}.values()) == [
            "ParticipantEnrolled", "ProgrammeConfigured", "SubsidiaryOnboarded"
        ]
    finally:
        platform.stop_all()
        broker.stop()
