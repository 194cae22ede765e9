"""Sessions' API over its real SQLite store. Enrolment's and matching's events are applied in
process (the consumer and relay are off: the Kafka path is covered by the integration
tests), and the service's clock is overridden, so that sessions can start, be held and
relationships stall without waiting.

Subsidiary A: mentors Zoé (certified), Hugo (certified) and Inès (in training); mentees
e1 to e6. Zoé mentors two pairs, P1 (e1) and P2 (e2), and the mini-session group G (e3, e4,
e5); e6 is not matched. Subsidiary B: one pair, PB. Matches are confirmed at T0; the
programme asks for 2 sessions of 60 minutes and mini-sessions of at most 3 mentees.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from apitools import NOWHERE, PRINCIPALS, SECRET, SUB_A, SUB_B, locs
from contracts import enrolment, matching
from services.sessions.domain import Relationship, roster_id
from services.sessions.api.deps import clock
from services.sessions.api.main import create_app
from services.sessions.settings import SessionsSettings

ADMIN, ADMIN_A, ADMIN_B = PRINCIPALS["group-admin"], PRINCIPALS["admin-A"], PRINCIPALS["admin-B"]
AUDITOR_A, AUDITOR_ALL = PRINCIPALS["auditor-A"], PRINCIPALS["auditor-all"]

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # the matches are confirmed; the clock starts here
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
S = T0 + 2 * DAY + 2 * HOUR  # a slot two days later, 10:00 UTC
PARIS = ZoneInfo("Europe/Paris")
THEMES = ["networking", "online learning", "information search"]
PROGRAMME = {"themes": THEMES, "mentor_capacity": 5, "mini_session_max": 3, "target_sessions": 2, "session_minutes": 60, "min_age_gap": 1}


# -- upstream events ---------------------------------------------------------------------


def upstream(cls: Any, subsidiary: str, payload: dict, at: datetime = T0) -> Any:
    """An event of enrolment or matching as the consumer receives it."""
    return cls(
        event_id=uuid.uuid4(), subsidiary_id=subsidiary, occurred_at=at, producer=cls.PRODUCER,
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="c", payload=payload,
    )


def onboarded(subsidiary: str, name: str, timezone: str = "Europe/Paris") -> Any:
    return upstream(enrolment.SubsidiaryOnboarded, subsidiary, {"name": name, "timezone": timezone, "locale": "fr-FR"})


def programme(subsidiary: str, **changes: Any) -> Any:
    return upstream(enrolment.ProgrammeConfigured, subsidiary, {**PROGRAMME, **changes})


def person(subsidiary: str, role: str, name: str, *, certified: bool = False) -> tuple[str, list]:
    pid = str(uuid.uuid4())
    email = f"{name.split()[0].lower()}@{subsidiary}.com"
    payload = {
        "participant_id": pid,
        "role": role,
        "personal_data": {"name": name, "email": email, "birth_year": 1998 if role == "mentor" else 1962, "manager_email": None},
        "department": "Digital",
        "site": "Paris",
        "languages": ["fr"],
        "themes": THEMES[:2],
        "availability": ["mon-am"],
    }
    events = [upstream(enrolment.ParticipantEnrolled, subsidiary, payload, at=T0 - 30 * DAY)]
    if certified:
        events.append(upstream(enrolment.MentorCertified, subsidiary, {"participant_id": pid}, at=T0 - 20 * DAY))
    return pid, events


def withdrawn(subsidiary: str, pid: str, role: str) -> Any:
    return upstream(enrolment.ParticipantWithdrawn, subsidiary, {"participant_id": pid, "role": role, "reason": "left the company"})


def confirmed(subsidiary: str, mentor: str, *mentees: str, theme: str | None = "networking", at: datetime = T0) -> tuple[str, Any]:
    match_id = str(uuid.uuid4())
    payload = {
        "match_id": match_id, "run_id": str(uuid.uuid4()), "format": "pair" if len(mentees) == 1 else "mini-session",
        "mentor_id": mentor, "mentee_ids": list(mentees), "theme": theme, "shared_themes": [theme] if theme else [],
        "language": "fr", "score": 7,
    }
    return match_id, upstream(matching.MatchConfirmed, subsidiary, payload, at=at)


def ended(subsidiary: str, match_id: str, mentor: str, *mentees: str, reason: str = "e1 withdrew") -> Any:
    return upstream(matching.MatchEnded, subsidiary, {"match_id": match_id, "mentor_id": mentor, "mentee_ids": list(mentees), "reason": reason})


def member_left(subsidiary: str, match_id: str, mentor: str, who: str, *remaining: str, reason: str = "a mentee withdrew: retired") -> Any:
    payload = {"match_id": match_id, "mentor_id": mentor, "participant_id": who, "mentee_ids": list(remaining), "reason": reason}
    return upstream(matching.MatchMemberLeft, subsidiary, payload)


def declined(subsidiary: str, match_id: str, mentor: str, *mentees: str, by: str = "admin", reason: str = "same team") -> Any:
    payload = {"match_id": match_id, "mentor_id": mentor, "mentee_ids": list(mentees), "by": by, "reason": reason}
    return upstream(matching.MatchDeclined, subsidiary, payload)


# -- the service ---------------------------------------------------------------------------


class Clock:
    """The service's clock (deps.clock), moved by the tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def client(tmp_path, monkeypatch, event_store):
    for name in ("PERSISTENCE_MODULE", "SESSIONS_PERSISTENCE_MODULE", "SQLITE_DBNAME", "SESSIONS_SQLITE_DBNAME", "TANDEM_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "TANDEM_HOME": str(tmp_path), "TANDEM_SECRET": SECRET, "TANDEM_RELAY_ENABLED": "false", "TANDEM_CONSUMER_ENABLED": "false",
        **event_store,
    }.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(SessionsSettings())) as client:
        yield client


@pytest.fixture
def now(client) -> Clock:
    the_clock = Clock(T0)
    client.app.dependency_overrides[clock] = the_clock
    return the_clock


def apply(client: TestClient, *events: Any) -> None:
    client.app.state.application.apply_events(list(events))


def head(client: TestClient) -> int:
    """The event store's head: unchanged when a request recorded nothing."""
    return client.app.state.application.recorder.max_notification_id() or 0


@pytest.fixture
def world(client, now) -> SimpleNamespace:
    w = SimpleNamespace(events=[onboarded(SUB_A, "AXA France"), programme(SUB_A), onboarded(SUB_B, "AXA Belgique", "Europe/Brussels"), programme(SUB_B)])
    for key, role, name, certified in [
        ("m1", "mentor", "Zoé Leroy", True), ("m2", "mentor", "Hugo Petit", True), ("m3", "mentor", "Inès Moreau", False),
        *((f"e{n}", "mentee", f"Mentee{n} Martin", False) for n in range(1, 7)),
    ]:
        pid, events = person(SUB_A, role, name, certified=certified)
        setattr(w, key, pid)
        w.events += events
    w.mb, events = person(SUB_B, "mentor", "Jan Peeters", certified=True)
    w.events += events
    w.eb, events = person(SUB_B, "mentee", "Marie Claes")
    w.events += events
    w.p1_match, p1 = confirmed(SUB_A, w.m1, w.e1)
    w.p2_match, p2 = confirmed(SUB_A, w.m1, w.e2, theme="online learning")
    w.g_match, g = confirmed(SUB_A, w.m1, w.e3, w.e4, w.e5, theme="online learning")
    w.pb_match, pb = confirmed(SUB_B, w.mb, w.eb)
    w.events += [p1, p2, g, pb]
    apply(client, *w.events)
    by_match = {r["match_id"]: r["id"] for sub in (SUB_A, SUB_B) for r in client.get(f"/subsidiaries/{sub}/relationships", headers=ADMIN).json()}
    w.p1, w.p2, w.g, w.pb = (by_match[m] for m in (w.p1_match, w.p2_match, w.g_match, w.pb_match))
    return w


def body(relationship: str | None = None, *, group: str | None = None, start: datetime = S, **extra: Any) -> dict:
    out: dict[str, Any] = {"theme": "networking", "starts_at": start.isoformat(), "location": "Room 1", **extra}
    if relationship:
        out["relationship_id"] = relationship
    if group:
        out["group_id"] = group
    return out


def schedule(client: TestClient, sub: str = SUB_A, headers: dict = ADMIN, **request: Any) -> Any:
    return client.post(f"/subsidiaries/{sub}/sessions", json=body(**request), headers=headers)


def book(client: TestClient, relationship: str | None = None, **request: Any) -> dict:
    response = schedule(client, relationship=relationship, **request)
    assert response.status_code == 201, response.text
    return response.json()


def session_of(client: TestClient, session_id: str, sub: str = SUB_A) -> dict:
    response = client.get(f"/subsidiaries/{sub}/sessions/{session_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def relationship_of(client: TestClient, rel_id: str, sub: str = SUB_A) -> dict:
    response = client.get(f"/subsidiaries/{sub}/relationships/{rel_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def act(client: TestClient, session_id: str, action: str, payload: dict | None = None, headers: dict = ADMIN, sub: str = SUB_A) -> Any:
    return client.post(f"/subsidiaries/{sub}/sessions/{session_id}/{action}", json=payload, headers=headers)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def ids(rows: list[dict]) -> list[str]:
    return [row["id"] for row in rows]


def problems_of(response: Any) -> list[dict]:
    """A 409's reasons, each {type, msg, ctx}."""
    assert response.status_code == 409, response.text
    return response.json()["detail"]["problems"]


def codes_of(response: Any) -> list[str]:
    return [p["type"] for p in problems_of(response)]


def refusal_of(response: Any) -> dict:
    """A 409's refusal, {type, msg, ctx}, and its reasons."""
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    return {key: detail[key] for key in ("type", "msg", "ctx", "problems")}


# -- relationships from matching's events -------------------------------------------------


def test_a_confirmed_match_opens_a_pair_or_a_group_with_the_programme_s_targets(client, world):
    rels = {r["id"]: r for r in client.get(f"/subsidiaries/{SUB_A}/relationships", headers=ADMIN).json()}
    assert set(rels) == {world.p1, world.p2, world.g}
    pair, group = rels[world.p1], rels[world.g]
    assert (pair["format"], pair["status"], pair["target_sessions"], pair["session_minutes"]) == ("pair", "active", 2, 60)
    assert pair["mentor"] == {"id": world.m1, "name": "Zoé Leroy", "email": f"zoé@{SUB_A}.com", "personal_data_erased": False}
    assert [m["id"] for m in pair["mentees"]] == [world.e1] and pair["mentees"][0]["name"] == "Mentee1 Martin"
    assert (group["format"], group["theme"], group["target_sessions"]) == ("mini-session", "online learning", 2)
    assert [m["id"] for m in group["mentees"]] == [world.e3, world.e4, world.e5]
    assert at(pair["matched_at"]) == T0 and pair["sessions_held"] == 0 and pair["next_session_at"] is None
    assert [r["id"] for r in client.get(f"/subsidiaries/{SUB_B}/relationships", headers=ADMIN).json()] == [world.pb]
    assert relationship_of(client, world.g)["id"] == world.g


def test_relationship_filters(client, world):
    def listed(**query: Any) -> set[str]:
        response = client.get(f"/subsidiaries/{SUB_A}/relationships", params=query, headers=ADMIN)
        assert response.status_code == 200, response.text
        return set(ids(response.json()))

    apply(client, ended(SUB_A, world.p2_match, world.m1, world.e2))
    assert listed(format="mini-session") == {world.g}
    assert listed(format="pair") == {world.p1, world.p2}
    assert listed(status="closed") == {world.p2}
    assert listed(status="active") == {world.p1, world.g}
    assert listed(participant_id=world.e4) == {world.g}
    assert listed(participant_id=world.m1) == {world.p1, world.p2, world.g}
    assert listed(participant_id=world.e6) == set()
    assert client.get(f"/subsidiaries/{SUB_A}/relationships", params={"status": "paused"}, headers=ADMIN).status_code == 422


def test_lists_come_in_pages_with_the_total(client, world):
    path = f"/subsidiaries/{SUB_A}/relationships"
    everything = client.get(path, headers=ADMIN).json()
    pages = [client.get(path, params={"limit": 2, "offset": offset}, headers=ADMIN) for offset in (0, 2)]
    assert [r.headers["X-Total-Count"] for r in pages] == ["3", "3"]
    assert [len(r.json()) for r in pages] == [2, 1]
    assert pages[0].json() + pages[1].json() == everything  # in a stable order
    assert client.get(path, params={"limit": 0}, headers=ADMIN).status_code == 422


def test_redelivering_the_same_events_changes_nothing(client, world):
    before, listed = head(client), client.get(f"/subsidiaries/{SUB_A}/relationships", headers=ADMIN).json()
    apply(client, *world.events)
    apply(client, *reversed(world.events))
    assert head(client) == before
    assert client.get(f"/subsidiaries/{SUB_A}/relationships", headers=ADMIN).json() == listed
    end = ended(SUB_A, world.p1_match, world.m1, world.e1)
    apply(client, end)
    after_end = head(client)
    apply(client, end, *world.events)  # the match is not reopened by its old confirmation either
    assert head(client) == after_end
    assert relationship_of(client, world.p1)["status"] == "closed"


def test_a_match_confirmed_before_the_programme_waits_for_it(client, now):
    mentor, m_events = person("sub-c", "mentor", "Léa Roux", certified=True)
    mentee, e_events = person("sub-c", "mentee", "Marc Blanc")
    waiting_id, waiting = confirmed("sub-c", mentor, mentee)
    gone_id, gone = confirmed("sub-c", mentor, mentee, theme="online learning")
    apply(client, onboarded("sub-c", "AXA Suisse"), *m_events, *e_events, waiting, gone)
    assert client.get("/subsidiaries/sub-c/relationships", headers=ADMIN).json() == []
    apply(client, declined("sub-c", gone_id, mentor, mentee, by=mentee, reason="not my theme"))  # ends before it could open
    apply(client, programme("sub-c", target_sessions=7, session_minutes=45))
    [rel] = client.get("/subsidiaries/sub-c/relationships", headers=ADMIN).json()
    assert (rel["match_id"], rel["status"], rel["target_sessions"], rel["session_minutes"]) == (waiting_id, "active", 7, 45)
    assert at(rel["matched_at"]) == T0  # the match's time, not the programme's
    before = head(client)
    apply(client, programme("sub-c", target_sessions=3))  # opened once only
    assert head(client) == before + 1
    assert len(client.get("/subsidiaries/sub-c/relationships", headers=ADMIN).json()) == 1


def test_within_a_batch_enrolment_s_events_come_before_matching_s_whatever_the_order(client, world):
    mentee, events = person(SUB_A, "mentee", "Nina Faure")
    _, match = confirmed(SUB_A, world.m2, mentee)
    apply(client, match, programme(SUB_A, target_sessions=4, session_minutes=30), *events)  # the programme changed just before
    [rel] = client.get(f"/subsidiaries/{SUB_A}/relationships", params={"participant_id": mentee}, headers=ADMIN).json()
    assert (rel["target_sessions"], rel["session_minutes"]) == (4, 30)
    assert rel["mentees"][0]["name"] == "Nina Faure"
    assert relationship_of(client, world.p1)["target_sessions"] == 2  # those opened before keep theirs


def test_a_dashboard_with_nothing_to_divide_shows_no_rates(client, now):
    apply(client, onboarded("sub-c", "AXA Suisse"), programme("sub-c"))
    dashboard = client.get("/subsidiaries/sub-c/dashboard", headers=ADMIN).json()
    assert (dashboard["mentees"], dashboard["match_rate"], dashboard["attendance"]["rate"]) == (0, None, None)
    assert dashboard["average_rating"] == {"mentor": {"count": 0, "average": None}, "mentee": {"count": 0, "average": None}}
    assert dashboard["stalled"] == [] and dashboard["sessions_held_by_theme"] == {}


def test_a_mentee_leaving_a_group_is_taken_off_its_sessions_to_come_and_the_group_goes_on(client, world, now):
    session = book(client, relationship=None, group=world.g, theme="online learning")
    before = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    leaving = member_left(SUB_A, world.g_match, world.m1, world.e3, world.e4, world.e5)
    apply(client, leaving)
    recorded = head(client)
    apply(client, leaving)  # delivered again
    assert head(client) == recorded

    group = relationship_of(client, world.g)
    assert group["status"] == "active" and [m["id"] for m in group["mentees"]] == [world.e4, world.e5]
    assert [p["id"] for p in session_of(client, session["id"])["participants"]] == [world.m1, world.e4, world.e5]
    after = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert after["matched_mentees"] == before["matched_mentees"] - 1 and after["relationships"] == before["relationships"]
    # The mentee's time is free; the others' is not.
    mentee, events = person(SUB_A, "mentor", "Other Mentor", certified=True)
    _, pair = confirmed(SUB_A, mentee, world.e3)
    apply(client, *events, pair)
    [theirs] = client.get(f"/subsidiaries/{SUB_A}/relationships", params={"participant_id": world.e3, "status": "active"}, headers=ADMIN).json()
    assert schedule(client, relationship=theirs["id"]).status_code == 201


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (lambda w: ended(SUB_A, w.p1_match, w.m1, w.e1, reason="the mentee withdrew: left the company"), "the mentee withdrew: left the company"),
        (lambda w: declined(SUB_A, w.p1_match, w.m1, w.e1, by="admin", reason="same team"), "the match was declined (by an admin): same team"),
        (lambda w: declined(SUB_A, w.p1_match, w.m1, w.e1, by=w.m1, reason="no time"), "the match was declined (by the mentor): no time"),
    ],
)
def test_an_ended_or_declined_match_closes_the_relationship_and_frees_the_members(client, world, end, reason):
    first = book(client, world.p1, start=S)
    later = book(client, world.p1, start=S + 7 * DAY)
    apply(client, end(world))
    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["reason"], rel["sessions_scheduled"], rel["next_session_at"]) == ("closed", reason, 0, None)
    assert rel["ended_at"] is not None
    for session in (first, later):
        cancelled = session_of(client, session["id"])
        assert cancelled["status"] == "cancelled" and cancelled["cancellation_reason"] == f"the relationship was closed: {reason}"
    assert book(client, world.p2, start=S)["status"] == "scheduled"  # Zoé is free again at that time
    assert codes_of(schedule(client, relationship=world.p1, start=S + 14 * DAY)) == ["relationship_closed"]


def test_a_mentor_s_matches_ending_together_free_every_booking(client, world):
    """A withdrawn mentor's matches end in one batch: each closes, and the mentor's agenda,
    shared by the three, is released for every one of them."""
    booked = [book(client, world.p1, start=S), book(client, world.p2, start=S + DAY), book(client, group=world.g, start=S + 2 * DAY)]
    apply(
        client,
        ended(SUB_A, world.p1_match, world.m1, world.e1, reason="the mentor withdrew"),
        ended(SUB_A, world.p2_match, world.m1, world.e2, reason="the mentor withdrew"),
        ended(SUB_A, world.g_match, world.m1, world.e3, world.e4, world.e5, reason="the mentor withdrew"),
    )
    assert {relationship_of(client, r)["status"] for r in (world.p1, world.p2, world.g)} == {"closed"}
    assert {session_of(client, b["id"])["status"] for b in booked} == {"cancelled"}
    _, match = confirmed(SUB_A, world.m1, world.e6)
    apply(client, match)
    [new] = client.get(f"/subsidiaries/{SUB_A}/relationships", params={"participant_id": world.e6}, headers=ADMIN).json()
    for n in range(3):
        assert book(client, new["id"], start=S + n * DAY)["status"] == "scheduled"


def test_a_match_confirmed_and_ended_in_one_batch_is_closed_at_once(client, world):
    mentee, events = person(SUB_A, "mentee", "Brief Encounter")
    match_id, match = confirmed(SUB_A, world.m2, mentee)
    apply(client, *events, match, ended(SUB_A, match_id, world.m2, mentee, reason="wrong person"))
    [rel] = client.get(f"/subsidiaries/{SUB_A}/relationships", params={"participant_id": mentee}, headers=ADMIN).json()
    assert (rel["status"], rel["reason"]) == ("closed", "wrong person")


def close(client: TestClient, rel_id: str, payload: Any = None, headers: dict = ADMIN, sub: str = SUB_A) -> Any:
    return client.post(f"/subsidiaries/{sub}/relationships/{rel_id}/close", json=payload, headers=headers)


def test_an_admin_closes_a_relationship_early_and_its_sessions_to_come_are_cancelled(client, world, now):
    held = book(client, world.p1, start=S)
    coming = book(client, world.p1, start=S + 7 * DAY)
    now.now = S + HOUR
    act(client, held["id"], "complete")
    response = close(client, world.p1, {"reason": "the mentee changed jobs"}, headers=ADMIN_A)
    assert response.status_code == 200, response.text
    rel = response.json()
    assert (rel["status"], rel["reason"], rel["sessions_held"], rel["sessions_scheduled"]) == ("closed", "the mentee changed jobs", 1, 0)
    assert session_of(client, held["id"])["status"] == "held"
    cancelled = session_of(client, coming["id"])
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "the relationship was closed: the mentee changed jobs")
    assert book(client, world.p2, start=S + 7 * DAY)["status"] == "scheduled"  # Zoé's time is free
    before = head(client)
    again = close(client, world.p1, {"reason": "twice"})
    assert again.status_code == 409 and "already closed" in again.text
    assert head(client) == before
    # Matching then ends the match; its event changes nothing more.
    apply(client, ended(SUB_A, world.p1_match, world.m1, world.e1, reason="the relationship was closed"))
    assert relationship_of(client, world.p1)["reason"] == "the mentee changed jobs"
    assert client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()["relationships"] == {"active": 2, "completed": 0, "closed": 1}


def test_only_an_active_relationship_is_closed_by_an_admin(client, world, now):
    sessions = [book(client, world.p1, start=S + n * DAY) for n in range(2)]
    now.now = S + 2 * DAY
    for session in sessions:
        act(client, session["id"], "complete")
    before = head(client)
    completed = close(client, world.p1, {"reason": "too late"})
    assert completed.status_code == 409 and "already completed" in completed.text
    for payload in ({"reason": ""}, {"reason": "x" * 501}, {}, {"reason": "ok", "colour": "red"}):
        assert close(client, world.p2, payload).status_code == 422, payload
    assert close(client, world.p2).status_code == 422  # no body: a reason is required
    assert close(client, str(uuid.uuid4()), {"reason": "x"}).status_code == 404
    assert close(client, world.pb, {"reason": "x"}).status_code == 404  # B's, via A
    assert close(client, world.p2, {"reason": "x"}, headers=ADMIN_B).status_code == 404
    assert close(client, world.p2, {"reason": "x"}, headers=AUDITOR_A).status_code == 403
    assert close(client, world.p2, {"reason": "x"}, headers={}).status_code == 401
    assert close(client, world.p2, {"reason": ""}, headers={}).status_code == 401
    assert head(client) == before
    assert relationship_of(client, world.p2)["status"] == "active"


# -- scheduling ---------------------------------------------------------------------------


def test_scheduling_a_pair_session(client, world):
    before = head(client)
    response = schedule(client, relationship=world.p1, theme="  Networking ", start=S.astimezone(PARIS), video_link="https://meet.example.com/p1")
    assert response.status_code == 201, response.text
    assert head(client) > before
    session = response.json()
    assert (session["relationship_id"], session["format"], session["theme"]) == (world.p1, "pair", "networking")
    assert at(session["starts_at"]) == S and session["duration_minutes"] == 60  # the programme's length
    assert (session["location"], session["video_link"]) == ("Room 1", "https://meet.example.com/p1")
    assert (session["status"], session["sequence"], session["cancellation_reason"], session["feedback"]) == ("scheduled", 0, None, [])
    assert [(p["id"], p["role"], p["name"], p["present"]) for p in session["participants"]] == [
        (world.m1, "mentor", "Zoé Leroy", None),
        (world.e1, "mentee", "Mentee1 Martin", None),
    ]
    assert session_of(client, session["id"]) == session
    rel = relationship_of(client, world.p1)
    assert rel["sessions_scheduled"] == 1 and at(rel["next_session_at"]) == S


def test_scheduling_a_mini_session_by_its_group_id(client, world):
    session = book(client, group=world.g, theme="online learning", duration_minutes=120, location=None, video_link="https://meet.example.com/g")
    assert (session["relationship_id"], session["format"], session["duration_minutes"], session["location"]) == (world.g, "mini-session", 120, None)
    assert [p["id"] for p in session["participants"]] == [world.m1, world.e3, world.e4, world.e5]
    assert [p["role"] for p in session["participants"]] == ["mentor", "mentee", "mentee", "mentee"]


def test_a_pair_is_named_by_relationship_id_and_a_group_by_group_id(client, world):
    before = head(client)
    for request in (
        {"relationship": world.g},  # a group named as a pair
        {"group": world.p1},  # a pair named as a group
        {"relationship": str(uuid.uuid4())},
        {"group": str(uuid.uuid4())},
        {"relationship": world.pb},  # B's pair, addressed in A
    ):
        assert schedule(client, **request).status_code == 404, request
    assert schedule(client, sub=SUB_B, relationship=world.p1).status_code == 404  # and A's in B
    assert head(client) == before


def test_a_member_booked_at_that_time_in_another_relationship_is_a_conflict(client, world):
    first = book(client, world.p1, start=S)
    before = head(client)
    [problem] = problems_of(schedule(client, relationship=world.p2, start=S + 30 * MINUTE))
    assert problem["type"] == "participant_already_booked"
    assert problem["ctx"] == {"participant_id": world.m1, "session_id": first["id"], "starts_at": S.isoformat(), "ends_at": (S + HOUR).isoformat()}
    assert "Zoé" not in json.dumps(problem)  # ids only: the console names them
    assert problems_of(schedule(client, relationship=world.p2, start=S - 59 * MINUTE))  # overlaps its first minute
    assert head(client) == before
    assert book(client, world.p2, start=S + HOUR)["status"] == "scheduled"  # back to back: no overlap
    assert book(client, world.p2, start=S - HOUR, duration_minutes=60)["status"] == "scheduled"
    assert len(client.get(f"/subsidiaries/{SUB_A}/sessions", params={"participant_id": world.m1}, headers=ADMIN).json()) == 3


def test_a_theme_outside_the_programme_is_a_conflict_naming_the_programme_s_themes(client, world):
    before = head(client)
    [problem] = problems_of(schedule(client, relationship=world.p1, theme="cooking"))
    assert (problem["type"], problem["ctx"]) == ("unknown_theme", {"theme": "cooking", "themes": THEMES})
    assert "'cooking'" in problem["msg"]
    assert head(client) == before


def test_a_group_above_the_programme_s_new_limit_cannot_meet(client, world):
    book(client, group=world.g, start=S)  # 3 mentees, the programme allows 3
    apply(client, programme(SUB_A, mini_session_max=2))
    before = head(client)
    [problem] = problems_of(schedule(client, group=world.g, start=S + 7 * DAY))
    assert (problem["type"], problem["ctx"]) == ("group_too_large", {"mentees": 3, "mini_session_max": 2})
    assert "3 mentees" in problem["msg"] and "at most 2 mentees" in problem["msg"]
    assert head(client) == before
    assert book(client, world.p1, start=S + 7 * DAY)["status"] == "scheduled"  # pairs are not concerned


def test_a_refused_session_lists_every_problem_at_once(client, world):
    first = book(client, world.p1, start=S)
    apply(client, programme(SUB_A, mini_session_max=2), ended(SUB_A, world.g_match, world.m1, world.e3, world.e4, world.e5, reason="HR decision"))
    before = head(client)
    response = schedule(client, group=world.g, start=S + 30 * MINUTE, theme="cooking")
    assert response.json()["detail"]["type"] == "session_not_scheduled"
    assert sorted(codes_of(response)) == ["group_too_large", "participant_already_booked", "relationship_closed", "unknown_theme"]
    assert first["id"] in json.dumps(problems_of(response))
    assert "HR decision" not in response.text  # free text stays out of an error
    assert head(client) == before


def test_an_invalid_session_lists_every_problem_in_one_answer_and_records_nothing(client, world):
    before = head(client)
    past_and_more = schedule(
        client, relationship=world.p1, group=world.g, start=T0 - HOUR, video_link="http://meet.example.com/x", duration_minutes=5
    )
    assert past_and_more.status_code == 422, past_and_more.text
    assert locs(past_and_more) == sorted(
        [("body", "duration_minutes"), ("body", "group_id"), ("body", "starts_at"), ("body", "video_link")], key=repr
    )
    assert any(p["type"] == "in_the_past" for p in past_and_more.json()["detail"])
    naive = client.post(
        f"/subsidiaries/{SUB_A}/sessions", json={"theme": "networking", "starts_at": "2030-03-06T10:00:00"}, headers=ADMIN
    )
    assert naive.status_code == 422, naive.text
    assert locs(naive) == sorted([("body", "group_id"), ("body", "starts_at"), ("body", "video_link")], key=repr)  # no id, nowhere to meet
    starting_now = schedule(client, relationship=world.p1, start=T0, video_link="http://meet.example.com/x")
    assert locs(starting_now) == sorted([("body", "starts_at"), ("body", "video_link")], key=repr)
    assert head(client) == before


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"start": T0 - MINUTE}, ("body", "starts_at")),
        ({"start": T0}, ("body", "starts_at")),  # starting now is too late
        ({"video_link": "http://meet.example.com/x"}, ("body", "video_link")),
        ({"video_link": "not a link"}, ("body", "video_link")),
        ({"location": None}, ("body", "video_link")),  # nowhere to meet
        ({"location": "   "}, ("body", "location")),
        ({"group": "G"}, ("body", "group_id")),  # both ids
        ({"theme": "x"}, ("body", "theme")),
        ({"duration_minutes": 600}, ("body", "duration_minutes")),
        ({"colour": "blue"}, ("body", "colour")),
    ],
)
def test_each_invalid_field_is_named(client, world, changes, loc):
    if changes.get("group") == "G":
        changes["group"] = world.g
    before = head(client)
    response = schedule(client, relationship=world.p1, **changes)
    assert response.status_code == 422, response.text
    assert locs(response) == [loc]
    assert head(client) == before


def test_a_session_must_be_json(client, world):
    response = client.post(f"/subsidiaries/{SUB_A}/sessions", content="theme=networking", headers={**ADMIN, "Content-Type": "text/plain"})
    assert response.status_code == 415


# -- rescheduling, cancelling -------------------------------------------------------------


def test_rescheduling_moves_the_session_and_keeps_its_place_unless_given(client, world):
    session = book(client, world.p1, start=S, video_link="https://meet.example.com/p1")
    moved = act(client, session["id"], "reschedule", {"starts_at": (S + 30 * MINUTE).isoformat()})  # overlaps its own old time
    assert moved.status_code == 200, moved.text
    moved = moved.json()
    assert at(moved["starts_at"]) == S + 30 * MINUTE and moved["sequence"] == 1 and moved["duration_minutes"] == 60
    assert (moved["location"], moved["video_link"]) == ("Room 1", "https://meet.example.com/p1")
    elsewhere = act(client, session["id"], "reschedule", {"starts_at": (S + DAY).isoformat(), "location": "Room 9", "duration_minutes": 30}).json()
    assert (elsewhere["location"], elsewhere["video_link"], elsewhere["duration_minutes"], elsewhere["sequence"]) == ("Room 9", None, 30, 2)
    online = act(client, session["id"], "reschedule", {"starts_at": (S + DAY).isoformat(), "video_link": "https://meet.example.com/new"}).json()
    assert (online["location"], online["video_link"], online["sequence"]) == (None, "https://meet.example.com/new", 3)
    event = the_event(invitation_of(client, session["id"]))
    assert event["SEQUENCE"] == 3 and event["DTSTART"].dt == S + DAY
    assert session_of(client, session["id"]) == online
    assert at(relationship_of(client, world.p1)["next_session_at"]) == S + DAY


def test_a_moved_session_frees_its_old_time_and_books_the_new_one(client, world):
    session = book(client, world.p1, start=S)
    assert act(client, session["id"], "reschedule", {"starts_at": (S + DAY).isoformat()}).status_code == 200
    assert book(client, world.p2, start=S)["status"] == "scheduled"  # Zoé's old time is free
    before = head(client)
    [problem] = problems_of(schedule(client, relationship=world.p2, start=S + DAY))
    assert problem["ctx"]["session_id"] == session["id"]
    assert head(client) == before


def test_a_session_cannot_be_moved_onto_another_of_its_members_sessions(client, world):
    session = book(client, world.p1, start=S)
    other = book(client, world.p2, start=S + 3 * HOUR)
    before = head(client)
    refused = act(client, session["id"], "reschedule", {"starts_at": (S + 3 * HOUR + 30 * MINUTE).isoformat()})
    assert refusal_of(refused)["type"] == "session_not_moved"
    assert [(p["type"], p["ctx"]["session_id"]) for p in problems_of(refused)] == [("participant_already_booked", other["id"])]
    past = act(client, session["id"], "reschedule", {"starts_at": (T0 - HOUR).isoformat()})
    assert past.status_code == 422 and locs(past) == [("body", "starts_at")]
    insecure = act(client, session["id"], "reschedule", {"starts_at": (T0 - HOUR).isoformat(), "video_link": "http://x.example.com"})
    assert insecure.status_code == 422 and locs(insecure) == sorted([("body", "starts_at"), ("body", "video_link")], key=repr)
    assert act(client, str(uuid.uuid4()), "reschedule", {"starts_at": (S + DAY).isoformat()}).status_code == 404
    assert head(client) == before
    assert session_of(client, session["id"])["sequence"] == 0


def test_cancelling_a_session_with_a_reason_frees_its_time(client, world):
    session = book(client, world.p1, start=S)
    cancelled = act(client, session["id"], "cancel", {"reason": "Zoé is ill"})
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancellation_reason"]) == ("cancelled", "Zoé is ill")
    before = head(client)
    assert act(client, session["id"], "cancel", {"reason": "again"}).status_code == 409
    assert act(client, session["id"], "reschedule", {"starts_at": (S + DAY).isoformat()}).status_code == 409
    assert act(client, session["id"], "cancel", {"reason": ""}).status_code == 422
    assert act(client, session["id"], "cancel").status_code == 422  # a reason is required
    assert act(client, str(uuid.uuid4()), "cancel", {"reason": "x"}).status_code == 404
    assert head(client) == before
    assert book(client, world.p2, start=S)["status"] == "scheduled"
    rel = relationship_of(client, world.p1)
    assert (rel["sessions_scheduled"], rel["next_session_at"]) == (0, None)


# -- attendance, feedback, completion, notes ----------------------------------------------


def test_nothing_is_recorded_about_a_session_before_it_starts(client, world, now):
    session = book(client, world.p1, start=S)
    now.now = S - MINUTE
    before = head(client)
    assert act(client, session["id"], "attendance", {"participant_id": world.e1, "present": True}).status_code == 409
    assert act(client, session["id"], "feedback", {"participant_id": world.e1, "rating": 5}).status_code == 409
    assert act(client, session["id"], "complete").status_code == 409
    assert head(client) == before
    now.now = S
    assert act(client, session["id"], "attendance", {"participant_id": world.e1, "present": True}).status_code == 200


def test_a_session_s_life_until_the_relationship_completes(client, world, now):
    first = book(client, world.p1, start=S)
    second = book(client, world.p1, start=S + 7 * DAY, theme="online learning")
    now.now = S + 90 * MINUTE
    sid = first["id"]

    assert act(client, sid, "attendance", {"participant_id": world.m1, "present": True}).status_code == 200
    absent = act(client, sid, "attendance", {"participant_id": world.e1, "present": False}).json()
    assert {p["id"]: p["present"] for p in absent["participants"]} == {world.m1: True, world.e1: False}
    assert relationship_of(client, world.p1)["no_shows"] == {world.e1: 1}
    late = act(client, sid, "attendance", {"participant_id": world.e1, "present": True}).json()  # arrived late: the last record counts
    assert {p["id"]: p["present"] for p in late["participants"]} == {world.m1: True, world.e1: True}
    assert relationship_of(client, world.p1)["no_shows"] == {}
    assert act(client, sid, "attendance", {"participant_id": world.e2, "present": True}).status_code == 409  # not a member

    assert act(client, sid, "feedback", {"participant_id": world.m1, "rating": 4, "comment": "Curious and keen"}).status_code == 200
    rated = act(client, sid, "feedback", {"participant_id": world.e1, "rating": 5}).json()
    assert sorted((f["participant_id"], f["role"], f["rating"], f["comment"]) for f in rated["feedback"]) == sorted(
        [(world.m1, "mentor", 4, "Curious and keen"), (world.e1, "mentee", 5, None)]
    )
    before = head(client)
    assert act(client, sid, "feedback", {"participant_id": world.e1, "rating": 1}).status_code == 409  # once each
    assert act(client, sid, "feedback", {"participant_id": world.e2, "rating": 3}).status_code == 409
    for rating in (0, 6, "five"):
        assert act(client, sid, "feedback", {"participant_id": world.m1, "rating": rating}).status_code == 422
    assert head(client) == before

    held = act(client, sid, "complete")
    assert held.status_code == 200 and held.json()["status"] == "held" and held.json()["held_at"] is not None
    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["sessions_held"], rel["sessions_scheduled"]) == ("active", 1, 1)
    assert act(client, sid, "complete").status_code == 409  # held once
    assert act(client, sid, "cancel", {"reason": "too late"}).status_code == 409

    now.now = S + 7 * DAY + HOUR
    assert act(client, second["id"], "complete").status_code == 200
    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["sessions_held"], rel["reason"]) == ("completed", 2, None)
    assert rel["ended_at"] is not None

    # The exchange goes on after completion: notes, and more sessions if they wish.
    noted = client.post(f"/subsidiaries/{SUB_A}/relationships/{world.p1}/notes", json={"author_id": world.e1, "note": "I now run my own Teams meetings"}, headers=ADMIN)
    assert noted.status_code == 201, noted.text
    assert [(n["author_id"], n["note"], at(n["written_at"])) for n in noted.json()["notes"]] == [(world.e1, "I now run my own Teams meetings", now.now)]
    extra = book(client, world.p1, start=S + 14 * DAY)
    now.now = S + 14 * DAY + HOUR
    assert act(client, extra["id"], "complete").status_code == 200
    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["sessions_held"]) == ("completed", 3)


def test_a_group_completes_when_its_target_is_reached(client, world, now):
    sessions = [book(client, group=world.g, start=S + n * DAY, theme="online learning") for n in range(2)]
    now.now = S + 3 * DAY
    for session in sessions:
        assert act(client, session["id"], "complete").status_code == 200
    assert relationship_of(client, world.g)["status"] == "completed"
    assert relationship_of(client, world.p1)["status"] == "active"  # Zoé's other relationships are not concerned
    dashboard = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert dashboard["relationships"] == {"active": 2, "completed": 1, "closed": 0}
    assert dashboard["matched_mentees"] == 5  # a completed relationship still counts its mentees as matched


def test_a_completed_relationship_stays_completed_when_its_match_ends(client, world, now):
    sessions = [book(client, world.p1, start=S + n * DAY) for n in range(2)]
    now.now = S + 3 * DAY
    for session in sessions:
        act(client, session["id"], "complete")
    apply(client, ended(SUB_A, world.p1_match, world.m1, world.e1, reason="the mentee withdrew"))
    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["reason"]) == ("completed", None)
    note = client.post(f"/subsidiaries/{SUB_A}/relationships/{world.p1}/notes", json={"author_id": world.m1, "note": "Still in touch"}, headers=ADMIN)
    assert note.status_code == 201


def test_a_member_who_withdraws_after_completion_has_their_sessions_to_come_cancelled(client, world, now):
    """Matching has no match left to end for a completed relationship: sessions cancels its
    follow-up sessions itself, and frees the time of those who stay."""
    done = [book(client, world.p1, start=S + n * DAY) for n in range(2)]
    follow_up = book(client, world.p1, start=S + 10 * DAY)
    elsewhere = book(client, world.p2, start=S + 11 * DAY)  # the mentor's other, active relationship
    now.now = S + 3 * DAY
    for session in done:
        act(client, session["id"], "complete")
    assert relationship_of(client, world.p1)["status"] == "completed"

    apply(client, withdrawn(SUB_A, world.e1, "mentee"))
    cancelled = session_of(client, follow_up["id"])
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "the mentee withdrew: left the company")
    assert [session_of(client, s["id"])["status"] for s in done] == ["held", "held"]
    assert session_of(client, elsewhere["id"])["status"] == "scheduled"  # matching ends that one's match itself
    assert relationship_of(client, world.p1)["status"] == "completed"
    # The mentor's time is free again.
    assert schedule(client, relationship=world.p2, start=S + 10 * DAY).status_code == 201


def test_notes_are_written_by_members_of_open_relationships(client, world):
    path = f"/subsidiaries/{SUB_A}/relationships/{{}}/notes"
    before = head(client)
    assert client.post(path.format(world.p1), json={"author_id": world.e2, "note": "hi"}, headers=ADMIN).status_code == 409  # not a member
    assert client.post(path.format(world.p1), json={"author_id": world.e1, "note": "  "}, headers=ADMIN).status_code == 422
    assert client.post(path.format(world.p1), json={"author_id": "e1", "note": "hi"}, headers=ADMIN).status_code == 422
    assert client.post(path.format(uuid.uuid4()), json={"author_id": world.e1, "note": "hi"}, headers=ADMIN).status_code == 404
    assert client.post(path.format(world.pb), json={"author_id": world.eb, "note": "hi"}, headers=ADMIN).status_code == 404  # B's, via A
    assert head(client) == before
    apply(client, declined(SUB_A, world.p2_match, world.m1, world.e2, by=world.e2, reason="no time"))
    before = head(client)
    closed = client.post(path.format(world.p2), json={"author_id": world.e2, "note": "sorry"}, headers=ADMIN)
    assert closed.status_code == 409 and "closed" in closed.text
    assert head(client) == before
    written = client.post(path.format(world.g), json={"author_id": world.e4, "note": "Next time: online courses"}, headers=ADMIN)
    assert written.status_code == 201 and written.json()["notes"][0]["author_id"] == world.e4


# -- reading sessions ---------------------------------------------------------------------


def test_session_filters(client, world):
    s1 = book(client, world.p1, start=S)["id"]
    s2 = book(client, world.p2, start=S + DAY, theme="online learning")["id"]
    s3 = book(client, group=world.g, start=S + 2 * DAY, theme="Networking")["id"]
    act(client, s2, "cancel", {"reason": "ill"})

    def listed(**query: Any) -> list[str]:
        response = client.get(f"/subsidiaries/{SUB_A}/sessions", params=query, headers=ADMIN)
        assert response.status_code == 200, response.text
        return ids(response.json())

    assert listed() == [s1, s2, s3]  # soonest first
    assert listed(status="scheduled") == [s1, s3]
    assert listed(status="cancelled") == [s2]
    assert listed(status="held") == []
    assert listed(relationship_id=world.p1) == [s1]
    assert listed(relationship_id=world.g) == [s3]
    assert listed(participant_id=world.e3) == [s3]
    assert listed(participant_id=world.m1) == [s1, s2, s3]
    assert listed(participant_id=world.e6) == []
    assert listed(theme="NETWORKING") == [s1, s3]
    assert listed(starts_after=(S + DAY).isoformat()) == [s2, s3]  # from, included
    assert listed(starts_before=(S + DAY).isoformat()) == [s1]  # until, excluded
    assert listed(starts_after=S.isoformat(), starts_before=(S + 2 * DAY).isoformat(), status="scheduled") == [s1]
    assert listed(starts_after=(S + HOUR).astimezone(PARIS).isoformat()) == [s2, s3]  # any offset
    assert client.get(f"/subsidiaries/{SUB_B}/sessions", headers=ADMIN).json() == []
    for bad in ({"status": "postponed"}, {"starts_after": "2030-03-06T10:00:00"}, {"participant_id": "e1"}):
        assert client.get(f"/subsidiaries/{SUB_A}/sessions", params=bad, headers=ADMIN).status_code == 422, bad


def test_one_session_is_found_in_its_own_subsidiary_only(client, world):
    session = book(client, world.p1)
    assert session_of(client, session["id"])["id"] == session["id"]
    assert client.get(f"/subsidiaries/{SUB_A}/sessions/{uuid.uuid4()}", headers=ADMIN).status_code == 404
    assert client.get(f"/subsidiaries/{SUB_B}/sessions/{session['id']}", headers=ADMIN).status_code == 404
    assert client.get(f"/subsidiaries/{SUB_A}/sessions/not-a-uuid", headers=ADMIN).status_code == 422
    assert client.get(f"/subsidiaries/{SUB_A}/relationships/{uuid.uuid4()}", headers=ADMIN).status_code == 404
    assert client.get(f"/subsidiaries/{SUB_B}/relationships/{world.p1}", headers=ADMIN).status_code == 404


def invitation_of(client: TestClient, session_id: str, sub: str = SUB_A) -> Calendar:
    response = client.get(f"/subsidiaries/{sub}/sessions/{session_id}.ics", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    return Calendar.from_ical(response.content)


def the_event(calendar: Calendar) -> Any:
    [event] = calendar.walk("VEVENT")
    return event


def test_the_invitation_file_invites_every_member_in_the_subsidiary_s_time_zone(client, world):
    session = book(client, group=world.g, start=S, video_link="https://meet.example.com/g")
    calendar = invitation_of(client, session["id"])
    event = the_event(calendar)
    assert calendar["METHOD"] == "REQUEST" and str(calendar["NAME"]) == "AXA France"
    assert str(event["UID"]).startswith(session["id"])
    assert event["DTSTART"].dt == S and str(event["DTSTART"].dt.tzinfo) == "Europe/Paris"
    assert event["DTEND"].dt == S + timedelta(minutes=60)
    attendees = event["ATTENDEE"]
    assert sorted(str(a) for a in attendees) == sorted(f"mailto:{p['email']}" for p in session["participants"])
    assert {a.params["CN"] for a in attendees} == {"Zoé Leroy", "Mentee3 Martin", "Mentee4 Martin", "Mentee5 Martin"}
    assert str(event["ORGANIZER"]) == f"mailto:zoé@{SUB_A}.com"
    assert str(event["URL"]) == "https://meet.example.com/g"
    act(client, session["id"], "cancel", {"reason": "Zoé is ill"})
    calendar = invitation_of(client, session["id"])
    assert calendar["METHOD"] == "CANCEL" and the_event(calendar)["STATUS"] == "CANCELLED"
    assert str(the_event(calendar)["UID"]) == str(event["UID"])
    assert client.get(f"/subsidiaries/{SUB_A}/sessions/{uuid.uuid4()}.ics", headers=ADMIN).status_code == 404
    assert client.get(f"/subsidiaries/{SUB_B}/sessions/{session['id']}.ics", headers=ADMIN).status_code == 404
    brussels = book(client, world.pb, sub=SUB_B, start=S)
    assert str(the_event(invitation_of(client, brussels["id"], SUB_B))["DTSTART"].dt.tzinfo) == "Europe/Brussels"


# -- stalled relationships ----------------------------------------------------------------


def stalled_ids(client: TestClient, **query: Any) -> set[str]:
    return set(ids(client.get(f"/subsidiaries/{SUB_A}/relationships", params={"stalled": "true", **query}, headers=ADMIN).json()))


def test_a_relationship_with_no_session_three_weeks_after_its_match_is_stalled(client, world, now):
    now.now = T0 + 20 * DAY
    assert stalled_ids(client) == set()
    now.now = T0 + 22 * DAY
    assert stalled_ids(client) == {world.p1, world.p2, world.g}
    session = book(client, world.p1, start=now.now + DAY)
    assert stalled_ids(client) == {world.p2, world.g}
    assert relationship_of(client, world.p1)["stalled"] is False
    assert set(ids(client.get(f"/subsidiaries/{SUB_A}/relationships", params={"stalled": "false"}, headers=ADMIN).json())) == {world.p1}
    act(client, session["id"], "cancel", {"reason": "mentee on leave"})
    assert stalled_ids(client) == {world.p1, world.p2, world.g}  # its only session was cancelled
    assert relationship_of(client, world.p1)["stalled"] is True
    apply(client, ended(SUB_A, world.p2_match, world.m1, world.e2))
    assert stalled_ids(client) == {world.p1, world.g}  # a closed relationship is not stalled
    dashboard = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert dashboard["stalled_relationships"] == 2 and set(dashboard["stalled"]) == {world.p1, world.g}


def test_a_held_session_keeps_a_relationship_from_stalling(client, world, now):
    session = book(client, world.p1, start=S)
    now.now = S + HOUR
    act(client, session["id"], "complete")
    now.now = T0 + 60 * DAY
    assert world.p1 not in stalled_ids(client)


def test_an_old_match_arrives_already_stalled(client, world, now):
    mentee, events = person(SUB_A, "mentee", "Late Comer")
    _, match = confirmed(SUB_A, world.m2, mentee, at=T0 - 22 * DAY)
    apply(client, *events, match)
    [late] = [r for r in client.get(f"/subsidiaries/{SUB_A}/relationships", params={"participant_id": mentee}, headers=ADMIN).json()]
    assert late["stalled"] is True and stalled_ids(client) == {late["id"]}


def test_a_dashboard_names_the_twenty_longest_stalled_and_counts_them_all(client, now):
    apply(client, onboarded("sub-c", "AXA Suisse"), programme("sub-c"))
    mentor, events = person("sub-c", "mentor", "Lea Meier", certified=True)
    matches = []
    for n in range(25):  # matched one day apart, the oldest first
        mentee, enrolled = person("sub-c", "mentee", f"Mentee{n} Keller")
        matches.append(confirmed("sub-c", mentor, mentee, at=T0 + n * DAY)[1])
        events += enrolled
    apply(client, *events, *matches)
    now.now = T0 + 60 * DAY
    listed = client.get("/subsidiaries/sub-c/relationships", params={"stalled": "true", "limit": 100}, headers=ADMIN).json()
    oldest_first = [r["id"] for r in sorted(listed, key=lambda r: r["matched_at"])]
    dashboard = client.get("/subsidiaries/sub-c/dashboard", headers=ADMIN).json()
    assert dashboard["stalled_relationships"] == 25 and dashboard["stalled"] == oldest_first[:20]


# -- dashboards ---------------------------------------------------------------------------


def dashboard_scenario(client: TestClient, world: SimpleNamespace, now: Clock) -> None:
    """In A: two sessions held (a pair on networking, the group on online learning), one
    cancelled (P2's only one), one still to come; attendance 4 present of 5 recorded; Inès
    (a mentor) and a mentee who was never matched withdraw."""
    late, events = person(SUB_A, "mentee", "Gone Soon")
    apply(client, *events)
    apply(client, withdrawn(SUB_A, world.m2, "mentor"), withdrawn(SUB_A, late, "mentee"))
    pair = book(client, world.p1, start=S)["id"]
    group = book(client, group=world.g, start=S + DAY, theme="online learning")["id"]
    cancelled = book(client, world.p2, start=S + 2 * DAY)["id"]
    book(client, world.p1, start=T0 + 30 * DAY)
    act(client, cancelled, "cancel", {"reason": "ill"})
    now.now = T0 + 22 * DAY
    for sid, who, present in [
        (pair, world.m1, True), (pair, world.e1, True),
        (group, world.m1, True), (group, world.e3, True), (group, world.e4, True), (group, world.e4, False),  # e4: a correction
    ]:
        assert act(client, sid, "attendance", {"participant_id": who, "present": present}).status_code == 200
    for sid, who, rating in [(pair, world.m1, 4), (pair, world.e1, 5), (group, world.e3, 2)]:
        assert act(client, sid, "feedback", {"participant_id": who, "rating": rating}).status_code == 200
    for sid in (pair, group):
        assert act(client, sid, "complete").status_code == 200


def test_a_subsidiary_s_dashboard_after_a_few_weeks(client, world, now):
    before = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert (before["mentors"], before["certified_mentors"], before["mentees"], before["matched_mentees"]) == (3, 2, 6, 5)
    dashboard_scenario(client, world, now)
    response = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subsidiary_id": SUB_A,
        "mentors": 2,  # Zoé and Inès: Hugo withdrew
        "certified_mentors": 1,
        "mentees": 6,  # the withdrawn one is not counted
        "matched_mentees": 5,
        "match_rate": 0.8333,
        "relationships": {"active": 3, "completed": 0, "closed": 0},
        "stalled_relationships": 1,
        "stalled": [world.p2],
        "sessions": {"scheduled": 1, "held": 2, "cancelled": 1},
        "sessions_held_by_theme": {"networking": 1, "online learning": 1},
        "sessions_held_by_format": {"mini-session": 1, "pair": 1},
        "attendance": {"recorded": 5, "present": 4, "no_shows": 1, "rate": 0.8},
        "average_rating": {"mentor": {"count": 1, "average": 4.0}, "mentee": {"count": 2, "average": 3.5}},
    }
    assert relationship_of(client, world.g)["no_shows"] == {world.e4: 1}


def test_a_matched_mentee_who_withdraws_leaves_the_figures(client, world):
    apply(client, withdrawn(SUB_A, world.e5, "mentee"))
    dashboard = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert (dashboard["mentees"], dashboard["matched_mentees"], dashboard["match_rate"]) == (5, 4, 0.8)
    apply(client, ended(SUB_A, world.p1_match, world.m1, world.e1))  # e1's only relationship closes
    dashboard = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert (dashboard["matched_mentees"], dashboard["relationships"]) == (3, {"active": 2, "completed": 0, "closed": 1})


def test_the_group_dashboard_adds_up_the_subsidiaries(client, world, now):
    dashboard_scenario(client, world, now)
    b_session = book(client, world.pb, sub=SUB_B, start=T0 + 23 * DAY)["id"]
    now.now = T0 + 23 * DAY + HOUR
    act(client, b_session, "attendance", {"participant_id": world.eb, "present": True}, sub=SUB_B)
    act(client, b_session, "feedback", {"participant_id": world.eb, "rating": 5}, sub=SUB_B)
    act(client, b_session, "complete", sub=SUB_B)
    response = client.get("/dashboard", headers=ADMIN)
    assert response.status_code == 200, response.text
    group = response.json()
    a = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    b = client.get(f"/subsidiaries/{SUB_B}/dashboard", headers=ADMIN).json()
    assert group["subsidiaries_count"] == 2
    assert [(s["subsidiary_id"], s["name"]) for s in group["subsidiaries"]] == sorted([(SUB_A, "AXA France"), (SUB_B, "AXA Belgique")])
    per = {s["subsidiary_id"]: s for s in group["subsidiaries"]}
    assert (per[SUB_A]["sessions"], per[SUB_B]["sessions"]) == (a["sessions"], b["sessions"])
    for name in ("mentors", "certified_mentors", "mentees", "matched_mentees", "stalled_relationships"):
        assert group[name] == a[name] + b[name], name
    assert (group["mentors"], group["mentees"], group["matched_mentees"], group["match_rate"]) == (3, 7, 6, round(6 / 7, 4))
    assert group["sessions"] == {"scheduled": 1, "held": 3, "cancelled": 1}
    assert group["sessions_held_by_theme"] == {"networking": 2, "online learning": 1}
    assert group["sessions_held_by_format"] == {"mini-session": 1, "pair": 2}
    assert group["attendance"] == {"recorded": 6, "present": 5, "no_shows": 1, "rate": round(5 / 6, 4)}
    assert group["average_rating"] == {"mentor": {"count": 1, "average": 4.0}, "mentee": {"count": 3, "average": 4.0}}
    assert group["stalled_relationships"] == 1  # P2


@pytest.mark.parametrize(("who", "status"), [("admin-A", 403), ("auditor-A", 403), ("auditor-all", 403), ("no-token", 401), ("other-secret", 401)])
def test_only_a_group_admin_sees_the_group_dashboard(client, world, who, status):
    assert client.get("/dashboard", headers=PRINCIPALS[who]).status_code == status


def test_a_subsidiary_s_dashboard_is_for_those_who_may_read_it(client, world):
    assert client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN_A).status_code == 200
    assert client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=AUDITOR_A).status_code == 200
    assert client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN_B).status_code == 404
    assert client.get(f"/subsidiaries/{NOWHERE}/dashboard", headers=ADMIN).status_code == 404


# -- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [
        ("group-admin", 200, 201),
        ("admin-A", 200, 201),
        ("admin-B", 404, 404),
        ("auditor-A", 200, 403),
        ("auditor-all", 200, 403),
        ("no-token", 401, 401),
        ("expired", 401, 401),
        ("other-secret", 401, 401),
    ],
)
def test_access_follows_the_same_rules_as_the_other_services(client, world, who, read, write):
    headers = PRINCIPALS[who]
    for path in (f"/subsidiaries/{SUB_A}/sessions", f"/subsidiaries/{SUB_A}/relationships", f"/subsidiaries/{SUB_A}/relationships/{world.p1}"):
        assert client.get(path, headers=headers).status_code == read, path
    before = head(client)
    assert schedule(client, headers=headers, relationship=world.p1).status_code == write
    assert (head(client) > before) is (write == 201)


def test_another_subsidiary_s_admin_sees_nothing_and_changes_nothing(client, world, now):
    session = book(client, world.p1, start=S)
    sid = session["id"]
    now.now = S + HOUR
    before = head(client)
    base = f"/subsidiaries/{SUB_A}"
    for path in (f"{base}/sessions/{sid}", f"{base}/sessions/{sid}.ics", f"{base}/relationships/{world.p1}", f"{base}/dashboard"):
        assert client.get(path, headers=ADMIN_B).status_code == 404, path
    for action, payload in [
        ("cancel", {"reason": "x"}),
        ("reschedule", {"starts_at": (S + DAY).isoformat()}),
        ("attendance", {"participant_id": world.e1, "present": False}),
        ("feedback", {"participant_id": world.e1, "rating": 1}),
        ("complete", None),
    ]:
        assert act(client, sid, action, payload, headers=ADMIN_B).status_code == 404, action
        assert act(client, sid, action, payload, headers=AUDITOR_A).status_code == 403, action
        assert act(client, sid, action, payload, headers={}).status_code == 401, action
    note = {"author_id": world.e1, "note": "hi"}
    assert client.post(f"{base}/relationships/{world.p1}/notes", json=note, headers=ADMIN_B).status_code == 404
    assert client.post(f"{base}/relationships/{world.p1}/notes", json=note, headers=AUDITOR_A).status_code == 403
    assert head(client) == before
    now_moot = ("actions", "feedback_due")  # the clock moved on since it was booked
    assert {k: v for k, v in session_of(client, sid).items() if k not in now_moot} == {k: v for k, v in session.items() if k not in now_moot}


@pytest.mark.parametrize("who", ["no-token", "expired", "other-secret"])
def test_an_anonymous_invalid_request_learns_nothing_but_401(client, world, who):
    headers = PRINCIPALS[who]
    base = f"/subsidiaries/{SUB_A}"
    sid = str(uuid.uuid4())
    for path, payload in [
        (f"{base}/sessions", {"theme": 1, "starts_at": "yesterday"}),
        (f"{base}/sessions/{sid}/reschedule", {"starts_at": "2000-01-01T00:00:00"}),
        (f"{base}/sessions/{sid}/feedback", {"participant_id": "me", "rating": 9}),
        (f"{base}/sessions/{sid}/cancel", {}),
        (f"{base}/relationships/{world.p1}/notes", {"note": ""}),
    ]:
        response = client.post(path, json=payload, headers=headers)
        assert response.status_code == 401, (path, response.text)
    assert client.post(f"{base}/sessions", content="{not json", headers={**headers, "Content-Type": "application/json"}).status_code == 401


def test_an_unknown_subsidiary_is_not_found(client, world):
    base = f"/subsidiaries/{NOWHERE}"
    for path in (f"{base}/sessions", f"{base}/relationships", f"{base}/dashboard", f"{base}/sessions/{uuid.uuid4()}", f"{base}/relationships/{world.p1}"):
        assert client.get(path, headers=ADMIN).status_code == 404, path
    before = head(client)
    assert schedule(client, sub=NOWHERE, relationship=world.p1).status_code == 404
    assert head(client) == before


def test_a_session_shows_its_start_in_the_subsidiary_s_time_zone_too(client, world):
    paris = book(client, world.p1)
    assert at(paris["starts_at"]) == S and at(paris["local_starts_at"]).utcoffset() == timedelta(hours=1)  # CET in March
    brussels = client.post(f"/subsidiaries/{SUB_B}/sessions", json=body(world.pb, start=S + 30 * DAY), headers=ADMIN).json()
    assert at(brussels["local_starts_at"]) == S + 30 * DAY and at(brussels["local_starts_at"]).utcoffset() == timedelta(hours=2)  # CEST


# -- erasure of a participant's personal data -----------------------------------------------


def erased(subsidiary: str, pid: str) -> Any:
    return upstream(enrolment.ParticipantErased, subsidiary, {"participant_id": pid})


def test_an_erased_participant_shows_nothing_personal_and_everything_else_stays(client, world, now):
    session = book(client, world.p1, start=S)
    now.now = S + HOUR
    act(client, session["id"], "feedback", {"participant_id": world.m1, "rating": 4, "comment": "Curious and keen"})
    act(client, session["id"], "feedback", {"participant_id": world.e1, "rating": 5, "comment": "Zoé explained LinkedIn to me"})
    for author, note in ((world.e1, "Mentee1's own words"), (world.m1, "The mentor's words")):
        client.post(f"/subsidiaries/{SUB_A}/relationships/{world.p1}/notes", json={"author_id": author, "note": note}, headers=ADMIN)
    dashboard = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()

    apply(client, erased(SUB_A, world.e1))
    rel = relationship_of(client, world.p1)
    assert rel["mentees"] == [{"id": world.e1, "name": None, "email": None, "personal_data_erased": True}]
    assert rel["mentor"]["name"] == "Zoé Leroy" and rel["mentor"]["personal_data_erased"] is False
    assert [(n["author_id"], n["note"]) for n in rel["notes"]] == [(world.e1, None), (world.m1, "The mentor's words")]
    shown = session_of(client, session["id"])
    assert {f["participant_id"]: f["comment"] for f in shown["feedback"]} == {world.m1: "Curious and keen", world.e1: None}
    assert {f["participant_id"]: f["rating"] for f in shown["feedback"]} == {world.m1: 4, world.e1: 5}
    assert client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json() == dashboard  # counts stay
    ics = client.get(f"/subsidiaries/{SUB_A}/sessions/{session['id']}.ics", headers=ADMIN).content
    assert b"Mentee1" not in ics and f"mentee1@{SUB_A}".encode() not in ics and b"Zo" in ics

    # The stored events hold it sealed (with the participant's key, now destroyed): nothing in plaintext.
    app = client.app.state.application
    raw = b"".join(n.state for n in app.recorder.select_notifications(start=0, limit=100_000))
    for plaintext in ("Mentee1", f"mentee1@{SUB_A}.com", "Zoé explained", "Mentee1's own words", "Curious and keen"):
        assert plaintext.encode() not in raw and json.dumps(plaintext).encode() not in raw
    assert app.keys.is_erased(world.e1)

    # Told again, or a late profile: nothing personal comes back; a rebuilt view agrees.
    apply(client, erased(SUB_A, world.e1))
    late = upstream(enrolment.ParticipantProfileUpdated, SUB_A, {
        "participant_id": world.e1, "role": "mentee", "changed": ["site"],
        "personal_data": {"name": "Back Again", "email": "back@axa.fr", "birth_year": 1962, "manager_email": None},
        "department": "Digital", "site": "Lyon", "languages": ["fr"], "themes": THEMES[:2], "availability": [],
    }, at=T0 + 40 * DAY)
    apply(client, late)
    assert relationship_of(client, world.p1)["mentees"][0]["name"] is None
    rebuilt = type(app.view)(app)
    rebuilt.catch_up()
    assert rebuilt.relationship(SUB_A, world.p1, now.now)["mentees"][0] == {
        "id": world.e1, "name": None, "email": None, "personal_data_erased": True,
    }
    assert [n["note"] for n in rebuilt.relationship(SUB_A, world.p1, now.now)["notes"]] == [None, "The mentor's words"]


def stored(client: TestClient) -> bytes:
    return b"".join(n.state for n in client.app.state.application.recorder.select_notifications(start=0, limit=100_000))


def test_free_text_of_a_relationship_is_sealed_with_its_key_and_goes_when_any_member_is_erased(client, world, now):
    """Places, cancellation and closing reasons may name anyone: sealed with the relationship's
    own key, which sessions destroys when any of its members is erased. A withdrawal reason is
    the participant's own words, sealed with theirs."""
    place = {"location": "Zoé's office, 3rd floor", "video_link": "https://meet.example.com/zoe-leroy"}
    met = book(client, world.p1, start=S, **place)
    dropped = book(client, world.p1, start=S + DAY, location="Café Mentee1")
    assert act(client, dropped["id"], "cancel", {"reason": "Mentee1 Martin is ill"}).status_code == 200
    coming = book(client, world.p1, start=S + 7 * DAY, location="Room 12")
    moved = act(client, coming["id"], "reschedule", {"starts_at": (S + 8 * DAY).isoformat(), "location": "Hugo's desk"})
    assert moved.status_code == 200, moved.text
    group = book(client, group=world.g, theme="online learning", start=S + 2 * DAY, location="Room G")
    apply(client, withdrawn(SUB_A, world.e1, "mentee"))  # "left the company"
    apply(client, ended(SUB_A, world.p1_match, world.m1, world.e1, reason="a mentee withdrew: left the company"))

    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["reason"]) == ("closed", "a mentee withdrew: left the company")
    assert (session_of(client, met["id"])["location"], session_of(client, met["id"])["video_link"]) == tuple(place.values())
    assert session_of(client, dropped["id"])["cancellation_reason"] == "Mentee1 Martin is ill"
    assert session_of(client, coming["id"])["location"] == "Hugo's desk"
    raw = stored(client)
    for plaintext in ("Zoé's office", "meet.example.com", "Café Mentee1", "Mentee1 Martin is ill", "Room 12", "Hugo's desk", "left the company", "Room G"):
        assert plaintext.encode() not in raw and json.dumps(plaintext).encode() not in raw, plaintext
    assert f"sealed:2:{world.p1}:".encode() in raw and f"sealed:2:{world.e1}:".encode() in raw

    app = client.app.state.application
    apply(client, erased(SUB_A, world.e1))
    rel = relationship_of(client, world.p1)
    assert (rel["status"], rel["reason"]) == ("closed", None)
    for session in (met, dropped, coming):
        shown = session_of(client, session["id"])
        assert (shown["location"], shown["video_link"], shown["cancellation_reason"]) == (None, None, None)
        assert shown["status"] in ("scheduled", "cancelled")
    assert app.keys.is_erased(world.p1)
    # Relationships they are not in keep theirs.
    assert session_of(client, group["id"])["location"] == "Room G" and not app.keys.is_erased(world.g)
    # Their withdrawal reason, sealed with their own key in the roster's stream, reads as nothing.
    [withdrawal] = [e for e in app.repository.event_store.get(roster_id(SUB_A)) if type(e).__name__ == "ParticipantWithdrawn" and e.participant_id == world.e1]
    assert withdrawal.reason is None
    ics = client.get(f"/subsidiaries/{SUB_A}/sessions/{met['id']}.ics", headers=ADMIN)
    assert ics.status_code == 200 and b"Zo\xc3\xa9's office" not in ics.content and b"meet.example.com" not in ics.content
    # Another reader of the same stores (a rebuilt view) agrees.
    rebuilt = type(app.view)(app)
    rebuilt.catch_up()
    assert rebuilt.relationship(SUB_A, world.p1, now.now)["reason"] is None
    assert rebuilt.session(SUB_A, met["id"], now.now)["location"] is None and rebuilt.session(SUB_A, group["id"], now.now)["location"] == "Room G"
    assert rebuilt.session(SUB_A, dropped["id"], now.now)["cancellation_reason"] is None


def test_free_text_stored_before_it_was_sealed_reads_as_it_is_until_a_member_is_erased(client, world, now):
    """A store written before free text was sealed holds it in plaintext: it reads as it is,
    and as erased once any member of its relationship is."""
    app = client.app.state.application
    new_fields = {Relationship.SessionScheduled, Relationship.SessionCancelled, Relationship.Closed}
    personal, app.mapper.personal = app.mapper.personal, {cls: f for cls, f in app.mapper.personal.items() if cls not in new_fields}
    try:  # as today's code stored them
        old = book(client, world.p1, start=S, location="Zoé's office")
        assert act(client, old["id"], "cancel", {"reason": "Mentee1 Martin is ill"}).status_code == 200
        kept = book(client, group=world.g, theme="online learning", start=S + 2 * DAY, location="Room G")
    finally:
        app.mapper.personal = personal
    assert b"Mentee1 Martin is ill" in stored(client)
    fresh = type(app.view)(app)
    fresh.catch_up()
    assert fresh.session(SUB_A, old["id"], now.now)["cancellation_reason"] == "Mentee1 Martin is ill"
    assert fresh.session(SUB_A, old["id"], now.now)["location"] == "Zoé's office"

    apply(client, erased(SUB_A, world.e1))
    shown = session_of(client, old["id"])
    assert (shown["location"], shown["cancellation_reason"]) == (None, None)
    assert session_of(client, kept["id"])["location"] == "Room G"
    rebuilt = type(app.view)(app)
    rebuilt.catch_up()
    assert rebuilt.session(SUB_A, old["id"], now.now)["cancellation_reason"] is None and rebuilt.session(SUB_A, old["id"], now.now)["location"] is None
    [cancelled] = [e for e in app.repository.event_store.get(uuid.UUID(world.p1)) if isinstance(e, Relationship.SessionCancelled)]
    assert cancelled.reason is None  # read through the store too: its relationship's key is destroyed


def test_a_group_that_goes_on_without_an_erased_mentee_keeps_its_places(client, world, now):
    """The erasure may arrive before matching takes the mentee off the group (the topics are
    read independently): the group goes on, with its key and its places."""
    group = book(client, group=world.g, theme="online learning", start=S, location="Room G")
    apply(client, withdrawn(SUB_A, world.e3, "mentee"), erased(SUB_A, world.e3))
    app = client.app.state.application
    assert session_of(client, group["id"])["location"] == "Room G" and not app.keys.is_erased(world.g)
    apply(client, member_left(SUB_A, world.g_match, world.m1, world.e3, world.e4, world.e5))
    later = book(client, group=world.g, theme="online learning", start=S + 7 * DAY, location="Room H")
    assert session_of(client, later["id"])["location"] == "Room H"
    # Its mentor's erasure takes them all.
    apply(client, withdrawn(SUB_A, world.m1, "mentor"), erased(SUB_A, world.m1))
    assert app.keys.is_erased(world.g)
    assert session_of(client, group["id"])["location"] is None and session_of(client, later["id"])["location"] is None


# -- what a session allows now ------------------------------------------------------------


def allowed(session: dict) -> dict[str, str | None]:
    """Each action: None when allowed, else the code of why not."""
    return {name: None if a["allowed"] else a["reason"]["type"] for name, a in session["actions"].items()}


def test_a_session_says_what_it_allows_now_and_the_commands_refuse_with_the_same_reason(client, world, now):
    session = book(client, world.p1, start=S)
    now.now = S - MINUTE
    shown = session_of(client, session["id"])
    assert allowed(shown) == {
        "record_attendance": "session_not_started", "give_feedback": "session_not_started", "mark_held": "session_not_started",
        "move": None, "cancel": None,
    }
    assert shown["actions"]["record_attendance"]["reason"]["ctx"] == {"starts_at": S.isoformat()}
    assert shown["feedback_due"] == []
    # The commands answer with exactly the reason the view gave.
    for action, payload, name in [
        ("attendance", {"participant_id": world.e1, "present": True}, "record_attendance"),
        ("feedback", {"participant_id": world.e1, "rating": 5}, "give_feedback"),
        ("complete", None, "mark_held"),
    ]:
        refused = refusal_of(act(client, session["id"], action, payload))
        assert {k: refused[k] for k in ("type", "msg", "ctx")} == shown["actions"][name]["reason"]
        assert refused["problems"] == [shown["actions"][name]["reason"]]  # listed once, not a second time in other words

    now.now = S + HOUR
    started = session_of(client, session["id"])
    assert allowed(started) == {"record_attendance": None, "give_feedback": None, "mark_held": None, "move": None, "cancel": None}
    assert started["feedback_due"] == [world.m1, world.e1]
    act(client, session["id"], "feedback", {"participant_id": world.e1, "rating": 5})
    assert session_of(client, session["id"])["feedback_due"] == [world.m1]
    refused = refusal_of(act(client, session["id"], "feedback", {"participant_id": world.e1, "rating": 4}))
    assert (refused["type"], refused["ctx"]) == ("feedback_already_given", {"participant_id": world.e1})
    act(client, session["id"], "complete")
    held = session_of(client, session["id"])
    assert allowed(held) == {
        "record_attendance": None, "give_feedback": None, "mark_held": "session_already_held",
        "move": "session_already_held", "cancel": "session_already_held",
    }
    act(client, session["id"], "feedback", {"participant_id": world.m1, "rating": 4})
    done = session_of(client, session["id"])
    assert (allowed(done)["give_feedback"], done["feedback_due"]) == ("feedback_complete", [])  # no feedback form left to offer
    assert refusal_of(act(client, session["id"], "cancel", {"reason": "late"}))["type"] == "session_already_held"


def test_a_member_recorded_absent_is_not_asked_for_feedback_and_a_no_show_cannot_be_held(client, world, now):
    session = book(client, world.p1, start=S)
    now.now = S + HOUR
    act(client, session["id"], "attendance", {"participant_id": world.e1, "present": False})
    shown = session_of(client, session["id"])
    assert shown["feedback_due"] == [world.m1]
    assert allowed(shown)["mark_held"] == "session_no_show"
    assert refusal_of(act(client, session["id"], "complete"))["type"] == "session_no_show"
    refused = refusal_of(act(client, session["id"], "feedback", {"participant_id": world.e1, "rating": 3}))
    assert (refused["type"], refused["ctx"]) == ("participant_absent", {"participant_id": world.e1})
    act(client, session["id"], "cancel", {"reason": "no-show"})
    assert set(allowed(session_of(client, session["id"])).values()) == {"session_cancelled"}


def test_every_refusal_has_a_code_and_ids_for_params(client, world, now):
    not_member = refusal_of(client.post(f"/subsidiaries/{SUB_A}/relationships/{world.p1}/notes", json={"author_id": world.e2, "note": "hi"}, headers=ADMIN))
    assert (not_member["type"], not_member["ctx"]) == ("not_a_relationship_member", {"participant_id": world.e2})
    session = book(client, world.p1, start=S)
    now.now = S + HOUR
    stranger = refusal_of(act(client, session["id"], "attendance", {"participant_id": world.e2, "present": True}))
    assert (stranger["type"], stranger["ctx"]) == ("not_a_session_member", {"participant_id": world.e2})
    assert "Mentee2" not in json.dumps(stranger)
    close(client, world.p2, {"reason": "moved away"})
    again = refusal_of(close(client, world.p2, {"reason": "twice"}))
    assert (again["type"], again["ctx"]) == ("relationship_already_ended", {"status": "closed"})
    nowhere = schedule(client, relationship=world.p1, start=S + DAY, location=None)
    assert [(p["loc"], p["type"]) for p in nowhere.json()["detail"]] == [(["body", "video_link"], "place_required")]
    insecure = schedule(client, relationship=world.p1, start=S + DAY, video_link="http://meet.example.com")
    assert [p["type"] for p in insecure.json()["detail"]] == ["video_link_not_https"]
    both = schedule(client, relationship=world.p1, group=world.g, start=S + DAY)
    assert [p["type"] for p in both.json()["detail"]] == ["relationship_or_group"]


# -- sessions recorded after the fact ------------------------------------------------------


def record_held(client: TestClient, relationship: str | None = None, *, group: str | None = None, start: datetime, attendance: dict, **extra: Any) -> Any:
    return schedule(client, relationship=relationship, group=group, start=start, held=True, attendance=attendance, **extra)


def test_a_session_heard_of_afterwards_is_recorded_as_held_with_its_attendance(client, world, now):
    now.now = T0 + 10 * DAY
    before = head(client)
    response = record_held(client, world.p1, start=T0 + 3 * DAY, attendance={world.m1: True, world.e1: True})
    assert response.status_code == 201, response.text
    session = response.json()
    assert (session["status"], at(session["starts_at"])) == ("held", T0 + 3 * DAY)
    assert {p["id"]: p["present"] for p in session["participants"]} == {world.m1: True, world.e1: True}
    assert session["feedback_due"] == [world.m1, world.e1]  # feedback may follow
    # The same events a session followed live gives, in one save.
    notifications = client.app.state.application.recorder.select_notifications(before + 1, 100)
    names = [n.topic.rsplit(".", 1)[-1] for n in notifications if ":Relationship." in n.topic]
    assert names == ["SessionScheduled", "AttendanceRecorded", "AttendanceRecorded", "SessionHeld"]
    assert len({n.id for n in notifications}) == len(notifications) and head(client) == notifications[-1].id
    rel = relationship_of(client, world.p1)
    assert (rel["sessions_held"], rel["sessions_scheduled"], rel["stalled"]) == (1, 0, False)
    dashboard = client.get(f"/subsidiaries/{SUB_A}/dashboard", headers=ADMIN).json()
    assert dashboard["sessions"] == {"scheduled": 0, "held": 1, "cancelled": 0}
    assert dashboard["attendance"] == {"recorded": 2, "present": 2, "no_shows": 0, "rate": 1.0}
    assert dashboard["sessions_held_by_theme"] == {"networking": 1}
    # It is in the members' agendas: nothing else can be booked over it.
    assert codes_of(record_held(client, world.p2, start=T0 + 3 * DAY, attendance={world.m1: True, world.e2: True})) == ["participant_already_booked"]


def test_sessions_held_after_the_fact_complete_the_relationship_at_its_target(client, world, now):
    now.now = T0 + 20 * DAY
    for n in (1, 2):
        book_held = record_held(client, group=world.g, start=T0 + n * DAY, theme="online learning",
                                attendance={world.m1: True, world.e3: True, world.e4: n == 1, world.e5: True})
        assert book_held.status_code == 201, book_held.text
    rel = relationship_of(client, world.g)
    assert (rel["status"], rel["sessions_held"], rel["no_shows"]) == ("completed", 2, {world.e4: 1})


def test_a_session_recorded_as_held_lies_within_the_relationship_s_life_with_every_member_s_attendance(client, world, now):
    now.now = T0 + 10 * DAY
    refused = record_held(client, world.p1, start=T0 - DAY, attendance={world.m1: True, world.e2: True})
    assert refusal_of(refused)["type"] == "session_not_recorded"
    problems = {p["type"]: p["ctx"] for p in problems_of(refused)}
    assert problems == {
        "before_the_match": {"starts_at": (T0 - DAY).isoformat(), "matched_at": T0.isoformat()},
        "not_a_session_member": {"participant_id": world.e2},
        "attendance_missing": {"participant_id": world.e1},
    }
    no_show = record_held(client, world.p1, start=T0 + DAY, attendance={world.m1: True, world.e1: False})
    assert codes_of(no_show) == ["session_no_show"]
    future = record_held(client, world.p1, start=now.now + HOUR, attendance={world.m1: True, world.e1: True})
    assert future.status_code == 422 and [(p["loc"], p["type"]) for p in future.json()["detail"]] == [(["body", "starts_at"], "held_in_the_future")]
    no_attendance = schedule(client, relationship=world.p1, start=T0 + DAY, held=True)
    assert [p["type"] for p in no_attendance.json()["detail"]] == ["attendance_required"]
    without_held = schedule(client, relationship=world.p1, start=now.now + DAY, attendance={world.m1: True})
    assert [p["type"] for p in without_held.json()["detail"]] == ["attendance_without_held"]
    close(client, world.p2, {"reason": "moved away"})
    closed = record_held(client, world.p2, start=T0 + DAY, attendance={world.m1: True, world.e2: True})
    assert codes_of(closed) == ["relationship_closed"]
    assert client.get(f"/subsidiaries/{SUB_A}/sessions", headers=ADMIN).json() == []  # nothing recorded of any refused one
