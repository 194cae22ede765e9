"""The whole chain on the real broker with the three real services: enrol and certify,
match and publish, a relationship opens, a session is scheduled, held, attended and rated,
and the dashboard shows it. Then a withdrawal closes a relationship, and the sessions
service reading every topic again from the start changes nothing."""

import time
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from support import TopicReader, events_of, pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SLUG = "axa-pilot"


@pytest.fixture
def services(platform):
    enrolment = platform.start("enrolment")
    matching = platform.start("matching")
    sessions = platform.start("sessions")
    return platform.client(enrolment), platform.client(matching), platform.client(sessions)


def head(client) -> int:
    return client.get("/healthz").json()["event_store"]["last_position"]


def relationships(sessions, **filters) -> list[dict]:
    response = sessions.get(f"/subsidiaries/{SLUG}/relationships", params=filters)
    return response.json() if response.status_code == 200 else []


@pytest.mark.smoke
def test_from_enrolment_to_a_held_session_and_the_dashboard(platform, services):
    enrolment, matching, sessions = services
    # Two mentors with room for two mentees each, four mentees; one session completes a relationship.
    ids = set_up(enrolment, SLUG, mentors=2, mentees=4, capacity=2, target_sessions=1, session_minutes=60)
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentors"]) == 2 and len(p["mentees"]) == 4)
    run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    assert run["summary"]["matched"] == 4

    with TopicReader(platform.bootstrap, platform.topics.sessions) as topic:
        assert matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish").status_code == 200
        opened = events_of(topic.read_count(4))
        assert {e.type for e in opened} == {"RelationshipOpened"}
        assert all(e.payload.target_sessions == 1 and e.payload.session_minutes == 60 for e in opened)
        rels = wait_for(lambda: len(r := relationships(sessions)) == 4 and r)
        assert {r["match_id"] for r in rels} == {str(e.payload.match_id) for e in opened}
        assert all(r["status"] == "active" and not r["stalled"] and r["mentor"]["name"].startswith("Mentor") for r in rels)

        # A session that starts in a moment, for the first relationship.
        first = rels[0]
        mentor, mentee = first["mentor"]["id"], first["mentees"][0]["id"]
        starts = datetime.now(UTC) + timedelta(seconds=3)
        scheduled = sessions.post(
            f"/subsidiaries/{SLUG}/sessions",
            json={"relationship_id": first["id"], "theme": "networking", "starts_at": starts.isoformat(), "location": "Salle Lumière"},
        )
        assert scheduled.status_code == 201, scheduled.text
        session = scheduled.json()
        assert session["duration_minutes"] == 60 and {p["id"] for p in session["participants"]} == {mentor, mentee}

        # The same mentor cannot be in two places at once, even in another relationship; bad
        # input is refused with every problem, and nothing is recorded either way.
        other = next(r for r in rels if r["mentor"]["id"] == mentor and r["id"] != first["id"])
        before = head(sessions)
        clash = sessions.post(
            f"/subsidiaries/{SLUG}/sessions",
            json={"relationship_id": other["id"], "theme": "cooking", "starts_at": (starts + timedelta(minutes=30)).isoformat(), "location": "B"},
        )
        assert clash.status_code == 409
        problems = clash.json()["detail"]["problems"]
        assert [p["type"] for p in problems] == ["unknown_theme", "participant_already_booked"]
        assert problems[0]["ctx"]["theme"] == "cooking" and problems[1]["ctx"]["session_id"] == session["id"]
        past = sessions.post(
            f"/subsidiaries/{SLUG}/sessions",
            json={"relationship_id": other["id"], "theme": "networking", "starts_at": "2020-01-01T10:00:00+01:00", "duration_minutes": 5},
        )
        assert past.status_code == 422
        assert {tuple(p["loc"]) for p in past.json()["detail"]} == {("body", "starts_at"), ("body", "duration_minutes"), ("body", "video_link")}
        assert head(sessions) == before

        invitation = icalendar.Calendar.from_ical(sessions.get(f"/subsidiaries/{SLUG}/sessions/{session['id']}.ics").content)
        [event] = invitation.walk("VEVENT")
        assert {str(a).removeprefix("mailto:") for a in event.get("attendee")} == {
            email for email, pid in ids.items() if pid in (mentor, mentee)
        }

        # Held: attendance and feedback both ways, then complete.
        time.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.5)
        path = f"/subsidiaries/{SLUG}/sessions/{session['id']}"
        assert sessions.post(f"{path}/attendance", json={"participant_id": mentor, "present": True}).status_code == 200
        assert sessions.post(f"{path}/attendance", json={"participant_id": mentee, "present": True}).status_code == 200
        assert sessions.post(f"{path}/feedback", json={"participant_id": mentee, "rating": 5, "comment": "Clear and patient"}).status_code == 200
        assert sessions.post(f"{path}/feedback", json={"participant_id": mentor, "rating": 4, "comment": "Great career tips"}).status_code == 200
        held = sessions.post(f"{path}/complete")
        assert held.status_code == 200 and held.json()["status"] == "held"
        later = [e.type for e in events_of(topic.read_count(11))[4:]]
    assert later == ["SessionScheduled", "AttendanceRecorded", "AttendanceRecorded", "FeedbackGiven", "FeedbackGiven", "SessionHeld", "RelationshipCompleted"]
    assert sessions.get(f"/subsidiaries/{SLUG}/relationships/{first['id']}").json()["status"] == "completed"
    # The exchange goes on after completion.
    note = sessions.post(f"/subsidiaries/{SLUG}/relationships/{first['id']}/notes", json={"author_id": mentee, "note": "I joined two groups"})
    assert note.status_code == 201 and note.json()["notes"][0]["note"] == "I joined two groups"

    dashboard = sessions.get(f"/subsidiaries/{SLUG}/dashboard").json()
    assert dashboard["mentors"] == 2 and dashboard["certified_mentors"] == 2 and dashboard["mentees"] == 4
    assert dashboard["match_rate"] == 1.0
    assert dashboard["relationships"] == {"active": 3, "completed": 1, "closed": 0}
    assert dashboard["sessions_held_by_theme"] == {"networking": 1} and dashboard["sessions_held_by_format"] == {"pair": 1}
    assert dashboard["attendance"]["rate"] == 1.0
    assert dashboard["average_rating"] == {"mentor": {"count": 1, "average": 4.0}, "mentee": {"count": 1, "average": 5.0}}
    group = sessions.get("/dashboard").json()
    assert group["subsidiaries"][0]["subsidiary_id"] == SLUG and group["mentees"] == 4

    # A mentee withdraws in enrolment: matching ends the match, sessions closes the
    # relationship and cancels the session booked for it.
    withdrawing = next(r for r in rels if r["id"] not in (first["id"],))
    upcoming = sessions.post(
        f"/subsidiaries/{SLUG}/sessions",
        json={"relationship_id": withdrawing["id"], "theme": "online learning", "starts_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
              "video_link": "https://meet.example.com/tandem"},
    ).json()
    who = withdrawing["mentees"][0]["id"]
    assert enrolment.post(f"/subsidiaries/{SLUG}/participants/{who}/withdraw", json={"reason": "retired"}).status_code == 200
    closed = wait_for(lambda: relationships(sessions, status="closed"))
    assert [r["id"] for r in closed] == [withdrawing["id"]] and closed[0]["reason"] == "a mentee withdrew: retired"
    cancelled = sessions.get(f"/subsidiaries/{SLUG}/sessions/{upcoming['id']}").json()
    assert cancelled["status"] == "cancelled" and "retired" in cancelled["cancellation_reason"]
    figures = wait_for(lambda: (d := sessions.get(f"/subsidiaries/{SLUG}/dashboard").json())["mentees"] == 3 and d)
    assert figures["matched_mentees"] == 3 and figures["relationships"]["closed"] == 1

    # Matching learns from sessions: the completed relationship's match is over, which frees
    # its mentor's place, and its mentee (who went through the programme) is not proposed again.
    [done] = wait_for(lambda: matching.get(f"/subsidiaries/{SLUG}/matches", params={"status": "completed"}).json())
    assert done["id"] == first["match_id"] and done["reason"] == "the relationship completed: 1 sessions held"

    # An admin closes a relationship early: the match ends and its mentee waits for a new one.
    last = next(r for r in rels if r["id"] not in (first["id"], withdrawing["id"]))
    closing = sessions.post(f"/subsidiaries/{SLUG}/relationships/{last['id']}/close", json={"reason": "the mentee changed jobs"})
    assert closing.status_code == 200 and closing.json()["status"] == "closed"
    assert sessions.post(f"/subsidiaries/{SLUG}/relationships/{last['id']}/close", json={"reason": "again"}).status_code == 409
    ended = wait_for(lambda: [m for m in matching.get(f"/subsidiaries/{SLUG}/matches", params={"status": "ended"}).json() if m["id"] == last["match_id"]])
    assert ended[0]["reason"] == "the relationship was closed: the mentee changed jobs"
    pool = wait_for(lambda: (p := pool_of(matching, SLUG)) and last["mentees"][0]["id"] in {m["id"] for m in p["mentees"]} and p)
    assert mentee not in {m["id"] for m in pool["mentees"]}
    # Both services agree on every mentor's load.
    active = relationships(sessions, status="active")
    assert {m["id"]: m["capacity_left"] for m in pool["mentors"]} == {
        m: 2 - sum(r["mentor"]["id"] == m for r in active) for m in {r["mentor"]["id"] for r in rels}
    }


def test_reading_every_topic_again_from_the_start_changes_nothing(platform, services):
    """Redelivery of everything (a new consumer group starts at offset 0) is applied at most once."""
    enrolment, matching, sessions = services
    set_up(enrolment, SLUG, mentors=1, mentees=2, capacity=2)
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentees"]) == 2 and len(p["mentors"]) == 1)
    run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "mini-session"}).json()
    assert matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish").status_code == 200
    [group] = wait_for(lambda: relationships(sessions))
    assert group["format"] == "mini-session" and len(group["mentees"]) == 2
    booked = sessions.post(
        f"/subsidiaries/{SLUG}/sessions",
        json={"group_id": group["id"], "theme": group["theme"], "starts_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(), "location": "Lab"},
    )
    assert booked.status_code == 201, booked.text
    # One mentee withdraws: matching keeps the group with the other, and sessions takes them
    # off the group's session to come.
    leaving, staying = (m["id"] for m in group["mentees"])
    assert enrolment.post(f"/subsidiaries/{SLUG}/participants/{leaving}/withdraw", json={"reason": "retired"}).status_code == 200
    [smaller] = wait_for(lambda: (r := relationships(sessions)) and len(r[0]["mentees"]) == 1 and r)
    assert smaller["status"] == "active" and [m["id"] for m in smaller["mentees"]] == [staying]
    session = sessions.get(f"/subsidiaries/{SLUG}/sessions/{booked.json()['id']}").json()
    assert leaving not in {p["id"] for p in session["participants"]} and session["status"] == "scheduled"
    [match] = matching.get(f"/subsidiaries/{SLUG}/matches").json()
    assert match["status"] == "active" and match["mentee_ids"] == [staying]
    before = (head(sessions), relationships(sessions), sessions.get(f"/subsidiaries/{SLUG}/dashboard").json())

    sessions_process = platform.processes[2]
    sessions_process.stop()
    again = platform.start("sessions", SESSIONS_CONSUMER_GROUP="sessions-rereads-everything")
    client = platform.client(again)
    wait_for(lambda: (h := client.get("/healthz").json()["consumer"])["applied"] >= 10 and h["ok"], timeout=60)
    time.sleep(1.0)  # anything still in flight would show now
    assert head(client) == before[0]
    assert relationships(client) == before[1]
    assert client.get(f"/subsidiaries/{SLUG}/dashboard").json() == before[2]
