"""Matching end to end on the real broker, with the real enrolment and matching services:
enrol and certify through enrolment, see the pool follow, run, publish, decline, withdraw."""

import pytest
from kafka import KafkaProducer

from support import TopicReader, events_of, pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
def services(platform):
    enrolment = platform.start("enrolment")
    matching = platform.start("matching")
    return platform.client(enrolment), platform.client(matching)


@pytest.mark.smoke
def test_enrol_certify_match_publish_decline_and_withdraw(platform, services):
    enrolment, matching = services
    ids = set_up(enrolment, "axa-fr", mentors=3, mentees=7, capacity=2)
    pool = wait_for(lambda: (p := pool_of(matching, "axa-fr")) and len(p["mentors"]) == 3 and len(p["mentees"]) == 7 and p)
    assert pool["programme"]["mentor_capacity"] == 2 and all(m["capacity_left"] == 2 for m in pool["mentors"])

    run = matching.post("/subsidiaries/axa-fr/matching-runs", json={"format": "pair"})
    assert run.status_code == 201, run.text
    run = run.json()
    assert run["status"] == "draft" and run["summary"]["matched"] == 6  # 3 mentors x capacity 2
    [left_out] = [u for u in run["unmatched"] if u["role"] == "mentee"]
    assert left_out["reason_code"] == "allowed_mentors_full" and "capacity" in left_out["reason"]
    proposal = run["proposals"][0]
    terms = proposal["explanation"]["terms"]
    assert proposal["score"] == sum(terms.values()) and set(terms) == {"themes", "same_site", "cross_department", "availability"}
    assert proposal["explanation"]["shared_languages"] == ["fr"]
    assert matching.get(f"/subsidiaries/axa-fr/matching-runs/{run['id']}").json() == run

    with TopicReader(platform.bootstrap, platform.topics.matching) as topic:
        published = matching.post(f"/subsidiaries/axa-fr/matching-runs/{run['id']}/publish")
        assert published.status_code == 200, published.text
        records = topic.read_count(6)
        confirmed = events_of(records)
        assert {e.type for e in confirmed} == {"MatchConfirmed"} and {r.key for r in records} == {b"axa-fr"}
        assert dict(records[0].headers)["type"] == b"MatchConfirmed"
        assert {str(e.payload.match_id) for e in confirmed} == set(published.json()["match_ids"])
        assert all(str(e.payload.run_id) == run["id"] and e.payload.format == "pair" for e in confirmed)
        assert matching.post(f"/subsidiaries/axa-fr/matching-runs/{run['id']}/publish").status_code == 409  # once only

        first = confirmed[0].payload
        declined = matching.post(
            f"/subsidiaries/axa-fr/matches/{first.match_id}/decline", json={"by": str(first.mentee_ids[0]), "reason": "we already work together"}
        )
        assert declined.status_code == 200 and declined.json()["status"] == "declined"

        # A matched mentee withdraws in enrolment: matching ends the match by itself.
        second = confirmed[1].payload
        mentee = str(second.mentee_ids[0])
        assert enrolment.post(f"/subsidiaries/axa-fr/participants/{mentee}/withdraw", json={"reason": "retired"}).status_code == 200
        messages = topic.read_count(8)[6:]
        later = events_of(messages, platform.keys())  # the reasons are sealed (with the match's key)
    assert [e.payload.reason for e in events_of(messages)] == [None, None]  # without the keys, nothing to read
    assert [e.type for e in later] == ["MatchDeclined", "MatchEnded"]
    assert later[0].payload.reason == "we already work together" and later[0].payload.by == str(first.mentee_ids[0])
    assert later[1].payload.match_id == second.match_id and later[1].payload.reason == "a mentee withdrew: retired"
    ended = wait_for(lambda: matching.get("/subsidiaries/axa-fr/matches", params={"status": "ended"}).json())
    assert [m["id"] for m in ended] == [str(second.match_id)]

    # The declined pair is never proposed again; the withdrawn mentee is gone from the pool.
    again = matching.post("/subsidiaries/axa-fr/matching-runs", json={"format": "pair"}).json()
    pairs = {(p["mentor_id"], p["mentee_ids"][0]) for p in again["proposals"]}
    assert (str(first.mentor_id), str(first.mentee_ids[0])) not in pairs
    assert mentee not in {e for p in again["proposals"] for e in p["mentee_ids"]}
    assert ids  # participants came from enrolment's own ids
    assert set(ids.values()) >= {p["mentor_id"] for p in again["proposals"]}


def test_a_run_the_pool_no_longer_allows_is_refused(platform, services):
    enrolment, matching = services
    set_up(enrolment, "axa-be", mentors=1, mentees=2, capacity=2)
    wait_for(lambda: (p := pool_of(matching, "axa-be")) and len(p["mentees"]) == 2 and len(p["mentors"]) == 1)
    run = matching.post("/subsidiaries/axa-be/matching-runs", json={"format": "pair"}).json()
    mentee = run["proposals"][0]["mentee_ids"][0]
    assert enrolment.post(f"/subsidiaries/axa-be/participants/{mentee}/withdraw", json={"reason": "moved"}).status_code == 200
    wait_for(lambda: len(pool_of(matching, "axa-be")["mentees"]) == 1)
    refused = matching.post(f"/subsidiaries/axa-be/matching-runs/{run['id']}/publish")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["type"] == "pool_changed"
    assert [(p["type"], p["ctx"]) for p in detail["problems"]] == [("mentee_no_longer_waiting", {"mentee_id": mentee})]
    assert detail["problems"][0]["msg"] == f"mentee {mentee} is no longer waiting (withdrawn or matched meanwhile)"
    assert matching.get("/subsidiaries/axa-be/matches").json() == []


def test_mini_sessions_group_mentees_around_a_theme(platform, services):
    enrolment, matching = services
    set_up(enrolment, "axa-it", mentors=2, mentees=9, capacity=2)
    wait_for(lambda: (p := pool_of(matching, "axa-it")) and len(p["mentees"]) == 9 and len(p["mentors"]) == 2)
    run = matching.post("/subsidiaries/axa-it/matching-runs", json={"format": "mini-session"}).json()
    assert run["summary"]["matched"] == 9
    for group in run["proposals"]:
        assert group["theme"] in ("networking", "online learning") and group["language"] == "fr"
        assert len(group["mentee_ids"]) <= 10 and len(group["explanation"]["members"]) == len(group["mentee_ids"])
    with TopicReader(platform.bootstrap, platform.topics.matching) as topic:
        assert matching.post(f"/subsidiaries/axa-it/matching-runs/{run['id']}/publish").status_code == 200
        groups = events_of(topic.read_count(len(run["proposals"])))
    assert {e.payload.format for e in groups} == {"mini-session"}
    assert sum(len(e.payload.mentee_ids) for e in groups) == 9


def test_a_run_never_sees_another_subsidiarys_participants_and_tokens_stay_in_their_subsidiary(platform, services):
    enrolment, matching = services
    mine = set_up(enrolment, "sub-a", mentors=2, mentees=3)
    theirs = set_up(enrolment, "sub-b", mentors=2, mentees=3)
    for slug in ("sub-a", "sub-b"):
        wait_for(lambda slug=slug: (p := pool_of(matching, slug)) and len(p["mentees"]) == 3 and len(p["mentors"]) == 2)
    admin_a = platform.client(platform.processes[1], "subsidiary-admin", "sub-a")
    run = admin_a.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}).json()
    seen = {p["mentor_id"] for p in run["proposals"]} | {e for p in run["proposals"] for e in p["mentee_ids"]} | {
        u["participant_id"] for u in run["unmatched"]
    }
    assert seen <= set(mine.values()) and not seen & set(theirs.values())
    assert admin_a.get("/subsidiaries/sub-b/pool").status_code == 404
    assert admin_a.post("/subsidiaries/sub-b/matching-runs", json={"format": "pair"}).status_code == 404
    assert admin_a.get(f"/subsidiaries/sub-b/matching-runs/{run['id']}").status_code == 404
    auditor = platform.client(platform.processes[1], "auditor", "sub-a")
    assert auditor.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}).status_code == 403
    assert auditor.get("/subsidiaries/sub-a/pool").status_code == 200


def test_the_same_enrolment_events_delivered_again_change_nothing(platform, services):
    """Redelivery (or a relay republishing after a broker reset) is applied at most once."""
    enrolment, matching = services
    set_up(enrolment, "axa-pt", mentors=2, mentees=4)
    before = wait_for(lambda: (p := pool_of(matching, "axa-pt")) and len(p["mentees"]) == 4 and len(p["mentors"]) == 2 and p)
    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        records = [r for r in topic.settle(1.0) if r.key == b"axa-pt"]
    producer = KafkaProducer(bootstrap_servers=platform.bootstrap)
    for record in records + records:  # everything twice more, in order
        producer.send(platform.topics.enrolment, key=record.key, value=record.value, headers=record.headers)
    producer.flush()
    producer.close()
    # One new event after the duplicates tells when matching has read them all.
    mentee = before["mentees"][0]["id"]
    assert enrolment.post(f"/subsidiaries/axa-pt/participants/{mentee}/withdraw", json={"reason": "moved"}).status_code == 200
    after = wait_for(lambda: (p := pool_of(matching, "axa-pt")) and len(p["mentees"]) == 3 and p)
    assert after["mentors"] == before["mentors"]
    assert after["mentees"] == [m for m in before["mentees"] if m["id"] != mentee]
    health = matching.get("/healthz").json()
    assert health["consumer"]["ok"] and health["consumer"]["applied"] >= 3 * len(records)
