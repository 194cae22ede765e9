"""Matching's API over its real SQLite store; enrolment's events are applied in process
(the consumer and relay are off: the Kafka path is covered by the integration tests)."""

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from contracts import enrolment as published
from services.common.auth import issue_token
from services.matching.api.main import create_app
from services.matching.domain import MatchBook, book_id
from services.matching.settings import MatchingSettings

SECRET = "matching-api-tests-" + "x" * 40


def bearer(role: str = "group-admin", subsidiary: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, role, subsidiary)}"}


ADMIN = bearer()


def event(cls, subsidiary: str, payload: dict):
    return cls(
        event_id=uuid.uuid4(), subsidiary_id=subsidiary, occurred_at=datetime.now(UTC), producer="enrolment",
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="c", payload=payload,
    )


def enrolled(subsidiary: str, role: str, n: int, **profile) -> tuple[list, str]:
    pid = str(uuid.uuid4())
    payload = {
        "participant_id": pid,
        "role": role,
        "personal_data": {"name": f"{role} {n}", "email": f"{role}{n}@{subsidiary}.com", "birth_year": 1998 if role == "mentor" else 1962, "manager_email": None},
        "department": "Digital" if role == "mentor" else f"Dept {n}",
        "site": "Paris",
        "languages": ["fr"],
        "themes": ["networking", "online learning"],
        "availability": ["mon-am"],
        **profile,
    }
    events = [event(published.ParticipantEnrolled, subsidiary, payload)]
    if role == "mentor":
        events.append(event(published.MentorCertified, subsidiary, {"participant_id": pid}))
    return events, pid


@pytest.fixture
def client(tmp_path, monkeypatch, event_store):
    monkeypatch.delenv("PERSISTENCE_MODULE", raising=False)
    for name, value in {
        "TANDEM_HOME": str(tmp_path), "TANDEM_SECRET": SECRET, "TANDEM_RELAY_ENABLED": "false", "TANDEM_CONSUMER_ENABLED": "false",
        **event_store,
    }.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(MatchingSettings())) as client:
        yield client


@pytest.fixture
def world(client):
    """Subsidiary a: 2 mentors (capacity 2) and 3 mentees; subsidiary b: 1 mentor, 1 mentee."""
    ids: dict[str, list[str]] = {"a-mentors": [], "a-mentees": [], "b": []}
    events = []
    for slug in ("sub-a", "sub-b"):
        events.append(event(published.SubsidiaryOnboarded, slug, {"name": slug, "timezone": "Europe/Paris", "locale": "fr-FR"}))
        events.append(event(published.ProgrammeConfigured, slug, {"themes": ["networking", "online learning"], "mentor_capacity": 2, "mini_session_max": 10, "target_sessions": 5, "session_minutes": 90, "min_age_gap": 1}))
    for n in range(2):
        more, pid = enrolled("sub-a", "mentor", n)
        events += more
        ids["a-mentors"].append(pid)
    for n in range(3):
        more, pid = enrolled("sub-a", "mentee", n)
        events += more
        ids["a-mentees"].append(pid)
    for role in ("mentor", "mentee"):
        more, pid = enrolled("sub-b", role, 0)
        events += more
        ids["b"].append(pid)
    client.app.state.application.apply_events(events)
    return ids


def test_the_pool_shows_certified_mentors_with_capacity_and_waiting_mentees(client, world):
    pool = client.get("/subsidiaries/sub-a/pool", headers=ADMIN).json()
    assert sorted(m["id"] for m in pool["mentors"]) == sorted(world["a-mentors"])
    assert all(m["capacity_left"] == 2 for m in pool["mentors"])
    assert sorted(e["id"] for e in pool["mentees"]) == sorted(world["a-mentees"])
    assert pool["weights"] == {"theme": 1, "same_site": 3, "cross_department": 2, "availability": 1}


def test_the_pool_is_paged_and_filtered_by_role_like_the_other_lists(client, world):
    everyone = client.get("/subsidiaries/sub-a/pool", headers=ADMIN)
    members = [m["id"] for m in everyone.json()["mentors"] + everyone.json()["mentees"]]
    assert everyone.headers["X-Total-Count"] == str(len(members)) and len(members) > 2
    pages = [client.get("/subsidiaries/sub-a/pool", params={"limit": 2, "offset": start}, headers=ADMIN) for start in range(0, len(members), 2)]
    assert [m["id"] for p in pages for m in p.json()["mentors"] + p.json()["mentees"]] == members  # mentors first, then mentees, nothing twice
    assert all(p.headers["X-Total-Count"] == str(len(members)) for p in pages)
    mentees = client.get("/subsidiaries/sub-a/pool", params={"role": "mentee"}, headers=ADMIN)
    assert mentees.json()["mentors"] == [] and sorted(e["id"] for e in mentees.json()["mentees"]) == sorted(world["a-mentees"])
    assert mentees.headers["X-Total-Count"] == str(len(world["a-mentees"]))
    mentors = client.get("/subsidiaries/sub-a/pool", params={"role": "mentor", "limit": 1}, headers=ADMIN)
    assert len(mentors.json()["mentors"]) == 1 and mentors.json()["mentees"] == [] and mentors.headers["X-Total-Count"] == str(len(world["a-mentors"]))
    problems = client.get("/subsidiaries/sub-a/pool", params={"role": "senior", "limit": 0}, headers=ADMIN)
    assert problems.status_code == 422 and {e["loc"][-1] for e in problems.json()["detail"]} == {"role", "limit"}


def test_a_run_is_a_draft_until_published_then_its_matches_leave_the_pool(client, world):
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN)
    assert run.status_code == 201
    run = run.json()
    assert run["status"] == "draft" and run["summary"]["matched"] == 3 and len(run["proposals"]) == 3
    assert client.get("/subsidiaries/sub-a/matches", headers=ADMIN).json() == []  # nothing final yet
    published_run = client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    assert published_run.status_code == 200 and len(published_run.json()["match_ids"]) == 3
    assert client.get(f"/subsidiaries/sub-a/matching-runs/{run['id']}", headers=ADMIN).json()["status"] == "published"
    assert client.get("/subsidiaries/sub-a/pool", headers=ADMIN).json()["mentees"] == []
    assert len(client.get("/subsidiaries/sub-a/matches", params={"status": "active"}, headers=ADMIN).json()) == 3
    again = client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    assert again.status_code == 409


def test_declining_returns_the_members_to_the_pool(client, world):
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    [match_id, *_] = client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN).json()["match_ids"]
    refused = client.post(f"/subsidiaries/sub-a/matches/{match_id}/decline", json={"by": str(uuid.uuid4()), "reason": "x"}, headers=ADMIN)
    assert refused.status_code == 409
    declined = client.post(f"/subsidiaries/sub-a/matches/{match_id}/decline", json={"by": "admin", "reason": "same team"}, headers=ADMIN)
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert len(client.get("/subsidiaries/sub-a/pool", headers=ADMIN).json()["mentees"]) == 1
    assert client.post(f"/subsidiaries/sub-a/matches/{match_id}/decline", json={"by": "admin", "reason": "again"}, headers=ADMIN).status_code == 409
    assert client.post(f"/subsidiaries/sub-a/matches/{uuid.uuid4()}/decline", json={"by": "admin", "reason": "x"}, headers=ADMIN).status_code == 404


def test_weights_are_set_per_subsidiary_and_change_the_scores(client, world):
    assert client.put("/subsidiaries/sub-a/matching-weights", json={"theme": 0, "same_site": 10, "cross_department": 0, "availability": 0}, headers=ADMIN).status_code == 200
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    assert {p["score"] for p in run["proposals"]} == {10}
    assert client.get("/subsidiaries/sub-b/matching-weights", headers=ADMIN).json()["same_site"] == 3
    bad = client.put("/subsidiaries/sub-a/matching-weights", json={"theme": -1, "same_site": "a lot", "colour": 1}, headers=ADMIN)
    assert bad.status_code == 422 and {e["loc"][-1] for e in bad.json()["detail"]} == {"theme", "same_site", "colour"}


@pytest.mark.parametrize(
    ("headers", "read", "write"),
    [
        (bearer("subsidiary-admin", "sub-a"), 200, 201),
        (bearer("subsidiary-admin", "sub-b"), 404, 404),
        (bearer("auditor", "sub-a"), 200, 403),
        (bearer("auditor"), 200, 403),
        ({}, 401, 401),
        (bearer(secret="another secret " * 4), 401, 401),
    ],
)
def test_access_follows_the_same_rules_as_enrolment(client, world, headers, read, write):
    assert client.get("/subsidiaries/sub-a/pool", headers=headers).status_code == read
    assert client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=headers).status_code == write


def test_unknown_subsidiaries_runs_and_formats_are_refused(client, world):
    assert client.get("/subsidiaries/nowhere/pool", headers=ADMIN).status_code == 404
    assert client.get(f"/subsidiaries/sub-a/matching-runs/{uuid.uuid4()}", headers=ADMIN).status_code == 404
    run = client.post("/subsidiaries/sub-b/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    assert client.get(f"/subsidiaries/sub-a/matching-runs/{run['id']}", headers=ADMIN).status_code == 404  # another subsidiary's run
    bad = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "trio"}, headers=ADMIN)
    assert bad.status_code == 422
    assert client.post("/subsidiaries/sub-a/matching-runs", content="format=pair", headers={**ADMIN, "Content-Type": "text/plain"}).status_code == 415


def test_an_erased_participant_keeps_their_matches_and_shows_no_name_anywhere(client, world):
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    gone = world["a-mentees"][0]
    matching = client.app.state.application
    erasure = event(published.ParticipantErased, "sub-a", {"participant_id": gone})
    matching.apply_events([erasure])
    head = matching.recorder.max_notification_id()
    matching.apply_events([erasure])  # delivered again: applied once
    assert matching.recorder.max_notification_id() == head

    shown = client.get(f"/subsidiaries/sub-a/matching-runs/{run['id']}", headers=ADMIN).json()
    names = {mentee: name for p in shown["proposals"] for mentee, name in zip(p["mentee_ids"], p["mentee_names"])}
    assert names[gone] is None and sorted(n for m, n in names.items() if m != gone) == ["mentee 1", "mentee 2"]
    assert len(client.get("/subsidiaries/sub-a/matches", params={"status": "active"}, headers=ADMIN).json()) == 3
    assert matching.book("sub-a").participants[gone]["erased"]
    kept = matching.view.profiles("sub-a", [gone])[gone]
    assert kept["personal_data"] == dict.fromkeys(["name", "email", "birth_year", "manager_email"]) and kept["site"] == "Paris"

    raw = b"".join(n.state for n in matching.recorder.select_notifications(start=0, limit=10_000))
    assert b"mentee 0" not in raw and b"mentee0@sub-a.com" not in raw and b"mentor 0" not in raw
    assert f"sealed:2:{gone}:".encode() in raw
    matching.keys.store.destroy(gone)  # as enrolment does, in the key store every service shares
    fresh = type(matching)(env=dict(matching.env))  # the same store (SQLite file or PostgreSQL database)
    try:  # another process reading the same stores: nothing personal of theirs either
        assert fresh.view.profiles("sub-a", [gone])[gone]["personal_data"]["name"] is None
        proposals = fresh.run("sub-a", uuid.UUID(run["id"])).proposals
        assert [p["mentee_names"] for p in proposals if gone in p["mentee_ids"]] == [[None]]
    finally:
        fresh.close()


def test_free_text_about_a_match_is_sealed_with_its_key_and_goes_when_any_member_is_erased(client, world):
    """A decline or end reason may name anyone: it is sealed with the match's own key, which
    matching destroys when any of the match's members is erased; a withdrawal reason is the
    participant's own words, sealed with theirs."""
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    matches = client.get("/subsidiaries/sub-a/matches", headers=ADMIN).json()
    declining, leaving = world["a-mentees"][0], world["a-mentees"][1]
    declined = next(m for m in matches if declining in m["mentee_ids"])
    ended = next(m for m in matches if leaving in m["mentee_ids"])
    answer = client.post(
        f"/subsidiaries/sub-a/matches/{declined['id']}/decline", json={"by": declining, "reason": "Paul Dubois is my cousin"}, headers=ADMIN
    )
    assert answer.status_code == 200, answer.text
    matching = client.app.state.application
    withdrawal = {"participant_id": leaving, "role": "mentee", "reason": "burn-out, ask Dr Roche"}
    matching.apply_events([event(published.ParticipantWithdrawn, "sub-a", withdrawal)])

    shown = {m["id"]: m for m in client.get("/subsidiaries/sub-a/matches", headers=ADMIN).json()}
    assert shown[declined["id"]]["reason"] == "Paul Dubois is my cousin"
    assert shown[ended["id"]]["reason"] == "a mentee withdrew: burn-out, ask Dr Roche"
    raw = b"".join(n.state for n in matching.recorder.select_notifications(start=0, limit=10_000))
    assert b"Paul Dubois" not in raw and b"Dr Roche" not in raw
    for subject in (declined["id"], ended["id"], leaving):
        assert f"sealed:2:{subject}:".encode() in raw

    matching.apply_events([event(published.ParticipantErased, "sub-a", {"participant_id": declining})])
    shown = {m["id"]: m for m in client.get("/subsidiaries/sub-a/matches", headers=ADMIN).json()}
    assert shown[declined["id"]]["reason"] is None and shown[declined["id"]]["status"] == "declined"
    assert shown[ended["id"]]["reason"] == "a mentee withdrew: burn-out, ask Dr Roche"  # not theirs: it stays
    assert matching.keys.is_erased(declined["id"]) and not matching.keys.is_erased(ended["id"])

    matching.apply_events([event(published.ParticipantErased, "sub-a", {"participant_id": leaving})])
    shown = {m["id"]: m for m in client.get("/subsidiaries/sub-a/matches", headers=ADMIN).json()}
    assert shown[ended["id"]]["reason"] is None
    matching.keys.store.destroy(leaving)  # as enrolment does, in the key store every service shares
    fresh = type(matching)(env=dict(matching.env))  # another process on the same stores
    try:
        assert fresh.view.match("sub-a", declined["id"])["reason"] is None and fresh.view.match("sub-a", ended["id"])["reason"] is None
        withdrawals = [e for e in fresh.repository.event_store.get(book_id("sub-a")) if isinstance(e, MatchBook.ParticipantWithdrawn)]
        assert [e.reason for e in withdrawals if e.participant_id == leaving] == [None]  # sealed with their key, destroyed
        other = next(m for m in matches if m["id"] not in (declined["id"], ended["id"]))
        assert fresh.view.match("sub-a", other["id"])["status"] == "active"
    finally:
        fresh.close()


def test_the_pool_lists_mentors_with_room_and_counts_the_full_ones(client, world):
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    pool = client.get("/subsidiaries/sub-a/pool", headers=ADMIN).json()
    # 3 mentees on 2 mentors of capacity 2: one mentor is full, the other has room for one more.
    assert pool["full_mentors"] == 1
    assert [m["capacity_left"] for m in pool["mentors"]] == [1]
    assert client.get("/subsidiaries/sub-b/pool", headers=ADMIN).json()["full_mentors"] == 0


def test_a_subsidiarys_runs_are_listed_newest_first_with_their_counts(client, world):
    first = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    second = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "mini-session"}, headers=ADMIN).json()
    client.post("/subsidiaries/sub-b/matching-runs", json={"format": "pair"}, headers=ADMIN)
    assert client.post(f"/subsidiaries/sub-a/matching-runs/{first['id']}/publish", headers=ADMIN).status_code == 200
    listed = client.get("/subsidiaries/sub-a/matching-runs", headers=ADMIN)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "2"
    newest, oldest = listed.json()
    assert (newest["id"], newest["format"], newest["status"], newest["confirmed"]) == (second["id"], "mini-session", "draft", None)
    assert (oldest["id"], oldest["status"], oldest["proposals"], oldest["unmatched"], oldest["matched"], oldest["confirmed"]) == (
        first["id"], "published", 3, len(first["unmatched"]), 3, 3,
    )
    assert newest["created_at"] >= oldest["created_at"]
    page = client.get("/subsidiaries/sub-a/matching-runs", params={"limit": 1, "offset": 1}, headers=ADMIN)
    assert page.headers["X-Total-Count"] == "2" and [r["id"] for r in page.json()] == [first["id"]]
    assert [r["id"] for r in client.get("/subsidiaries/sub-a/matching-runs", params={"status": "draft"}, headers=ADMIN).json()] == [second["id"]]
    assert client.get("/subsidiaries/nowhere/matching-runs", headers=ADMIN).status_code == 404
    assert client.get("/subsidiaries/sub-a/matching-runs", headers=bearer("subsidiary-admin", "sub-b")).status_code == 404


def test_a_runs_proposals_and_unmatched_are_filtered_and_paged(client, world):
    mentee_themes = {n: ["online learning"] if n == 0 else ["networking"] for n in range(3)}
    events = []
    for n, themes in mentee_themes.items():
        more, _ = enrolled("sub-a", "mentee", 10 + n, themes=themes)
        events += more
    client.app.state.application.apply_events(events)  # 6 mentees, 4 places
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    base = f"/subsidiaries/sub-a/matching-runs/{run['id']}"
    everything = client.get(f"{base}/proposals", headers=ADMIN)
    assert everything.headers["X-Total-Count"] == "4" and everything.json() == run["proposals"]
    paged = client.get(f"{base}/proposals", params={"limit": 3, "offset": 3}, headers=ADMIN)
    assert paged.headers["X-Total-Count"] == "4" and paged.json() == run["proposals"][3:]
    themes = {p["theme"] for p in run["proposals"]}
    for theme in themes:
        got = client.get(f"{base}/proposals", params={"theme": theme}, headers=ADMIN).json()
        assert got and all(p["theme"] == theme for p in got)
        assert len(got) == sum(p["theme"] == theme for p in run["proposals"])
    assert client.get(f"{base}/proposals", params={"theme": "knitting"}, headers=ADMIN).json() == []
    mentor = world["a-mentors"][0]
    theirs = client.get(f"{base}/proposals", params={"participant_id": mentor}, headers=ADMIN).json()
    assert len(theirs) == 2 and all(p["mentor_id"] == mentor for p in theirs)
    top = max(p["score"] for p in run["proposals"])
    assert all(p["score"] == top for p in client.get(f"{base}/proposals", params={"min_score": top}, headers=ADMIN).json())
    assert all(p["score"] < top for p in client.get(f"{base}/proposals", params={"max_score": top - 1}, headers=ADMIN).json())

    unmatched = client.get(f"{base}/unmatched", params={"role": "mentee"}, headers=ADMIN)
    assert unmatched.headers["X-Total-Count"] == "2"
    for u in unmatched.json():  # each reason: a code and its params, beside the English sentence
        assert (u["reason_code"], u["reason_params"]) == ("allowed_mentors_full", {"allowed": 2})
        assert u["reason"] == "no capacity left: the 2 mentors allowed for them are full"
    by_code = client.get(f"{base}/unmatched", params={"reason_code": "allowed_mentors_full", "limit": 1}, headers=ADMIN)
    assert by_code.headers["X-Total-Count"] == "2" and len(by_code.json()) == 1
    assert client.get(f"{base}/proposals", params={"participant_id": "Anne Dubois"}, headers=ADMIN).json()["detail"][0]["type"] == "uuid_parsing"
    assert "Anne" not in client.get(f"{base}/proposals", params={"participant_id": "Anne Dubois"}, headers=ADMIN).text
    assert client.get(f"/subsidiaries/sub-b/matching-runs/{run['id']}/proposals", headers=ADMIN).status_code == 404


def test_mentors_left_without_a_proposal_say_why_by_code(client, world):
    more, _ = enrolled("sub-b", "mentor", 1)
    client.app.state.application.apply_events(more)
    run = client.post("/subsidiaries/sub-b/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    [mentor] = [u for u in run["unmatched"] if u["role"] == "mentor"]
    assert (mentor["reason_code"], mentor["reason"]) == ("no_mentee_for_mentor", "no waiting mentee left who may be matched with them")


def test_refusals_have_stable_codes_and_params(client, world):
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    stale = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    again = client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN).json()["detail"]
    assert (again["type"], again["ctx"], again["msg"]) == ("run_already_published", {"run_id": run["id"]}, "this run is already published")

    changed = client.post(f"/subsidiaries/sub-a/matching-runs/{stale['id']}/publish", headers=ADMIN)
    assert changed.status_code == 409
    detail = changed.json()["detail"]
    assert detail["type"] == "pool_changed" and detail["ctx"] == {"run_id": stale["id"]}
    codes = [p["type"] for p in detail["problems"]]
    assert codes.count("mentee_no_longer_waiting") == 3 and "mentor_capacity_exceeded" in codes
    waiting = next(p for p in detail["problems"] if p["type"] == "mentee_no_longer_waiting")
    assert set(waiting["ctx"]) == {"mentee_id"} and waiting["ctx"]["mentee_id"] in world["a-mentees"]
    full = next(p for p in detail["problems"] if p["type"] == "mentor_capacity_exceeded")
    assert full["ctx"]["capacity_left"] < full["ctx"]["proposed"] and full["ctx"]["mentor_id"] in world["a-mentors"]
    assert client.get("/subsidiaries/sub-a/matching-runs", params={"status": "draft"}, headers=ADMIN).json()[0]["id"] == stale["id"]

    [match_id, *_] = client.get("/subsidiaries/sub-a/matches", headers=ADMIN).json()
    match_id = match_id["id"]
    stranger = client.post(f"/subsidiaries/sub-a/matches/{match_id}/decline", json={"by": "Paul Dubois", "reason": "x"}, headers=ADMIN)
    assert stranger.status_code == 409 and stranger.json()["detail"]["type"] == "not_a_match_member"
    assert stranger.json()["detail"]["ctx"] == {"match_id": match_id} and "Paul" not in stranger.text
    client.post(f"/subsidiaries/sub-a/matches/{match_id}/decline", json={"by": "admin", "reason": "same team"}, headers=ADMIN)
    twice = client.post(f"/subsidiaries/sub-a/matches/{match_id}/decline", json={"by": "admin", "reason": "again"}, headers=ADMIN).json()["detail"]
    assert (twice["type"], twice["ctx"], twice["msg"]) == ("match_already_declined", {"match_id": match_id}, "this match is already declined")


def test_matches_are_listed_by_participant(client, world):
    run = client.post("/subsidiaries/sub-a/matching-runs", json={"format": "pair"}, headers=ADMIN).json()
    client.post(f"/subsidiaries/sub-a/matching-runs/{run['id']}/publish", headers=ADMIN)
    mentee = world["a-mentees"][0]
    [match] = client.get("/subsidiaries/sub-a/matches", params={"participant_id": mentee}, headers=ADMIN).json()
    assert mentee in match["mentee_ids"]
    mentor = match["mentor_id"]
    led = client.get("/subsidiaries/sub-a/matches", params={"participant_id": mentor}, headers=ADMIN).json()
    assert led and all(m["mentor_id"] == mentor for m in led) and match["id"] in {m["id"] for m in led}
    # Someone matching never heard of has no match; a filter that is not an id is refused.
    assert client.get("/subsidiaries/sub-a/matches", params={"participant_id": str(uuid.uuid4())}, headers=ADMIN).json() == []
    assert client.get("/subsidiaries/sub-a/matches", params={"participant_id": "nobody"}, headers=ADMIN).status_code == 422
    declined = client.get("/subsidiaries/sub-a/matches", params={"participant_id": mentee, "status": "declined"}, headers=ADMIN).json()
    assert declined == []
