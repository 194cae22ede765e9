"""Bad input: a clear 4xx listing every problem, nothing recorded, and the service keeps serving."""

from __future__ import annotations

import uuid

import pytest

from apitools import ADMIN_A, GROUP_ADMIN, SUB_A, locs, participant, subsidiary

PARTICIPANTS = f"/subsidiaries/{SUB_A}/participants"


@pytest.fixture
def onboarded(client):
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN).status_code == 201


@pytest.fixture
def refused(client, events, still_serving):
    """``refused(method, path, status, **request)``: sends the request, checks the status and
    that nothing was recorded, then that the service still reads and writes. Returns the answer."""

    def send(method: str, path: str, status: int, **request):
        request.setdefault("headers", GROUP_ADMIN)
        with events.nothing_recorded():
            response = client.request(method, path, **request)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"detail"}
        still_serving()
        return response

    return send


def problems(response) -> dict[tuple, str]:
    return {tuple(p["loc"]): p["msg"] for p in response.json()["detail"]}


# -- subsidiaries -----------------------------------------------------------------------


def test_onboarding_without_any_field_lists_every_missing_one(refused):
    response = refused("POST", "/subsidiaries", 422, json={})
    assert locs(response) == [("body", "id"), ("body", "locale"), ("body", "name"), ("body", "timezone")]
    assert all(p["type"] == "missing" for p in response.json()["detail"])


@pytest.mark.parametrize("slug", ["AXA France", "axa_fr", "-axa", "axa-", "a", "axa--fr", "x" * 64])
def test_a_subsidiary_id_must_be_a_slug(refused, slug):
    response = refused("POST", "/subsidiaries", 422, json=subsidiary("axa-fr", id=slug))
    assert locs(response) == [("body", "id")]


def test_an_unknown_time_zone_is_named_in_the_answer(refused):
    response = refused("POST", "/subsidiaries", 422, json=subsidiary("axa-fr", timezone="Europe/Atlantis"))
    assert locs(response) == [("body", "timezone")]
    assert "Europe/Atlantis" in problems(response)[("body", "timezone")]


def test_every_bad_field_of_a_subsidiary_is_listed_at_once(refused):
    body = {"id": "Bad Slug", "name": "", "timezone": "Mars/Olympus", "locale": "french", "region": "EU"}
    response = refused("POST", "/subsidiaries", 422, json=body)
    assert locs(response) == [("body", "id"), ("body", "locale"), ("body", "name"), ("body", "region"), ("body", "timezone")]


# -- programme --------------------------------------------------------------------------


def test_mini_sessions_above_ten_are_refused(refused, onboarded):
    response = refused("PUT", f"/subsidiaries/{SUB_A}/programme", 422, json={"mini_session_max": 11})
    assert locs(response) == [("body", "mini_session_max")]


def test_every_bad_programme_setting_is_listed_at_once(refused, onboarded):
    body = {
        "themes": [],
        "mentor_capacity": 0,
        "mini_session_max": 11,
        "target_sessions": "many",
        "session_minutes": 5,
        "min_age_gap": -1,
        "colour": "blue",
    }
    response = refused("PUT", f"/subsidiaries/{SUB_A}/programme", 422, json=body)
    assert locs(response) == [
        ("body", "colour"),
        ("body", "mentor_capacity"),
        ("body", "min_age_gap"),
        ("body", "mini_session_max"),
        ("body", "session_minutes"),
        ("body", "target_sessions"),
        ("body", "themes"),
    ]


def test_a_programme_theme_given_twice_whatever_the_case_is_refused(refused, client, onboarded):
    response = refused("PUT", f"/subsidiaries/{SUB_A}/programme", 422, json={"themes": ["AI tools", "ai  TOOLS"]})
    assert locs(response) == [("body", "themes")]
    assert client.get(f"/subsidiaries/{SUB_A}/programme", headers=GROUP_ADMIN).json()["mini_session_max"] == 10


# -- enrolment --------------------------------------------------------------------------


def test_enrolling_without_any_field_lists_every_required_one(refused, onboarded):
    response = refused("POST", PARTICIPANTS, 422, json={})
    assert locs(response) == [
        ("body", f) for f in sorted(["birth_year", "department", "email", "languages", "name", "role", "site", "themes"])
    ]


def test_an_invalid_email_is_refused(refused, onboarded):
    response = refused("POST", PARTICIPANTS, 422, json=participant("jeanne.axa.fr"))
    assert locs(response) == [("body", "email")]


def test_every_bad_field_of_a_participant_is_listed_at_once(refused, onboarded):
    body = participant(
        "not-an-email",
        role="boss",
        birth_year=2030,
        languages=["french", "EN"],
        manager_email="nobody",
        availability=["sun-am"],
        nickname="Jeannot",
    )
    response = refused("POST", PARTICIPANTS, 422, json=body)
    assert locs(response) == [
        ("body", "availability", 0),
        ("body", "birth_year"),
        ("body", "email"),
        ("body", "languages"),  # one problem listing every unknown code ("EN" is English)
        ("body", "manager_email"),
        ("body", "nickname"),
        ("body", "role"),
    ]


@pytest.mark.parametrize("languages", [["french"], ["xx"], ["fra"], ["f"], [], ["fr", "e1"]])
def test_languages_must_be_iso_639_1_codes(refused, onboarded, languages):
    response = refused("POST", PARTICIPANTS, 422, json=participant("a@axa.fr", languages=languages))
    assert {loc[:2] for loc in locs(response)} == {("body", "languages")}


def test_an_unknown_theme_is_refused_naming_the_programmes_themes(refused, onboarded):
    response = refused("POST", PARTICIPANTS, 422, json=participant("a@axa.fr", themes=["networking", "cooking"]))
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "themes", 1] and problem["type"] == "unknown_theme"
    assert "cooking" in problem["msg"] and "online learning" in problem["msg"]


def test_a_theme_ranked_twice_whatever_its_case_is_refused(refused, onboarded):
    response = refused("POST", PARTICIPANTS, 422, json=participant("a@axa.fr", themes=["networking", "NETWORKING"]))
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "themes", 1] and problem["type"] == "duplicate_theme"


def test_every_theme_problem_is_listed_at_once(refused, onboarded):
    themes = ["cooking", "networking", "Networking", "gardening"]
    response = refused("POST", PARTICIPANTS, 422, json=participant("a@axa.fr", themes=themes))
    assert [(p["loc"], p["type"]) for p in response.json()["detail"]] == [
        (["body", "themes", 0], "unknown_theme"),
        (["body", "themes", 2], "duplicate_theme"),
        (["body", "themes", 3], "unknown_theme"),
    ]


def test_an_unknown_theme_and_an_email_already_enrolled_are_both_listed(refused, client, onboarded):
    client.post(PARTICIPANTS, json=participant("a@axa.fr"), headers=GROUP_ADMIN)
    response = refused("POST", PARTICIPANTS, 422, json=participant("a@axa.fr", themes=["cooking"]))
    assert locs(response) == [("body", "email"), ("body", "themes", 0)]


def test_field_errors_and_theme_errors_are_listed_together(refused, onboarded):
    response = refused("POST", PARTICIPANTS, 422, json=participant("a@axa.fr", birth_year=2030, themes=["cooking"]))
    assert locs(response) == [("body", "birth_year"), ("body", "themes", 0)]


# -- profile updates and withdrawal -----------------------------------------------------


@pytest.fixture
def pid(client, onboarded) -> str:
    return str(client.post(PARTICIPANTS, json=participant("e@axa.fr"), headers=GROUP_ADMIN).json()["id"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": None}, [("body", "name")]),
        ({"email": "nope"}, [("body", "email")]),
        ({"role": "mentor"}, [("body", "role")]),  # withdraw and enrol anew instead
        ({"languages": ["english"], "availability": ["sat-am"]}, [("body", "availability", 0), ("body", "languages")]),
        ({"themes": ["cooking"]}, [("body", "themes", 0)]),
        ({"themes": ["networking", "Networking"]}, [("body", "themes", 1)]),
        ({"birth_year": 1800, "site": ""}, [("body", "birth_year"), ("body", "site")]),
    ],
)
def test_a_bad_patch_lists_every_problem(refused, client, pid, change, expected):
    before = client.get(f"{PARTICIPANTS}/{pid}", headers=GROUP_ADMIN).json()
    response = refused("PATCH", f"{PARTICIPANTS}/{pid}", 422, json=change)
    assert locs(response) == expected
    assert client.get(f"{PARTICIPANTS}/{pid}", headers=GROUP_ADMIN).json() == before


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "ok", "when": "now"}])
def test_a_withdrawal_needs_a_reason_of_reasonable_length(refused, pid, body):
    refused("POST", f"{PARTICIPANTS}/{pid}/withdraw", 422, json=body)


def test_a_withdrawal_without_a_body_is_refused(refused, pid):
    refused("POST", f"{PARTICIPANTS}/{pid}/withdraw", 422)


@pytest.mark.parametrize(
    "query",
    [{"role": "boss"}, {"status": "retired"}, {"limit": 0}, {"limit": 10_001}, {"offset": -1}],
)
def test_bad_list_filters_answer_422(client, onboarded, query):
    response = client.get(PARTICIPANTS, params=query, headers=GROUP_ADMIN)
    assert response.status_code == 422
    assert locs(response)[0][0] == "query"


@pytest.mark.parametrize("path", [f"{PARTICIPANTS}/not-a-uuid", f"{PARTICIPANTS}/not-a-uuid/certify"])
def test_a_participant_id_that_is_not_a_uuid_answers_422(client, onboarded, path):
    method = "POST" if path.endswith("certify") else "GET"
    with_id = client.request(method, path, headers=GROUP_ADMIN)
    assert with_id.status_code == 422 and locs(with_id) == [("path", "participant_id")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/subsidiaries", subsidiary("axa-de", region="EU"), id="subsidiary"),
        pytest.param("PUT", f"/subsidiaries/{SUB_A}/programme", {"mentor_capacity": 3, "capacity": 3}, id="programme"),
        pytest.param("POST", PARTICIPANTS, participant("x@axa.fr", Email="x@axa.fr"), id="participant"),
        pytest.param("PATCH", "{participant}", {"site": "Lyon", "sites": ["Lyon"]}, id="patch"),
        pytest.param("POST", "{participant}/withdraw", {"reason": "moved", "reasons": []}, id="withdrawal"),
    ],
)
def test_an_unknown_field_is_an_error_not_silently_ignored(refused, pid, method, path, body):
    path = path.replace("{participant}", f"{PARTICIPANTS}/{pid}")
    response = refused(method, path, 422, json=body)
    [problem] = response.json()["detail"]
    assert problem["type"] == "extra_forbidden" and len(problem["loc"]) == 2


def test_a_withdrawal_reason_of_blanks_is_refused(refused, pid):
    refused("POST", f"{PARTICIPANTS}/{pid}/withdraw", 422, json={"reason": "   "})


# -- malformed bodies, content types, sizes ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/subsidiaries"), ("PUT", f"/subsidiaries/{SUB_A}/programme"), ("POST", PARTICIPANTS)],
)
@pytest.mark.parametrize("text", ['{"id": "axa-de",', "not json at all", "[1, 2", '{"a": 1}}'])
def test_malformed_json_answers_422(refused, onboarded, method, path, text):
    response = refused(method, path, 422, content=text.encode(), headers={**GROUP_ADMIN, "Content-Type": "application/json"})
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_a_json_array_or_scalar_instead_of_an_object_answers_422(refused, onboarded):
    refused("POST", PARTICIPANTS, 422, json=[participant("a@axa.fr")])
    refused("POST", "/subsidiaries", 422, json="axa-de")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "text/csv", None]
)
def test_a_json_endpoint_refuses_other_content_types_with_415(refused, onboarded, content_type):
    body = b'{"id": "axa-de", "name": "AXA DE", "timezone": "Europe/Berlin", "locale": "de-DE"}'
    headers = dict(GROUP_ADMIN)
    if content_type:
        headers["Content-Type"] = content_type
    response = refused("POST", "/subsidiaries", 415, content=body, headers=headers)
    assert "application/json" in response.json()["detail"]


def test_json_with_a_charset_is_accepted(client, onboarded):
    body = b'{"id": "axa-de", "name": "AXA DE", "timezone": "Europe/Berlin", "locale": "de-DE"}'
    headers = {**GROUP_ADMIN, "Content-Type": "application/json; charset=utf-8"}
    assert client.post("/subsidiaries", content=body, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", f"/subsidiaries/{SUB_A}/programme"), ("PATCH", f"{PARTICIPANTS}/{uuid.uuid4()}")],
)
def test_other_json_endpoints_refuse_other_content_types_with_415(refused, onboarded, method, path):
    refused(method, path, 415, content=b"mentor_capacity=3", headers={**ADMIN_A, "Content-Type": "text/plain"})


@pytest.fixture
def small_client(start_service):
    """The service with a 4 KiB body limit."""
    client = start_service(TANDEM_MAX_BODY_BYTES="4096")
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN).status_code == 201
    return client


def head(client) -> int:
    return client.app.state.application.recorder.max_notification_id() or 0


def test_an_oversized_body_answers_413_records_nothing_and_the_service_keeps_serving(small_client):
    client = small_client
    before = head(client)
    oversized_json = client.post(PARTICIPANTS, json=participant("a@axa.fr", department="x" * 5000), headers=GROUP_ADMIN)
    oversized_csv = client.post(
        f"{PARTICIPANTS}/import", content=("role,name\n" + "mentee,x\n" * 1000).encode(), headers={**GROUP_ADMIN, "Content-Type": "text/csv"}
    )
    chunked = client.post(
        f"{PARTICIPANTS}/import",
        content=iter([b"role,name\n"] + [b"mentee,x\n" * 100] * 10),  # no Content-Length: counted as it arrives
        headers={**GROUP_ADMIN, "Content-Type": "text/csv"},
    )
    assert (oversized_json.status_code, oversized_csv.status_code, chunked.status_code) == (413, 413, 413)
    assert head(client) == before

    # A body just under the limit is fine, and the service goes on as usual.
    assert client.post(PARTICIPANTS, json=participant("a@axa.fr", department="x" * 100), headers=GROUP_ADMIN).status_code == 201
    assert client.get(PARTICIPANTS, headers=GROUP_ADMIN).headers["X-Total-Count"] == "1"


def test_an_oversized_body_answers_413_in_json_like_every_other_error(small_client):
    response = small_client.post(PARTICIPANTS, json=participant("a@axa.fr", department="x" * 5000), headers=GROUP_ADMIN)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_a_refused_body_names_where_and_what_never_the_value_sent(client, onboarded):
    """Answers, like logs, never carry a personal value back in the clear."""
    first = client.post(PARTICIPANTS, json=participant("lea.martin@axa.fr"), headers=ADMIN_A)
    assert first.status_code == 201, first.text
    for body, status in [
        (participant("lea.martin(at)axa.fr", name="Léa Martin-Invalid"), 422),  # broken email
        (participant("lea.martin@axa.fr", name="Léa Martin-Twice"), 409),  # already enrolled
    ]:
        response = client.post(PARTICIPANTS, json=body, headers=ADMIN_A)
        assert response.status_code == status, response.text
        assert "lea.martin" not in response.text and "Martin-" not in response.text, response.text
