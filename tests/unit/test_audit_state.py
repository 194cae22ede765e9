"""The programme as it stood, folded from integration events built from the contract models:
redelivery and the interleaving of the producers' topics change nothing."""

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from contracts import IntegrationEvent, decode, encode
from contracts import enrolment, matching, sessions
from services.common.personal_data import MemoryKeyStore, PersonalDataKeys
from infra.audit_state import ProgrammeState

SUB, OTHER = "axa-france", "axa-belgium"
T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PROGRAMME = {"themes": ["networking"], "mentor_capacity": 5, "mini_session_max": 10, "target_sessions": 2, "session_minutes": 90, "min_age_gap": 1}


class _ErasedPayload(BaseModel):
    participant_id: uuid.UUID


class ParticipantErased(IntegrationEvent):
    """Stands in for the contract being added: the state knows the event by its type name."""

    type: Literal["ParticipantErased"] = "ParticipantErased"
    schema_version: Literal[1] = 1
    payload: _ErasedPayload


def ev(cls: Any, payload: dict, at: datetime, subsidiary: str = SUB, producer: str | None = None) -> IntegrationEvent:
    return cls(
        event_id=uuid.uuid4(), subsidiary_id=subsidiary, occurred_at=at, producer=producer or cls.PRODUCER or "enrolment",
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="c", payload=payload,
    )


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")  # pydantic's JSON


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1, version=4)) for i in range(n)]


MENTOR, MENTOR2, E1, E2, E3, E4 = ids(6)
PAIR, GROUP, DECLINED_MATCH = ids(9)[6:]
REL_PAIR, REL_GROUP = str(uuid.uuid4()), str(uuid.uuid4())
S1, S2, S3, S4 = (str(uuid.uuid4()) for _ in range(4))


def enrolled(pid: str, role: str, name: str, at: datetime, subsidiary: str = SUB) -> IntegrationEvent:
    return ev(enrolment.ParticipantEnrolled, {
        "participant_id": pid, "role": role,
        "personal_data": {"name": name, "email": f"{name.lower()}@axa.fr", "birth_year": 1998 if role == "mentor" else 1965, "manager_email": None},
        "department": "Claims", "site": "Paris", "languages": ["fr"], "themes": ["networking"], "availability": [],
    }, at, subsidiary)


def streams() -> tuple[list, list, list]:
    """One subsidiary's story, per producer, in each producer's own order."""
    e = [
        ev(enrolment.SubsidiaryOnboarded, {"name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"}, T0),
        ev(enrolment.ProgrammeConfigured, PROGRAMME, T0),
        enrolled(MENTOR, "mentor", "Zoe", T0 + DAY),
        enrolled(MENTOR2, "mentor", "Hugo", T0 + DAY),
        *(enrolled(pid, "mentee", name, T0 + DAY) for pid, name in ((E1, "Anne"), (E2, "Bernard"), (E3, "Claire"), (E4, "Denis"))),
        ev(enrolment.MentorCertified, {"participant_id": MENTOR}, T0 + 2 * DAY),
        ev(enrolment.ParticipantWithdrawn, {"participant_id": E4, "role": "mentee", "reason": "moved"}, T0 + 20 * DAY),
        ev(ParticipantErased, {"participant_id": E4}, T0 + 21 * DAY, producer="enrolment"),
    ]
    confirmed = {"run_id": str(uuid.uuid4()), "shared_themes": ["networking"], "language": "fr", "score": 3, "theme": "networking"}
    m = [
        ev(matching.MatchConfirmed, {**confirmed, "match_id": PAIR, "format": "pair", "mentor_id": MENTOR, "mentee_ids": [E1]}, T0 + 3 * DAY),
        ev(matching.MatchConfirmed, {**confirmed, "match_id": GROUP, "format": "mini-session", "mentor_id": MENTOR, "mentee_ids": [E3, E2, E4]}, T0 + 3 * DAY),
        ev(matching.MatchConfirmed, {**confirmed, "match_id": DECLINED_MATCH, "format": "pair", "mentor_id": MENTOR2, "mentee_ids": [E2]}, T0 + 3 * DAY),
        ev(matching.MatchDeclined, {"match_id": DECLINED_MATCH, "mentor_id": MENTOR2, "mentee_ids": [E2], "by": "admin", "reason": "same team"}, T0 + 4 * DAY),
        ev(matching.MatchMemberLeft, {"match_id": GROUP, "mentor_id": MENTOR, "participant_id": E4, "mentee_ids": [E3, E2], "reason": "a mentee withdrew: moved"}, T0 + 20 * DAY),
        ev(matching.MatchEnded, {"match_id": PAIR, "mentor_id": MENTOR, "mentee_ids": [E1], "reason": "the relationship completed: 2 sessions held"}, T0 + 31 * DAY),
    ]
    opened = {"theme": "networking", "target_sessions": 2, "session_minutes": 90, "matched_at": (T0 + 3 * DAY).isoformat()}

    def scheduled(sid: str, rel: str, fmt: str, members: list[str], starts: datetime) -> IntegrationEvent:
        return ev(sessions.SessionScheduled, {
            "session_id": sid, "relationship_id": rel, "format": fmt, "theme": "networking", "starts_at": starts.isoformat(),
            "duration_minutes": 90, "location": "Salle 3", "video_link": None, "participant_ids": members,
        }, T0 + 5 * DAY)

    def held(sid: str, rel: str, fmt: str, n: int, at: datetime) -> IntegrationEvent:
        return ev(sessions.SessionHeld, {"session_id": sid, "relationship_id": rel, "format": fmt, "theme": "networking", "sessions_held": n}, at)

    s = [
        ev(sessions.RelationshipOpened, {**opened, "relationship_id": REL_PAIR, "match_id": PAIR, "format": "pair", "mentor_id": MENTOR, "mentee_ids": [E1]}, T0 + 3 * DAY),
        ev(sessions.RelationshipOpened, {**opened, "relationship_id": REL_GROUP, "match_id": GROUP, "format": "mini-session", "mentor_id": MENTOR, "mentee_ids": [E3, E2, E4]}, T0 + 3 * DAY),
        scheduled(S1, REL_PAIR, "pair", [MENTOR, E1], T0 + 10 * DAY),
        scheduled(S2, REL_GROUP, "mini-session", [MENTOR, E3, E2, E4], T0 + 11 * DAY),
        scheduled(S3, REL_PAIR, "pair", [MENTOR, E1], T0 + 29 * DAY),
        scheduled(S4, REL_GROUP, "mini-session", [MENTOR, E3, E2, E4], T0 + 40 * DAY),
        ev(sessions.AttendanceRecorded, {"session_id": S1, "relationship_id": REL_PAIR, "participant_id": E1, "present": True}, T0 + 10 * DAY),
        held(S1, REL_PAIR, "pair", 1, T0 + 10 * DAY),
        held(S2, REL_GROUP, "mini-session", 1, T0 + 11 * DAY),
        ev(sessions.RelationshipMemberLeft, {"relationship_id": REL_GROUP, "participant_id": E4, "reason": "a mentee withdrew: moved"}, T0 + 20 * DAY),
        ev(sessions.SessionRescheduled, {
            "session_id": S3, "relationship_id": REL_PAIR, "starts_at": (T0 + 30 * DAY).isoformat(), "duration_minutes": 90,
            "location": "Salle 4", "video_link": None, "sequence": 1,
        }, T0 + 25 * DAY),
        held(S3, REL_PAIR, "pair", 2, T0 + 30 * DAY),
        ev(sessions.RelationshipCompleted, {"relationship_id": REL_PAIR, "match_id": PAIR, "sessions_held": 2}, T0 + 30 * DAY),
        ev(sessions.SessionCancelled, {"session_id": S4, "relationship_id": REL_GROUP, "reason": "no room"}, T0 + 35 * DAY),
    ]
    return e, m, s


def folded(events: list, as_of: datetime | None = None) -> dict:
    state = ProgrammeState(SUB, as_of=as_of)
    for e in events:
        state.apply(e)
    return state.as_dict()


def interleave(rng: random.Random, *streams: list) -> list:
    """A random merge that keeps each stream's own order (as each topic does)."""
    queues = [list(s) for s in streams]
    merged = []
    while any(queues):
        merged.append(rng.choice([q for q in queues if q]).pop(0))
    return merged


def test_the_whole_programme():
    e, m, s = streams()
    state = folded(e + m + s)
    assert state["subsidiary"] == {"id": SUB, "name": "AXA France", "timezone": "Europe/Paris", "onboarded_at": iso(T0)}
    people = {p["participant_id"]: p for p in state["participants"]}
    assert [p["participant_id"] for p in state["participants"]] == sorted(people)
    assert people[MENTOR] == {"participant_id": MENTOR, "role": "mentor", "status": "certified", "erased": False, "name": "Zoe", "enrolled_at": iso(T0 + DAY)}
    assert (people[MENTOR2]["status"], people[E1]["status"]) == ("enrolled", "enrolled")
    assert (people[E4]["status"], people[E4]["erased"], people[E4]["name"]) == ("withdrawn", True, None)

    matches = {x["match_id"]: x for x in state["matches"]}
    assert matches[PAIR]["status"] == "completed"  # ended by matching because its relationship completed
    assert matches[DECLINED_MATCH]["status"] == "declined"
    group = matches[GROUP]
    assert (group["status"], group["format"], group["mentee_ids"]) == ("confirmed", "mini-session", sorted([E2, E3]))
    assert group["member_changes"] == [{"participant_id": E4, "change": "left", "reason": "a mentee withdrew: moved", "at": iso(T0 + 20 * DAY)}]

    rels = {r["relationship_id"]: r for r in state["relationships"]}
    assert (rels[REL_PAIR]["status"], rels[REL_PAIR]["sessions_held"]) == ("completed", 2)
    assert (rels[REL_GROUP]["status"], rels[REL_GROUP]["sessions_held"], rels[REL_GROUP]["mentee_ids"]) == ("open", 1, sorted([E2, E3]))
    assert [(h["session_id"], h["when"]) for h in state["sessions_held"]] == [
        (S1, iso(T0 + 10 * DAY)), (S2, iso(T0 + 11 * DAY)), (S3, iso(T0 + 30 * DAY)),  # S3 as rescheduled
    ]
    assert state["counts"] == {
        "participants": {"mentor": {"enrolled": 1, "certified": 1, "withdrawn": 0}, "mentee": {"enrolled": 3, "certified": 0, "withdrawn": 1}},
        "participants_erased": 1,
        "participants_unknown": 0,
        "matches": {"confirmed": 1, "declined": 1, "ended": 0, "completed": 1},
        "relationships": {"open": 1, "completed": 1, "closed": 0},
        "sessions_held": 3,
    }
    assert json.loads(json.dumps(state)) == state  # JSON-ready as it is


def test_redelivery_and_interleaving_change_nothing():
    e, m, s = streams()
    reference = folded(e + m + s)
    rng = random.Random(5)
    for trial in range(20):
        merged = interleave(rng, e, m, s)
        cut = rng.randint(0, len(merged))
        again = rng.sample(merged[:cut], cut // 2)  # a consumer restarting re-reads some of what it had
        assert folded(merged[:cut] + again + merged[cut:]) == reference, trial


def test_events_through_the_wire_format():
    e, m, s = streams()
    keys = PersonalDataKeys(MemoryKeyStore())  # the real sealing, keys kept in memory
    events = [x for x in e + m + s if x.type != "ParticipantErased"]
    messages = [encode(x, keys)[1] for x in events]
    assert folded([decode(message, keys) for message in messages]) == folded(events)
    # Read after the erasure, the erased participant's name is gone from every event.
    keys.erase(E4)
    people = {p["participant_id"]: p for p in folded([decode(message, keys) for message in messages])["participants"]}
    assert (people[E4]["name"], people[E1]["name"]) == (None, "Anne")


def test_as_of_and_other_subsidiaries():
    e, m, s = streams()
    noise = [
        ev(enrolment.SubsidiaryOnboarded, {"name": "AXA Belgium", "timezone": "Europe/Brussels", "locale": "fr-BE"}, T0, OTHER),
        enrolled(str(uuid.uuid4()), "mentee", "Jan", T0 + DAY, OTHER),
    ]
    state = folded(noise + e + m + s, as_of=T0 + 15 * DAY)
    assert len(state["participants"]) == 6
    people = {p["participant_id"]: p for p in state["participants"]}
    assert (people[E4]["status"], people[E4]["erased"], people[E4]["name"]) == ("enrolled", False, "Denis")
    assert state["counts"]["matches"] == {"confirmed": 2, "declined": 1, "ended": 0, "completed": 0}
    assert state["counts"]["relationships"] == {"open": 2, "completed": 0, "closed": 0}
    assert [h["session_id"] for h in state["sessions_held"]] == [S1, S2]
    assert folded([]) == ProgrammeState(SUB).as_dict()


def test_a_match_seen_before_its_members_enrolment():
    _, m, s = streams()
    state = folded(m[:1] + s[:1])
    assert [(p["participant_id"], p["role"], p["status"], p["name"]) for p in state["participants"]] == sorted(
        [(MENTOR, "mentor", None, None), (E1, "mentee", None, None)]
    )
    assert state["counts"]["participants_unknown"] == 2


def test_a_closed_relationship_and_an_ended_match():
    e, m, s = streams()
    ended = ev(matching.MatchEnded, {"match_id": GROUP, "mentor_id": MENTOR, "mentee_ids": [E3, E2], "reason": "the mentor withdrew: left"}, T0 + 41 * DAY)
    closed = ev(sessions.RelationshipClosed, {"relationship_id": REL_GROUP, "match_id": GROUP, "reason": "the mentor withdrew: left", "sessions_held": 1}, T0 + 41 * DAY)
    state = folded(e + m + [ended] + s + [closed])
    assert {x["match_id"]: x["status"] for x in state["matches"]}[GROUP] == "ended"
    rel = {r["relationship_id"]: r for r in state["relationships"]}[REL_GROUP]
    assert (rel["status"], rel["reason"], rel["sessions_held"]) == ("closed", "the mentor withdrew: left", 1)
