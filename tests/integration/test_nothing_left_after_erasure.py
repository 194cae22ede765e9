"""After an erasure, nothing of the participant is left in the clear anywhere: the three real
services, the real broker, the real SQLite stores. A mentee's name, email, manager's email
and the free text about her (a decline reason, a session's place, a cancellation reason, a
follow-up note, feedback, her withdrawal reason) go through every service; a broken message
carrying her sealed email is dead-lettered; an auditor exports the history. Then she is
erased, and every file under TANDEM_HOME (event stores, key store, write-ahead logs, the
services' logs, the export), every message on every topic (dead letters included; values,
keys and headers) is searched for each of her values, and for the one id anyone could derive
from her email."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from apitools import participant
from infra.cli import main as tandem
from services.enrolment.domain import NAMESPACE
from support import TopicReader, pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.sqlite, pytest.mark.timeout(300)]

SLUG = "axa-shred"
NAME, EMAIL, MANAGER = "Hélène Vasseur", "helene.vasseur@axa-shred.com", "chef.de.vasseur@axa-shred.com"
FREE_TEXT = {
    "decline": "Vasseur-decline: Hélène would rather meet someone from Lyon",
    "place": "Vasseur-place: Hélène's office, 3rd floor",
    "cancel": "Vasseur-cancel: Hélène is on leave",
    "note": "Vasseur-note: Hélène now runs her own video calls",
    "comment": "Vasseur-comment: Hélène found LinkedIn very useful",
    "withdrawal": "Vasseur-withdrawal: Hélène retires in June",
}
# Each value as it could sit in a file or a message: as it is, and as JSON escapes it.
NEEDLES = {
    text: {text.encode(), json.dumps(text).strip('"').encode()}
    for text in (NAME, EMAIL, MANAGER, "Vasseur", *FREE_TEXT.values())
}


def relationships(sessions) -> list[dict]:
    response = sessions.get(f"/subsidiaries/{SLUG}/relationships")
    return response.json() if response.status_code == 200 else []


def everything_on(platform, topics: list[str]) -> bytes:
    found = []
    for topic in topics:
        with TopicReader(platform.bootstrap, topic) as reader:
            for r in reader.settle(quiet_seconds=1.0):
                found += [r.key or b"", r.value or b"", *(name.encode() + value for name, value in (r.headers or []))]
    return b"\n".join(found)


def test_an_erased_participant_leaves_nothing_in_the_clear(platform, monkeypatch, capsys):
    processes = {name: platform.start(name, TANDEM_CHECKPOINT_EVERY_EVENTS="5") for name in ("enrolment", "matching", "sessions")}
    enrolment, matching, sessions = (platform.client(p) for p in processes.values())
    set_up(enrolment, SLUG, mentors=2, mentees=1, capacity=2)
    body = participant(EMAIL, "mentee", name=NAME, manager_email=MANAGER, birth_year=1961)
    gone = enrolment.post(f"/subsidiaries/{SLUG}/participants", json=body).json()["id"]
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentees"]) == 2)

    # Matched, she declines, and is matched again with the other mentor.
    first = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    assert matching.post(f"/subsidiaries/{SLUG}/matching-runs/{first['id']}/publish").status_code == 200
    hers = wait_for(lambda: [m for m in matching.get(f"/subsidiaries/{SLUG}/matches", params={"status": "active"}).json() if gone in m["mentee_ids"]])
    declined = matching.post(f"/subsidiaries/{SLUG}/matches/{hers[0]['id']}/decline", json={"by": gone, "reason": FREE_TEXT["decline"]})
    assert declined.status_code == 200, declined.text
    wait_for(lambda: (p := pool_of(matching, SLUG)) and gone in {m["id"] for m in p["mentees"]})
    second = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    assert matching.post(f"/subsidiaries/{SLUG}/matching-runs/{second['id']}/publish").status_code == 200
    again = wait_for(lambda: [m for m in matching.get(f"/subsidiaries/{SLUG}/matches", params={"status": "active"}).json() if gone in m["mentee_ids"] and m["id"] != hers[0]["id"]])
    # The second match's relationship: sessions may not have closed the declined one yet.
    rel = wait_for(lambda: [r for r in relationships(sessions) if r["status"] == "active" and r["match_id"] == again[0]["id"]])[0]

    # A session at her office, held, with her feedback and a note; another, cancelled.
    starts = datetime.now(UTC) + timedelta(seconds=2)
    held = sessions.post(f"/subsidiaries/{SLUG}/sessions", json={"relationship_id": rel["id"], "theme": "networking", "starts_at": starts.isoformat(), "location": FREE_TEXT["place"]})
    assert held.status_code == 201, held.text
    wait_for(lambda: datetime.now(UTC) > starts + timedelta(milliseconds=200), timeout=10)
    rated = sessions.post(f"/subsidiaries/{SLUG}/sessions/{held.json()['id']}/feedback", json={"participant_id": gone, "rating": 5, "comment": FREE_TEXT["comment"]})
    assert rated.status_code == 200, rated.text
    assert sessions.post(f"/subsidiaries/{SLUG}/relationships/{rel['id']}/notes", json={"author_id": gone, "note": FREE_TEXT["note"]}).status_code == 201
    later = sessions.post(f"/subsidiaries/{SLUG}/sessions", json={"relationship_id": rel["id"], "theme": "networking", "starts_at": (starts + timedelta(days=7)).isoformat(), "location": "Room 2"})
    assert sessions.post(f"/subsidiaries/{SLUG}/sessions/{later.json()['id']}/cancel", json={"reason": FREE_TEXT["cancel"]}).status_code == 200

    # A broken copy of her enrolment, her email still sealed in it: parked by both consumers.
    def hers(r) -> bool:
        return dict(r.headers)["type"] == b"ParticipantEnrolled" and gone.encode() in r.value

    with TopicReader(platform.bootstrap, platform.topics.enrolment) as topic:
        record = next(r for r in topic.read(lambda rs: any(map(hers, rs))) if hers(r))
    broken = json.loads(record.value)
    broken["event_id"], broken["payload"]["site"] = str(uuid.uuid4()), 12345
    producer = KafkaProducer(bootstrap_servers=platform.bootstrap)
    headers = [(n, str(broken["event_id"]).encode() if n == "event_id" else v) for n, v in record.headers]
    producer.send(platform.topics.enrolment, key=record.key, value=json.dumps(broken).encode(), headers=headers).get(timeout=30)
    producer.close()
    dead_letters = [platform.topics.dead_letters(name) for name in ("matching", "sessions")]
    for topic_name in dead_letters:
        with TopicReader(platform.bootstrap, topic_name) as parked:
            parked.read_count(1)

    # She withdraws, then asks to be erased; matching and sessions learn of it.
    assert enrolment.post(f"/subsidiaries/{SLUG}/participants/{gone}/withdraw", json={"reason": FREE_TEXT["withdrawal"]}).status_code == 200
    assert enrolment.delete(f"/subsidiaries/{SLUG}/participants/{gone}/personal-data").status_code == 204
    wait_for(lambda: sessions.get(f"/subsidiaries/{SLUG}/relationships/{rel['id']}").json()["mentees"][0]["personal_data_erased"])
    wait_for(lambda: all(p["mentee_names"] != [NAME] for p in matching.get(f"/subsidiaries/{SLUG}/matching-runs/{second['id']}").json()["proposals"]))

    # The auditor's export, taken after the erasure, kept in TANDEM_HOME with the rest.
    for name, process in processes.items():
        monkeypatch.setenv(f"{name.upper()}_PORT", process.url.rsplit(":", 1)[1])
    monkeypatch.setenv("TANDEM_SECRET", platform.secret)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", platform.bootstrap)  # the signed checkpoints come along
    monkeypatch.setenv("TANDEM_TOPIC_PREFIX", platform.topics.prefix)
    capsys.readouterr()
    assert tandem(["audit", "export", "--subsidiary", SLUG]) == 0
    exported = capsys.readouterr().out
    assert gone in exported and '"checkpoint"' in exported
    (platform.home / "export.jsonl").write_text(exported, encoding="utf-8")

    # The services stop: whatever they would flush is on disk (logs, write-ahead logs).
    platform.stop_all()
    files = {path: path.read_bytes() for path in Path(platform.home).rglob("*") if path.is_file()}
    assert any(p.suffix == ".db" for p in files) and any(p.suffix == ".log" for p in files)
    messages = everything_on(platform, platform.topics.all())
    assert gone.encode() in messages

    left = sorted(
        f"{text!r} in {where}"
        for text, forms in NEEDLES.items()
        for where, content in [*((p.name, b) for p, b in files.items()), ("the topics", messages)]
        if any(form in content for form in forms)
    )
    assert left == [], "\n".join(left)

    # Nothing links her id back to her email: the claim id is not one anyone could derive.
    guessable = uuid.uuid5(NAMESPACE, f"email:{SLUG}:{EMAIL.casefold()}")
    for form in (str(guessable), guessable.hex):
        assert all(form.encode() not in content for content in [*files.values(), messages]), form
