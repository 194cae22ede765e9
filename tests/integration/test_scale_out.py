"""Scale-out: two instances of the matching service on one PostgreSQL event store, in one
consumer group. They split the topics' partitions between them; when one is killed midway,
the other takes its partitions over and the events it had applied but not committed arrive
again. Every enrolment event must end up applied exactly once in the shared store."""

from collections import Counter

import pytest

from stores import on_postgres
from support import pool_of, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SUBSIDIARIES = [f"axa-scale-{n:02d}" for n in range(10)]
MENTORS, MENTEES = 2, 6


def partitions(client) -> set[str]:
    return set(client.get("/healthz").json()["consumer"]["partitions"])


def noted(matching, slug: str) -> tuple[Counter, Counter]:
    """How many times matching's store recorded each participant's enrolment and certification
    (read through the audit API: the stored events themselves)."""
    history = matching.get(f"/subsidiaries/{slug}/audit/events", params={"limit": 5000}).json()
    assert len(history) < 5000  # all of it in one page
    enrolled = Counter(e["payload"]["participant_id"] for e in history if e["type"] == "Candidate.ProfileNoted")
    roles = Counter(e["payload"]["participant_id"] for e in history if e["type"] == "MatchBook.RoleNoted")
    assert roles == enrolled  # each enrolment noted once in the candidate, its role once in the book
    certified = Counter(e["payload"]["participant_id"] for e in history if e["type"] == "MatchBook.MentorCertified")
    return enrolled, certified


def test_two_matching_instances_share_the_partitions_and_apply_every_event_exactly_once(platform, postgres_server):
    # The two instances share one PostgreSQL database (this run's, or one of their own on the
    # SQLite run, reading the participants' keys from the SQLite key store beside enrolment's).
    if on_postgres():
        shared = platform.stores("matching")
    else:
        shared = {**postgres_server.create_database(), "TANDEM_KEY_STORE": "sqlite"}
    enrolment = platform.client(platform.start("enrolment"))
    first, second = platform.start("matching", **shared), platform.start("matching", **shared)
    one, other = platform.client(first), platform.client(second)

    # One group: the enrolment and sessions topics' partitions are split between the two.
    everything = {f"{topic}[{n}]" for topic in (platform.topics.enrolment, platform.topics.sessions) for n in range(3)}
    # Each instance reports its own assignment: during a rebalance one may still report what
    # the other already holds, so the split is awaited until both reports agree.
    def split() -> bool:
        mine, theirs = partitions(one), partitions(other)
        return bool(mine and theirs and mine | theirs == everything and not mine & theirs)

    wait_for(split, timeout=60)

    ids: dict[str, dict[str, str]] = {}
    for slug in SUBSIDIARIES[:5]:
        ids[slug] = set_up(enrolment, slug, mentors=MENTORS, mentees=MENTEES)
    # Both applied some of them (each subsidiary's events go to one partition, by key).
    wait_for(lambda: all((p := pool_of(one, slug)) and len(p["mentees"]) == MENTEES for slug in ids), timeout=60)
    applied = {name: client.get("/healthz").json()["consumer"]["applied"] for name, client in (("one", one), ("other", other))}
    assert applied["one"] > 0 and applied["other"] > 0, applied

    # The second half goes in while the second instance dies without a word.
    for n, slug in enumerate(SUBSIDIARIES[5:]):
        ids[slug] = set_up(enrolment, slug, mentors=MENTORS, mentees=MENTEES)
        if n == 1:
            second.kill()
    wait_for(lambda: partitions(one) == everything, timeout=60)  # it took the partitions over
    for slug in SUBSIDIARIES:
        pool = wait_for(lambda slug=slug: (p := pool_of(one, slug)) and len(p["mentees"]) == MENTEES and len(p["mentors"]) == MENTORS and p, timeout=60)
        assert {m["name"] for m in pool["mentors"]} == {f"Mentor {i}" for i in range(MENTORS)}

    # Exactly once: every participant noted once, every mentor certified once, nobody else.
    for slug, people in ids.items():
        enrolled, certified = noted(one, slug)
        assert enrolled == Counter(set(people.values())), slug
        mentors = {pid for email, pid in people.items() if email.startswith("mentor")}
        assert certified == Counter(mentors), slug
