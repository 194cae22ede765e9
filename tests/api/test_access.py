"""Who may do what: every endpoint against every kind of caller.

Subsidiary A is the one addressed. A subsidiary admin of B and an auditor of A writing are
refused; another subsidiary's resources answer 404 exactly like resources that do not exist,
so a token never learns what it cannot see; a missing, expired or forged token answers 401.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from apitools import CSV, NOWHERE, PRINCIPALS, SUB_A, SUB_B, as_seen, csv_file, csv_row, participant, subsidiary


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {sid} and {pid} are filled in per test
    json: Any = None
    csv: str | None = None

    def call(self, client, headers: dict[str, str], sid: str = SUB_A, pid: str = "") -> Any:
        kwargs: dict[str, Any] = {"headers": dict(headers)}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.csv is not None:
            kwargs["content"] = self.csv
            kwargs["headers"].update(CSV)
        return client.request(self.method, self.path.format(sid=sid, pid=pid), **kwargs)


P = "/subsidiaries/{sid}/participants"
ENDPOINTS = {
    "onboard": Endpoint("POST", "/subsidiaries", json=subsidiary("axa-new")),
    "list-subsidiaries": Endpoint("GET", "/subsidiaries"),
    "get-subsidiary": Endpoint("GET", "/subsidiaries/{sid}"),
    "get-programme": Endpoint("GET", "/subsidiaries/{sid}/programme"),
    "configure-programme": Endpoint("PUT", "/subsidiaries/{sid}/programme", json={"mentor_capacity": 3}),
    "enrol": Endpoint("POST", P, json=participant("new@axa.fr")),
    "import": Endpoint("POST", P + "/import", csv=csv_file(csv_row("csv1@axa.fr"), csv_row("csv2@axa.fr", "mentor"))),
    "list-participants": Endpoint("GET", P),
    "get-participant": Endpoint("GET", P + "/{pid}"),
    "certify": Endpoint("POST", P + "/{pid}/certify"),
    "patch": Endpoint("PATCH", P + "/{pid}", json={"site": "Lyon"}),
    "withdraw": Endpoint("POST", P + "/{pid}/withdraw", json={"reason": "moved abroad"}),
    "healthz": Endpoint("GET", "/healthz"),
}
# The endpoints that address one subsidiary (and so may answer 404 to a caller who cannot see it).
SCOPED = [name for name, e in ENDPOINTS.items() if "{sid}" in e.path]
WRITES = {"onboard", "configure-programme", "enrol", "import", "certify", "patch", "withdraw"}
SUCCESS = {"onboard": 201, "enrol": 201}

UNAUTHENTICATED = ("no-token", "expired", "other-secret")


def expected_status(endpoint: str, who: str) -> int:
    ok = SUCCESS.get(endpoint, 200)
    if endpoint == "healthz":
        return 200
    if who in UNAUTHENTICATED:
        return 401
    if endpoint == "onboard":
        return ok if who == "group-admin" else 403
    if endpoint == "list-subsidiaries":
        return ok
    if who == "admin-B":
        return 404  # cannot see A at all
    if endpoint in WRITES and who.startswith("auditor"):
        return 403
    return ok


MATRIX = [
    pytest.param(endpoint, who, expected_status(endpoint, who), id=f"{endpoint}-{who}")
    for endpoint in ENDPOINTS
    for who in PRINCIPALS
]


@pytest.mark.parametrize(("endpoint", "who", "status"), MATRIX)
def test_access_matrix(client, world, events, endpoint, who, status):
    before = events.head()
    response = ENDPOINTS[endpoint].call(client, PRINCIPALS[who], pid=world.mentor)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    if status >= 400:
        assert set(response.json()) == {"detail"}
        assert events.head() == before, "a refused request recorded something"
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    if status < 400 and endpoint in WRITES and endpoint != "certify":
        assert events.head() > before


@pytest.mark.parametrize("endpoint", SCOPED)
@pytest.mark.parametrize("who", ["admin-B", "auditor-A-on-B"])
def test_another_subsidiarys_resources_look_exactly_like_nonexistent_ones(client, world, endpoint, who):
    """What a caller gets for a subsidiary it cannot see is what it gets for one that was
    never onboarded (names aside)."""
    headers, hidden = (PRINCIPALS["admin-B"], SUB_A) if who == "admin-B" else (PRINCIPALS["auditor-A"], SUB_B)
    pid = world.mentor if hidden == SUB_A else world.mentee_b
    call = ENDPOINTS[endpoint].call

    existing = call(client, headers, sid=hidden, pid=pid)
    missing = call(client, headers, sid=NOWHERE, pid=str(uuid.uuid4()))

    assert existing.status_code == 404
    assert as_seen(existing, hidden, NOWHERE) == as_seen(missing, hidden, NOWHERE)


@pytest.mark.parametrize("endpoint", ["get-participant", "certify", "patch", "withdraw"])
def test_another_subsidiarys_participant_looks_exactly_like_a_nonexistent_one(client, world, events, endpoint):
    """Admin of B addressing A's mentor through B's own path: the id leaks nothing."""
    call = ENDPOINTS[endpoint].call
    with events.nothing_recorded():
        foreign = call(client, PRINCIPALS["admin-B"], sid=SUB_B, pid=world.mentor)
        unknown = call(client, PRINCIPALS["admin-B"], sid=SUB_B, pid=str(uuid.uuid4()))
    assert foreign.status_code == 404
    assert as_seen(foreign) == as_seen(unknown)


def test_the_subsidiary_list_of_a_token_shows_nothing_it_cannot_see(client, world):
    for who, expected in [("group-admin", [SUB_B, SUB_A]), ("auditor-all", [SUB_B, SUB_A]), ("admin-A", [SUB_A]), ("admin-B", [SUB_B]), ("auditor-A", [SUB_A])]:
        assert [s["id"] for s in client.get("/subsidiaries", headers=PRINCIPALS[who]).json()] == expected, who


def test_a_read_only_auditor_sees_the_participants_of_its_subsidiary(client, world):
    listed = client.get(f"/subsidiaries/{SUB_A}/participants", headers=PRINCIPALS["auditor-A"])
    assert {p["id"] for p in listed.json()} == {world.mentor, world.mentee}
    everywhere = client.get(f"/subsidiaries/{SUB_B}/participants", headers=PRINCIPALS["auditor-all"])
    assert [p["id"] for p in everywhere.json()] == [world.mentee_b]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="basic-auth"),
        pytest.param("Bearer not.a.token", id="garbage"),
        pytest.param("Bearer", id="empty-bearer"),
    ],
)
def test_other_kinds_of_bad_credentials_answer_401(client, world, authorization):
    response = client.get(f"/subsidiaries/{SUB_A}", headers={"Authorization": authorization})
    assert response.status_code == 401 and set(response.json()) == {"detail"}


@pytest.mark.parametrize("who", UNAUTHENTICATED)
def test_an_anonymous_write_with_a_bad_body_still_answers_401(client, world, events, who):
    """The caller learns nothing but 401, whatever it sends."""
    headers = PRINCIPALS[who]
    with events.nothing_recorded():
        invalid = client.post(f"/subsidiaries/{SUB_A}/participants", json={"role": "boss"}, headers=headers)
        wrong_type = client.post(f"/subsidiaries/{SUB_A}/participants", content="x", headers={**headers, "Content-Type": "text/plain"})
        bad_csv = client.post(f"/subsidiaries/{SUB_A}/participants/import", content=b"\xff\xfe", headers={**headers, **CSV})
    assert (invalid.status_code, wrong_type.status_code, bad_csv.status_code) == (401, 401, 401)


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        pytest.param("auditor-A", f"/subsidiaries/{SUB_A}/participants", 403, id="auditor writing"),
        pytest.param("admin-B", f"/subsidiaries/{SUB_A}/participants", 404, id="another subsidiary"),
        pytest.param("admin-A", "/subsidiaries", 403, id="onboarding is for group admins"),
        pytest.param("admin-A", f"/subsidiaries/{SUB_A}/participants", 422, id="allowed: the body's problems"),
    ],
)
def test_who_may_write_is_decided_before_the_body_is_read(client, world, events, who, path, status):
    """A caller who may not write learns that, and nothing about what the body should be."""
    with events.nothing_recorded():
        malformed = client.post(path, content=b"{not json", headers={**PRINCIPALS[who], "Content-Type": "application/json"})
        invalid = client.post(path, json={"role": "boss"}, headers=PRINCIPALS[who])
    assert (malformed.status_code, invalid.status_code) == (status, status)


def test_an_anonymous_write_with_malformed_json_answers_401(client, world):
    response = client.post(
        f"/subsidiaries/{SUB_A}/participants", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
