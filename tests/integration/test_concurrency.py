"""Concurrent requests to the real services end in one consistent outcome: the event
store's optimistic concurrency refuses the losers, never a duplicate."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from support import TopicReader, events_of, pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def at_once(count: int, request):
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: request(), range(count)))


def test_the_same_email_enrolled_by_many_requests_at_once_is_enrolled_once(platform):
    enrolment = platform.start("enrolment")
    api = platform.client(enrolment)
    assert api.post("/subsidiaries", json={"id": "axa-fr", "name": "AXA", "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    body = {
        "role": "mentee", "name": "Jeanne", "email": "jeanne@axa.fr", "birth_year": 1962, "department": "Finance",
        "site": "Paris", "languages": ["fr"], "themes": ["networking"],
    }
    statuses = sorted(r.status_code for r in at_once(8, lambda: platform.client(enrolment).post("/subsidiaries/axa-fr/participants", json=body)))
    assert statuses == [201] + [409] * 7
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        enrolled = [e for e in events_of(topic.settle(1.5)) if e.type == "ParticipantEnrolled"]
    assert len(enrolled) == 1
    assert api.get("/subsidiaries/axa-fr/participants").headers["X-Total-Count"] == "1"


def test_a_run_published_by_two_admins_at_once_is_published_once(platform):
    enrolment = platform.client(platform.start("enrolment"))
    matching_process = platform.start("matching")
    matching = platform.client(matching_process)
    set_up(enrolment, "axa-be", mentors=2, mentees=4, capacity=2)
    wait_for(lambda: (p := pool_of(matching, "axa-be")) and len(p["mentees"]) == 4 and len(p["mentors"]) == 2)
    run = matching.post("/subsidiaries/axa-be/matching-runs", json={"format": "pair"}).json()
    other = matching.post("/subsidiaries/axa-be/matching-runs", json={"format": "pair"}).json()  # the same people

    def publish(run_id: str):
        return lambda: platform.client(matching_process).post(f"/subsidiaries/axa-be/matching-runs/{run_id}/publish")

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda f: f(), [publish(run["id"]), publish(run["id"]), publish(other["id"]), publish(other["id"])]))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    active = matching.get("/subsidiaries/axa-be/matches", params={"status": "active"}).json()
    mentees = [m for match in active for m in match["mentee_ids"]]
    assert len(active) == 4 and len(mentees) == len(set(mentees)) == 4  # nobody matched twice


def test_one_mentor_booked_at_the_same_time_in_two_relationships_at_once_is_booked_once(platform):
    enrolment = platform.client(platform.start("enrolment"))
    matching = platform.client(platform.start("matching"))
    sessions_process = platform.start("sessions")
    sessions = platform.client(sessions_process)
    set_up(enrolment, "axa-ch", mentors=1, mentees=4, capacity=4)
    wait_for(lambda: (p := pool_of(matching, "axa-ch")) and len(p["mentees"]) == 4 and len(p["mentors"]) == 1)
    run = matching.post("/subsidiaries/axa-ch/matching-runs", json={"format": "pair"}).json()
    assert matching.post(f"/subsidiaries/axa-ch/matching-runs/{run['id']}/publish").status_code == 200
    relationships = wait_for(lambda: len(r := sessions.get("/subsidiaries/axa-ch/relationships").json()) == 4 and r)
    starts = (datetime.now(UTC) + timedelta(days=3)).isoformat()

    def book(relationship_id: str):
        body = {"relationship_id": relationship_id, "theme": "networking", "starts_at": starts, "location": "Zurich"}
        return lambda: platform.client(sessions_process).post("/subsidiaries/axa-ch/sessions", json=body)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda f: f(), [book(r["id"]) for r in relationships for _ in range(2)]))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    booked = sessions.get("/subsidiaries/axa-ch/sessions").json()
    assert len(booked) == 1 and booked[0]["starts_at"].startswith(starts[:16])
