"""Subsidiaries and their programme, as a group admin or a subsidiary admin sees them."""

from datetime import datetime

from apitools import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR_A,
    AUDITOR_ALL,
    DEFAULT_PROGRAMME,
    DEFAULT_THEMES,
    GROUP_ADMIN,
    NOWHERE,
    SUB_A,
    SUB_B,
    participant,
    subsidiary,
)


def test_onboarding_answers_201_with_the_subsidiary_and_the_default_programme(client, events):
    with events.recorded(2):  # onboarded, then the original programme
        response = client.post(
            "/subsidiaries",
            json={"id": "axa-france", "name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"},
            headers=GROUP_ADMIN,
        )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "name", "timezone", "locale", "programme", "onboarded_at"}
    assert body["id"] == "axa-france" and body["name"] == "AXA France"
    assert body["timezone"] == "Europe/Paris" and body["locale"] == "fr-FR"
    assert body["programme"] == DEFAULT_PROGRAMME
    assert datetime.fromisoformat(body["onboarded_at"]).tzinfo is not None

    assert client.get("/subsidiaries/axa-france", headers=GROUP_ADMIN).json() == body


def test_a_duplicate_id_answers_409_and_records_nothing(client, events):
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN).status_code == 201
    with events.nothing_recorded():
        response = client.post("/subsidiaries", json=subsidiary(SUB_A, name="Someone else"), headers=GROUP_ADMIN)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert (detail["type"], detail["ctx"]) == ("already_onboarded", {"subsidiary_id": SUB_A})
    assert SUB_A in detail["msg"]
    # The first one is untouched.
    assert client.get(f"/subsidiaries/{SUB_A}", headers=GROUP_ADMIN).json()["name"] == subsidiary(SUB_A)["name"]


def test_a_group_admin_sees_every_subsidiary_and_a_subsidiary_admin_only_its_own(client):
    for slug in (SUB_B, SUB_A, "axa-de"):
        assert client.post("/subsidiaries", json=subsidiary(slug), headers=GROUP_ADMIN).status_code == 201

    def ids(headers):
        response = client.get("/subsidiaries", headers=headers)
        assert response.status_code == 200
        return [s["id"] for s in response.json()]

    assert ids(GROUP_ADMIN) == ["axa-be", "axa-de", "axa-fr"]  # sorted by id
    assert ids(AUDITOR_ALL) == ["axa-be", "axa-de", "axa-fr"]
    assert ids(ADMIN_A) == [SUB_A]
    assert ids(ADMIN_B) == [SUB_B]
    assert ids(AUDITOR_A) == [SUB_A]


def test_a_subsidiary_admin_of_a_subsidiary_not_yet_onboarded_sees_an_empty_list(client):
    assert client.post("/subsidiaries", json=subsidiary(SUB_B), headers=GROUP_ADMIN).status_code == 201
    response = client.get("/subsidiaries", headers=ADMIN_A)
    assert response.status_code == 200 and response.json() == []


def test_the_list_shows_each_subsidiary_with_its_current_programme(client):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    client.put(f"/subsidiaries/{SUB_A}/programme", json={"mentor_capacity": 2}, headers=GROUP_ADMIN)
    [listed] = client.get("/subsidiaries", headers=GROUP_ADMIN).json()
    assert listed["programme"]["mentor_capacity"] == 2
    assert listed == client.get(f"/subsidiaries/{SUB_A}", headers=GROUP_ADMIN).json()


def test_an_empty_programme_takes_every_default(client, events):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    client.put(f"/subsidiaries/{SUB_A}/programme", json={"mentor_capacity": 2}, headers=GROUP_ADMIN)
    with events.recorded(1):
        response = client.put(f"/subsidiaries/{SUB_A}/programme", json={}, headers=GROUP_ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == DEFAULT_PROGRAMME
    assert response.json()["themes"] == DEFAULT_THEMES
    assert client.get(f"/subsidiaries/{SUB_A}/programme", headers=GROUP_ADMIN).json() == DEFAULT_PROGRAMME


def test_setting_the_programme_it_already_has_records_nothing(client, events):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    with events.nothing_recorded():  # a retried PUT is not another change to publish
        for _ in range(2):
            response = client.put(f"/subsidiaries/{SUB_A}/programme", json=DEFAULT_PROGRAMME, headers=GROUP_ADMIN)
            assert response.status_code == 200 and response.json() == DEFAULT_PROGRAMME


def test_a_subsidiary_admin_configures_its_programme_and_left_out_fields_take_their_default(client):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    custom = {
        "themes": ["Cyber security", "AI tools"],
        "mentor_capacity": 3,
        "mini_session_max": 6,
        "target_sessions": 8,
        "session_minutes": 60,
        "min_age_gap": 5,
    }
    response = client.put(f"/subsidiaries/{SUB_A}/programme", json=custom, headers=ADMIN_A)
    assert response.status_code == 200 and response.json() == custom
    assert client.get(f"/subsidiaries/{SUB_A}", headers=AUDITOR_A).json()["programme"] == custom

    # PUT replaces the whole programme: what is left out goes back to its default.
    response = client.put(f"/subsidiaries/{SUB_A}/programme", json={"target_sessions": 7}, headers=ADMIN_A)
    assert response.json() == {**DEFAULT_PROGRAMME, "target_sessions": 7}
    assert client.get(f"/subsidiaries/{SUB_A}/programme", headers=ADMIN_A).json() == {**DEFAULT_PROGRAMME, "target_sessions": 7}


def test_null_min_age_gap_turns_the_age_rule_off(client):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    response = client.put(f"/subsidiaries/{SUB_A}/programme", json={"min_age_gap": None}, headers=GROUP_ADMIN)
    assert response.status_code == 200
    assert response.json()["min_age_gap"] is None
    stored = client.get(f"/subsidiaries/{SUB_A}/programme", headers=GROUP_ADMIN).json()
    assert "min_age_gap" in stored and stored["min_age_gap"] is None
    # Leaving it out is not the same as null: the default rule (1 year) comes back.
    assert client.put(f"/subsidiaries/{SUB_A}/programme", json={}, headers=GROUP_ADMIN).json()["min_age_gap"] == 1


def test_mini_sessions_of_ten_are_the_largest_allowed(client):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    assert client.put(f"/subsidiaries/{SUB_A}/programme", json={"mini_session_max": 10}, headers=GROUP_ADMIN).status_code == 200
    assert client.put(f"/subsidiaries/{SUB_A}/programme", json={"mini_session_max": 11}, headers=GROUP_ADMIN).status_code == 422


def test_programme_themes_are_tidied_and_then_govern_enrolment(client):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    response = client.put(
        f"/subsidiaries/{SUB_A}/programme", json={"themes": ["  Cyber   security ", "AI tools"]}, headers=GROUP_ADMIN
    )
    assert response.json()["themes"] == ["Cyber security", "AI tools"]

    enrolled = client.post(
        f"/subsidiaries/{SUB_A}/participants", json=participant("a@axa.fr", themes=["ai TOOLS", "cyber security"]), headers=GROUP_ADMIN
    )
    assert enrolled.status_code == 201, enrolled.text
    shown = client.get(f"/subsidiaries/{SUB_A}/participants/{enrolled.json()['id']}", headers=GROUP_ADMIN).json()
    assert shown["themes"] == ["AI tools", "Cyber security"]  # the programme's spelling, the participant's ranking

    # A theme of the original programme is no longer offered.
    refused = client.post(f"/subsidiaries/{SUB_A}/participants", json=participant("b@axa.fr", themes=["networking"]), headers=GROUP_ADMIN)
    assert refused.status_code == 422


def test_configuring_the_programme_of_a_subsidiary_never_onboarded_answers_404(client, events):
    with events.nothing_recorded():
        response = client.put(f"/subsidiaries/{NOWHERE}/programme", json={}, headers=GROUP_ADMIN)
    assert response.status_code == 404
    assert client.get(f"/subsidiaries/{NOWHERE}", headers=GROUP_ADMIN).status_code == 404
    assert client.get(f"/subsidiaries/{NOWHERE}/programme", headers=GROUP_ADMIN).status_code == 404


def test_subsidiaries_and_their_programme_survive_a_restart(start_service):
    first = start_service()
    first.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    first.put(f"/subsidiaries/{SUB_A}/programme", json={"min_age_gap": None}, headers=GROUP_ADMIN)
    before = first.get("/subsidiaries", headers=GROUP_ADMIN).json()

    second = start_service()  # a new process on the same store: its read model is rebuilt from the events
    assert second.get("/subsidiaries", headers=GROUP_ADMIN).json() == before
    assert before[0]["programme"]["min_age_gap"] is None


def onboarding_problems(client, events, **body) -> dict[str, dict]:
    """Onboards with the given fields wrong; returns each problem by its field, once nothing was recorded."""
    with events.nothing_recorded():
        response = client.post("/subsidiaries", json=subsidiary(SUB_A, **body), headers=GROUP_ADMIN)
    assert response.status_code == 422, response.text
    return {p["loc"][-1]: p for p in response.json()["detail"]}


def test_an_id_that_is_not_a_slug_is_refused_with_the_slug_it_could_be(client, events):
    problems = onboarding_problems(client, events, id="AXA Belgium!")
    assert (problems["id"]["type"], problems["id"]["ctx"]) == ("invalid_subsidiary_id", {"suggestion": "axa-belgium"})
    assert "axa-belgium" in problems["id"]["msg"] and "Value error" not in problems["id"]["msg"]
    # Nothing to make a slug of: the code without a suggestion.
    assert onboarding_problems(client, events, id="!!")["id"]["ctx"] == {"suggestion": None}


def test_a_mistyped_time_zone_is_refused_with_the_nearest_one(client, events):
    for typed, nearest in [("Europe/Pari", "Europe/Paris"), ("europe/paris", "Europe/Paris"), ("Paris", "Europe/Paris"), ("New York", "America/New_York")]:
        problem = onboarding_problems(client, events, timezone=typed)["timezone"]
        assert (problem["type"], problem["ctx"]) == ("unknown_timezone", {"timezone": typed, "suggestion": nearest})
        assert not problem["msg"].startswith("Value error")
    assert onboarding_problems(client, events, timezone="Mars/Olympus")["timezone"]["ctx"]["suggestion"] is None


def test_a_locale_must_be_a_known_language_and_country(client, events):
    for typed, suggestion in [("fr_fr", "fr-FR"), ("FR", "fr"), ("xx-FR", None), ("fr-XX", None)]:
        problem = onboarding_problems(client, events, locale=typed)["locale"]
        assert (problem["type"], problem["ctx"]) == ("unknown_locale", {"locale": typed, "suggestion": suggestion})
    assert client.post("/subsidiaries", json=subsidiary(SUB_A, locale="nl-BE"), headers=GROUP_ADMIN).status_code == 201


def test_every_onboarding_problem_is_listed_at_once(client, events):
    problems = onboarding_problems(client, events, id="AXA Belgium!", timezone="Europe/Pari", locale="fr_fr")
    assert {field: p["type"] for field, p in problems.items()} == {
        "id": "invalid_subsidiary_id",
        "timezone": "unknown_timezone",
        "locale": "unknown_locale",
    }


def test_programme_theme_rules_have_codes(client, events):
    client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN)
    with events.nothing_recorded():
        repeated = client.put(f"/subsidiaries/{SUB_A}/programme", json={"themes": ["AI tools", "ai  TOOLS", "Data"]}, headers=GROUP_ADMIN)
    assert repeated.status_code == 422
    [problem] = repeated.json()["detail"]
    assert (problem["loc"], problem["type"], problem["ctx"]) == (["body", "themes"], "duplicate_programme_theme", {"themes": ["ai TOOLS"]})


def test_the_openapi_says_a_mini_session_counts_its_mentees_not_the_mentor(client):
    """The lead's decision: `mini_session_max` mentees, besides the mentor."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("ProgrammeIn", "ProgrammeSettings"):
        description = schemas[name]["properties"]["mini_session_max"]["description"]
        assert "mentees" in description and "mentor not included" in description, (name, description)
