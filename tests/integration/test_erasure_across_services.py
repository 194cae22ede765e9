"""The right to erasure on the real broker with the three real services: personal data
travels sealed on every topic; erasing a participant reaches matching and sessions, which
then show nothing personal of them; and the messages published before read as erased to
anyone decoding them afresh, while the rest of them still reads."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from contracts import decode
from support import TopicReader, pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SLUG = "axa-erasure"
NOTE = "Mentee 0 now runs her own video calls"
COMMENT = "Mentee 0 found the session on LinkedIn very useful"


def relationships(sessions) -> list[dict]:
    response = sessions.get(f"/subsidiaries/{SLUG}/relationships")
    return response.json() if response.status_code == 200 else []


def test_erasure_reaches_every_service_and_every_copy_on_the_broker(platform):
    enrolment, matching, sessions = (platform.client(platform.start(name)) for name in ("enrolment", "matching", "sessions"))
    ids = set_up(enrolment, SLUG, mentors=1, mentees=2, capacity=2)
    gone, kept = ids[f"mentee0@{SLUG}.com"], ids[f"mentee1@{SLUG}.com"]
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentees"]) == 2 and len(p["mentors"]) == 1)
    run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    assert matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish").status_code == 200
    rels = wait_for(lambda: len(r := relationships(sessions)) == 2 and r)
    theirs = next(r for r in rels if r["mentees"][0]["id"] == gone)
    assert theirs["mentees"][0]["name"] == "Mentee 0"

    # Free text of theirs: a follow-up note, and feedback on a session that has started.
    assert sessions.post(f"/subsidiaries/{SLUG}/relationships/{theirs['id']}/notes", json={"author_id": gone, "note": NOTE}).status_code == 201
    starts = datetime.now(UTC) + timedelta(seconds=2)
    session = sessions.post(
        f"/subsidiaries/{SLUG}/sessions", json={"relationship_id": theirs["id"], "theme": "networking", "starts_at": starts.isoformat(), "location": "Room 1"}
    ).json()
    time.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.2)
    rated = sessions.post(f"/subsidiaries/{SLUG}/sessions/{session['id']}/feedback", json={"participant_id": gone, "rating": 5, "comment": COMMENT})
    assert rated.status_code == 200, rated.text

    with TopicReader(platform.bootstrap, platform.topics.enrolment) as enrolment_topic, TopicReader(platform.bootstrap, platform.topics.sessions) as sessions_topic:
        enrolment_topic.read(lambda records: sum(dict(r.headers)["type"] == b"ParticipantEnrolled" for r in records) == 3)
        sessions_topic.read(lambda records: sum(dict(r.headers)["type"] in (b"FollowUpNoteAdded", b"FeedbackGiven") for r in records) == 2)

        assert enrolment.delete(f"/subsidiaries/{SLUG}/participants/{gone}/personal-data").status_code == 204
        shown = enrolment.get(f"/subsidiaries/{SLUG}/participants/{gone}").json()
        assert shown["personal_data_erased"] and shown["email"] is None and shown["status"] == "withdrawn"
        enrolment_topic.read(lambda records: any(dict(r.headers)["type"] == b"ParticipantErased" for r in records))
        everything = enrolment_topic.settle() + sessions_topic.settle()

        # Nothing personal ever went out in plaintext, before or after the erasure.
        raw = b"".join(r.value for r in everything)
        for plaintext in (f"mentee0@{SLUG}.com", f"mentee1@{SLUG}.com", "Mentee 0", "Mentee 1", "Mentor 0", NOTE, COMMENT):
            assert plaintext.encode() not in raw, plaintext
        assert f"sealed:2:{gone}:".encode() in raw

        # Matching and sessions learnt of it: nothing personal of theirs is shown any more.
        wait_for(lambda: [p["mentee_names"] for p in matching.get(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}").json()["proposals"] if gone in p["mentee_ids"]] == [[None]])
        names = {p["mentee_ids"][0]: p["mentee_names"][0] for p in matching.get(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}").json()["proposals"]}
        assert names == {gone: None, kept: "Mentee 1"}
        theirs = wait_for(lambda: (r := sessions.get(f"/subsidiaries/{SLUG}/relationships/{theirs['id']}").json())["mentees"][0]["personal_data_erased"] and r)
        assert theirs["mentees"][0]["name"] is None and theirs["mentees"][0]["email"] is None
        assert [n["note"] for n in theirs["notes"]] == [None]
        assert [f["comment"] for f in sessions.get(f"/subsidiaries/{SLUG}/sessions/{session['id']}").json()["feedback"]] == [None]
        ics = sessions.get(f"/subsidiaries/{SLUG}/sessions/{session['id']}.ics").content
        assert b"Mentee 0" not in ics and f"mentee0@{SLUG}".encode() not in ics
        assert len(relationships(sessions)) == 2  # relationships and sessions stay

        # Anyone decoding the earlier messages afresh, with the shared key store, reads them erased.
        fresh = platform.keys()
        try:
            decoded = [decode(r.value, fresh) for r in everything]
        finally:
            fresh.close()
        people = {str(e.payload.participant_id): e.payload.personal_data for e in decoded if e.type == "ParticipantEnrolled"}
        assert people[gone].model_dump() == dict.fromkeys(["name", "email", "birth_year", "manager_email"])
        assert (people[kept].name, people[kept].email) == ("Mentee 1", f"mentee1@{SLUG}.com")
        assert [e.payload.note for e in decoded if e.type == "FollowUpNoteAdded"] == [None]
        assert [e.payload.comment for e in decoded if e.type == "FeedbackGiven"] == [None]
        assert [str(e.payload.participant_id) for e in decoded if e.type == "ParticipantErased"] == [gone]
