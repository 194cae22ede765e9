"""Concurrent requests to the real services end in one consistent outcome: the event
store's optimistic concurrency refuses the losers, never a duplicate."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from support import TopicReader, events_of
from test_matching import pool_of, set_up, wait_for

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
