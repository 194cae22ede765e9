"""Tenant isolation: for every endpoint of every service and every role, a token for
subsidiary A never reads, lists, counts or changes anything of subsidiary B; tokens that are
expired, tampered with or unsigned (alg: none) get nothing anywhere."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apitools import PRINCIPALS
from world import World, build_world

A, B = "axa-fr", "axa-be"  # the ones the principals' tokens name
NOWHERE = "axa-zz"  # never onboarded
PATH_KINDS = {"participant_id": "participant", "run_id": "run", "match_id": "match", "relationship_id": "relationship", "session_id": "session"}
OF_A = ("admin-A", "auditor-A")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Different sizes, so that a count of B's would show in A's figures.
    with build_world(tmp_path_factory.mktemp("isolation"), {A: (2, 3), B: (3, 5)}) as built:
        yield built


def operations(world: World) -> list[tuple[str, str, str]]:
    found = []
    for service, client in world.clients.items():
        for path, methods in client.app.openapi()["paths"].items():
            found += [(service, method.upper(), path) for method in methods]
    return found


def fill(path: str, world: World, subsidiary: str, pick: st.DataObject) -> str:
    """The path with B's identifiers: its slug and, per kind, one of its resources (or, now
    and then, an id that exists nowhere)."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "subsidiary_id":
            return subsidiary
        kind = PATH_KINDS[name]
        return pick.draw(st.sampled_from([*world.subsidiaries[subsidiary].ids[kind], str(uuid.uuid4())]), label=name)

    return re.sub(r"\{(\w+)\}", one, path)


@given(pick=st.data())
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
def test_a_token_for_a_never_reads_lists_counts_or_changes_anything_of_b(world: World, pick: st.DataObject):
    service, method, path = pick.draw(st.sampled_from(operations(world)), label="operation")
    who = pick.draw(st.sampled_from(OF_A), label="principal")
    url = fill(path, world, B, pick) if "{subsidiary_id}" in path else path
    body = pick.draw(st.sampled_from([None, {}, {"reason": "x", "format": "pair", "by": "admin"}]), label="body") if method in ("POST", "PUT", "PATCH") else None
    before = world.head()
    client = world.clients[service]
    response = client.request(method, url, json=body, headers=PRINCIPALS[who])
    # What the caller sent may come back ("subsidiary 'axa-be' not found", as for any unknown
    # one); anything else of B's may not.
    secrets = {word for word in world.subsidiaries[B].words if word not in url}
    leaked = sorted(word for word in secrets if word in response.text)
    assert not leaked, f"{who} {method} {url} -> {response.status_code} shows B's {leaked[:5]}"
    if "{subsidiary_id}" in path:
        # B answers exactly as a subsidiary that does not exist, for reads and writes alike:
        # the token learns nothing, not even that B exists, and nothing is recorded.
        assert 400 <= response.status_code < 500, (who, method, url, response.status_code, response.text[:300])
        assert world.head() == before, f"{who} {method} {url} recorded something"
        nowhere = client.request(method, url.replace(f"/{B}", f"/{NOWHERE}", 1), json=body, headers=PRINCIPALS[who])
        assert (response.status_code, response.text.replace(B, NOWHERE)) == (nowhere.status_code, nowhere.text), (who, method, url)
    else:
        assert response.status_code in (200, 403), (who, method, url, response.status_code)


def test_what_a_sees_counts_only_a(world: World):
    for who in OF_A:
        headers = PRINCIPALS[who]
        assert [s["id"] for s in world.clients["enrolment"].get("/subsidiaries", headers=headers).json()] == [A]
        participants = world.clients["enrolment"].get(f"/subsidiaries/{A}/participants", headers=headers)
        assert participants.headers["X-Total-Count"] == "5"
        dashboard = world.clients["sessions"].get(f"/subsidiaries/{A}/dashboard", headers=headers).json()
        assert (dashboard["mentors"], dashboard["mentees"]) == (2, 3)
        assert world.clients["sessions"].get("/dashboard", headers=headers).status_code == 403
        pool = world.clients["matching"].get(f"/subsidiaries/{A}/pool", headers=headers).json()
        assert {m["id"] for m in pool["mentors"] + pool["mentees"]} <= set(world.subsidiaries[A].ids["participant"])
        events = world.clients["enrolment"].get(f"/subsidiaries/{A}/audit/events", headers=headers).json()
        assert events and all(e["subsidiary_id"] in (A, None) for e in events)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens() -> dict[str, str]:
    good = PRINCIPALS["admin-A"]["Authorization"].removeprefix("Bearer ")
    header, claims, signature = good.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=="))
    return {
        "expired": PRINCIPALS["expired"]["Authorization"].removeprefix("Bearer "),
        "another secret": PRINCIPALS["other-secret"]["Authorization"].removeprefix("Bearer "),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**decoded, 'role': 'group-admin'})}.",
        "claims changed": f"{header}.{_b64({**decoded, 'role': 'group-admin', 'subsidiary': None})}.{signature}",
        "subsidiary changed": f"{header}.{_b64({**decoded, 'subsidiary': B})}.{signature}",
        "signature cut": f"{header}.{claims}.",
        "not a jwt": "hello",
    }


@pytest.mark.parametrize("kind", sorted(bad_tokens()))
def test_expired_tampered_and_unsigned_tokens_get_nothing_on_any_endpoint(world: World, kind: str):
    token = bad_tokens()[kind]
    before = world.head()
    for service, method, path in operations(world):
        if path == "/healthz":
            continue
        url = path.replace("{subsidiary_id}", A)
        url = re.sub(r"\{(\w+)\}", lambda m: (world.subsidiaries[A].ids[PATH_KINDS[m.group(1)]] or [str(uuid.uuid4())])[0], url)
        response = world.clients[service].request(method, url, json={}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (kind, method, url, response.status_code)
    assert world.head() == before
