"""Mentors and mentees one by one: enrolment, listing, certification, profile, withdrawal."""

import uuid
from datetime import datetime

import pytest

from apitools import ADMIN_A, AUDITOR_A, GROUP_ADMIN, SUB_A, SUB_B, participant, subsidiary
from services.common.context import acting

PARTICIPANT_FIELDS = {
    "id", "subsidiary_id", "role", "status", "name", "email", "birth_year", "manager_email", "department", "site",
    "languages", "themes", "availability", "enrolled_at", "certified_at", "withdrawn_at", "withdrawal_reason", "personal_data_erased", "version",
}


@pytest.fixture
def onboarded(client):
    for slug in (SUB_A, SUB_B):
        assert client.post("/subsidiaries", json=subsidiary(slug), headers=GROUP_ADMIN).status_code == 201


def url(pid: str = "", action: str = "", slug: str = SUB_A) -> str:
    return "/".join(part for part in (f"/subsidiaries/{slug}/participants", pid, action) if part)


def test_enrolment_answers_201_with_the_new_id_only(client, events, onboarded):
    body = participant(
        "zoe.leroy@axa.fr", "mentor", manager_email="boss@axa.fr", availability=["mon-am", "thu-pm"], themes=["online learning"]
    )
    with events.recorded(2):  # the participant and the claim on its email, in one transaction
        response = client.post(url(), json=body, headers=ADMIN_A)
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"id"}
    pid = response.json()["id"]
    assert uuid.UUID(pid)

    shown = client.get(url(pid), headers=AUDITOR_A)
    assert shown.status_code == 200
    p = shown.json()
    assert set(p) == PARTICIPANT_FIELDS
    assert p["id"] == pid and p["subsidiary_id"] == SUB_A
    assert p["role"] == "mentor" and p["status"] == "enrolled"
    assert (p["name"], p["email"], p["birth_year"], p["manager_email"]) == ("Jeanne Martin", "zoe.leroy@axa.fr", 1998, "boss@axa.fr")
    assert (p["department"], p["site"]) == ("Finance", "Paris")
    assert p["languages"] == ["fr", "en"] and p["themes"] == ["online learning"]
    assert p["availability"] == ["mon-am", "thu-pm"]
    assert datetime.fromisoformat(p["enrolled_at"]).tzinfo is not None
    assert p["certified_at"] is None and p["withdrawn_at"] is None and p["withdrawal_reason"] is None
    assert p["version"] == 1


def test_optional_fields_may_be_left_out(client, onboarded):
    pid = client.post(url(), json=participant("a@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    p = client.get(url(pid), headers=GROUP_ADMIN).json()
    assert p["manager_email"] is None and p["availability"] == []


def test_themes_match_the_programme_whatever_the_case_and_keep_their_rank(client, onboarded):
    body = participant("a@axa.fr", themes=["ONLINE Learning", "  information   SEARCH ", "Networking"])
    pid = client.post(url(), json=body, headers=GROUP_ADMIN).json()["id"]
    assert client.get(url(pid), headers=GROUP_ADMIN).json()["themes"] == ["online learning", "information search", "networking"]


def test_names_are_trimmed_and_repeated_languages_kept_once(client, onboarded):
    pid = client.post(url(), json=participant("a@axa.fr", name="  Jeanne Martin ", languages=["fr", "en", "fr"]), headers=GROUP_ADMIN).json()["id"]
    p = client.get(url(pid), headers=GROUP_ADMIN).json()
    assert p["name"] == "Jeanne Martin" and p["languages"] == ["fr", "en"]


def test_an_email_already_enrolled_in_the_subsidiary_answers_409_whatever_its_case(client, events, onboarded):
    client.post(url(), json=participant("jeanne@axa.fr"), headers=GROUP_ADMIN)
    for email in ("jeanne@axa.fr", "Jeanne@AXA.fr"):
        with events.nothing_recorded():
            response = client.post(url(), json=participant(email, "mentor"), headers=GROUP_ADMIN)
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert (detail["type"], detail["ctx"]) == ("already_enrolled", {"subsidiary_id": SUB_A})
        assert "already enrolled" in detail["msg"] and "jeanne" not in str(detail).lower()  # no email in an answer
    assert client.get(url(), headers=GROUP_ADMIN).headers["X-Total-Count"] == "1"


def test_the_same_email_may_take_part_in_two_subsidiaries(client, onboarded):
    assert client.post(url(), json=participant("jeanne@axa.com"), headers=GROUP_ADMIN).status_code == 201
    assert client.post(url(slug=SUB_B), json=participant("jeanne@axa.com"), headers=GROUP_ADMIN).status_code == 201


def test_enrolling_in_a_subsidiary_never_onboarded_answers_404(client, events):
    with events.nothing_recorded():
        response = client.post(url(slug="axa-zz"), json=participant("a@axa.fr"), headers=GROUP_ADMIN)
    assert response.status_code == 404


# -- listing ----------------------------------------------------------------------------


@pytest.fixture
def crowd(client, onboarded):
    """In A: two mentors (one certified), three mentees (one withdrawn); in B: one mentee."""
    ids = {}
    for name, role in [("m1", "mentor"), ("m2", "mentor"), ("e1", "mentee"), ("e2", "mentee"), ("e3", "mentee")]:
        ids[name] = client.post(url(), json=participant(f"{name}@axa.fr", role), headers=GROUP_ADMIN).json()["id"]
    client.post(url(slug=SUB_B), json=participant("b1@axa.be"), headers=GROUP_ADMIN)
    assert client.post(url(ids["m1"], "certify"), headers=GROUP_ADMIN).status_code == 200
    assert client.post(url(ids["e3"], "withdraw"), json={"reason": "moved"}, headers=GROUP_ADMIN).status_code == 200
    return ids


def test_the_list_has_the_subsidiarys_participants_in_enrolment_order_with_x_total_count(client, crowd):
    response = client.get(url(), headers=AUDITOR_A)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    listed = response.json()
    assert [p["id"] for p in listed] == list(crowd.values())
    assert all(set(p) == PARTICIPANT_FIELDS and p["subsidiary_id"] == SUB_A for p in listed)
    assert listed[0] == client.get(url(crowd["m1"]), headers=AUDITOR_A).json()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"role": "mentor"}, ["m1", "m2"]),
        ({"role": "mentee"}, ["e1", "e2", "e3"]),
        ({"status": "certified"}, ["m1"]),
        ({"status": "enrolled"}, ["m2", "e1", "e2"]),
        ({"status": "withdrawn"}, ["e3"]),
        ({"role": "mentee", "status": "enrolled"}, ["e1", "e2"]),
        ({"role": "mentee", "status": "certified"}, []),
    ],
)
def test_the_list_is_filtered_by_role_and_status_and_counted_after_filtering(client, crowd, query, expected):
    response = client.get(url(), params=query, headers=GROUP_ADMIN)
    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [crowd[name] for name in expected]
    assert response.headers["X-Total-Count"] == str(len(expected))


def test_the_list_is_paged_with_limit_and_offset_and_the_total_counts_every_match(client, crowd):
    response = client.get(url(), params={"limit": 2, "offset": 1}, headers=GROUP_ADMIN)
    assert [p["id"] for p in response.json()] == [crowd["m2"], crowd["e1"]]
    assert response.headers["X-Total-Count"] == "5"
    past_the_end = client.get(url(), params={"offset": 10}, headers=GROUP_ADMIN)
    assert past_the_end.json() == [] and past_the_end.headers["X-Total-Count"] == "5"


def test_the_list_of_a_subsidiary_without_participants_is_empty(client, onboarded):
    client.post("/subsidiaries", json=subsidiary("axa-de"), headers=GROUP_ADMIN)
    response = client.get(url(slug="axa-de"), headers=GROUP_ADMIN)
    assert response.status_code == 200 and response.json() == [] and response.headers["X-Total-Count"] == "0"


def test_the_list_of_a_subsidiary_never_onboarded_answers_404(client):
    assert client.get(url(slug="axa-zz"), headers=GROUP_ADMIN).status_code == 404


def test_an_unknown_participant_answers_404(client, onboarded):
    response = client.get(url(str(uuid.uuid4())), headers=GROUP_ADMIN)
    assert response.status_code == 404 and "not found" in response.json()["detail"]


def test_a_participant_of_another_subsidiary_is_not_found_through_this_one(client, onboarded):
    pid = client.post(url(slug=SUB_B), json=participant("b@axa.be"), headers=GROUP_ADMIN).json()["id"]
    assert client.get(url(pid, slug=SUB_B), headers=GROUP_ADMIN).status_code == 200
    assert client.get(url(pid), headers=GROUP_ADMIN).status_code == 404
    assert client.post(url(pid, "certify"), headers=GROUP_ADMIN).status_code == 404
    assert client.patch(url(pid), json={"site": "Lyon"}, headers=GROUP_ADMIN).status_code == 404
    assert client.post(url(pid, "withdraw"), json={"reason": "x"}, headers=GROUP_ADMIN).status_code == 404


# -- certification ----------------------------------------------------------------------


def test_certifying_a_mentor_records_one_event_and_a_second_time_changes_nothing(client, events, onboarded):
    pid = client.post(url(), json=participant("m@axa.fr", "mentor"), headers=GROUP_ADMIN).json()["id"]
    with events.recorded(1):
        first = client.post(url(pid, "certify"), headers=ADMIN_A)
    assert first.status_code == 200
    assert first.json()["status"] == "certified" and first.json()["certified_at"] is not None
    assert first.json()["version"] == 2

    with events.nothing_recorded():
        second = client.post(url(pid, "certify"), headers=ADMIN_A)
    assert second.status_code == 200
    assert second.json() == first.json()  # same certification date, same version


def test_certifying_a_mentee_answers_409_and_records_nothing(client, events, onboarded):
    pid = client.post(url(), json=participant("e@axa.fr", "mentee"), headers=GROUP_ADMIN).json()["id"]
    with events.nothing_recorded():
        response = client.post(url(pid, "certify"), headers=GROUP_ADMIN)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert (detail["type"], detail["ctx"]) == ("not_a_mentor", {"role": "mentee"}) and "mentee" in detail["msg"]
    assert client.get(url(pid), headers=GROUP_ADMIN).json()["status"] == "enrolled"


def test_certifying_a_withdrawn_mentor_answers_409(client, events, onboarded):
    pid = client.post(url(), json=participant("m@axa.fr", "mentor"), headers=GROUP_ADMIN).json()["id"]
    client.post(url(pid, "withdraw"), json={"reason": "left"}, headers=GROUP_ADMIN)
    with events.nothing_recorded():
        response = client.post(url(pid, "certify"), headers=GROUP_ADMIN)
    assert response.status_code == 409 and response.json()["detail"]["type"] == "participant_withdrawn"


def test_certifying_an_unknown_participant_answers_404(client, events, onboarded):
    with events.nothing_recorded():
        assert client.post(url(str(uuid.uuid4()), "certify"), headers=GROUP_ADMIN).status_code == 404


# -- profile updates --------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(client, events, onboarded):
    pid = client.post(url(), json=participant("e@axa.fr", manager_email="boss@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    before = client.get(url(pid), headers=GROUP_ADMIN).json()
    with events.recorded(1):
        response = client.patch(
            url(pid),
            json={"site": "Lyon", "themes": ["Online LEARNING"], "availability": ["fri-pm"], "manager_email": None},
            headers=ADMIN_A,
        )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after == client.get(url(pid), headers=GROUP_ADMIN).json()
    assert (after["site"], after["themes"], after["availability"], after["manager_email"]) == ("Lyon", ["online learning"], ["fri-pm"], None)
    unchanged = {k: v for k, v in before.items() if k not in {"site", "themes", "availability", "manager_email", "version"}}
    assert {k: after[k] for k in unchanged} == unchanged
    assert after["version"] == before["version"] + 1


def test_a_patch_that_changes_nothing_records_nothing(client, events, onboarded):
    pid = client.post(url(), json=participant("e@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    before = client.get(url(pid), headers=GROUP_ADMIN).json()
    with events.nothing_recorded():
        assert client.patch(url(pid), json={"site": "Paris"}, headers=GROUP_ADMIN).json() == before
        assert client.patch(url(pid), json={}, headers=GROUP_ADMIN).json() == before


def test_changing_the_email_frees_the_old_one_and_claims_the_new_one(client, events, onboarded):
    pid = client.post(url(), json=participant("old@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    with events.recorded(3):  # the profile, the new email's claim, the old one's release
        response = client.patch(url(pid), json={"email": "new@axa.fr"}, headers=GROUP_ADMIN)
    assert response.status_code == 200 and response.json()["email"] == "new@axa.fr"

    # The new email is taken...
    assert client.post(url(), json=participant("NEW@axa.fr"), headers=GROUP_ADMIN).status_code == 409
    # ...and the old one is free for someone else.
    assert client.post(url(), json=participant("old@axa.fr", "mentor"), headers=GROUP_ADMIN).status_code == 201


def test_an_email_given_up_by_a_change_can_be_taken_back(client, onboarded):
    pid = client.post(url(), json=participant("first@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    assert client.patch(url(pid), json={"email": "second@axa.fr"}, headers=GROUP_ADMIN).status_code == 200
    back = client.patch(url(pid), json={"email": "first@axa.fr"}, headers=GROUP_ADMIN)
    assert back.status_code == 200 and back.json()["email"] == "first@axa.fr"
    assert client.post(url(), json=participant("first@axa.fr"), headers=GROUP_ADMIN).status_code == 409
    assert client.post(url(), json=participant("second@axa.fr"), headers=GROUP_ADMIN).status_code == 201


def test_changing_only_the_case_of_the_email_keeps_its_claim(client, onboarded):
    pid = client.post(url(), json=participant("jeanne@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    response = client.patch(url(pid), json={"email": "Jeanne@axa.fr"}, headers=GROUP_ADMIN)
    assert response.status_code == 200 and response.json()["email"] == "Jeanne@axa.fr"
    assert client.post(url(), json=participant("jeanne@axa.fr"), headers=GROUP_ADMIN).status_code == 409


def test_changing_the_email_to_one_already_enrolled_answers_409_and_records_nothing(client, events, onboarded):
    client.post(url(), json=participant("taken@axa.fr"), headers=GROUP_ADMIN)
    pid = client.post(url(), json=participant("mine@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    with events.nothing_recorded():
        response = client.patch(url(pid), json={"email": "taken@axa.fr", "site": "Lyon"}, headers=GROUP_ADMIN)
    assert response.status_code == 409 and response.json()["detail"]["type"] == "already_enrolled"
    assert client.get(url(pid), headers=GROUP_ADMIN).json()["site"] == "Paris"
    # mine@ is still held by this participant.
    assert client.post(url(), json=participant("mine@axa.fr"), headers=GROUP_ADMIN).status_code == 409


def test_patching_a_withdrawn_participant_answers_409_and_records_nothing(client, events, onboarded):
    pid = client.post(url(), json=participant("e@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    client.post(url(pid, "withdraw"), json={"reason": "left the company"}, headers=GROUP_ADMIN)
    for change in ({"site": "Lyon"}, {"email": "fresh@axa.fr"}):
        with events.nothing_recorded():
            response = client.patch(url(pid), json=change, headers=GROUP_ADMIN)
        assert response.status_code == 409, response.text
        assert response.json()["detail"]["type"] == "participant_withdrawn" and "withdrawn" in response.json()["detail"]["msg"]
    # The email it tried to take is still free.
    assert client.post(url(), json=participant("fresh@axa.fr"), headers=GROUP_ADMIN).status_code == 201


# -- withdrawal -------------------------------------------------------------------------


def test_withdrawal_records_the_reason_and_frees_the_email_for_a_new_enrolment(client, events, onboarded):
    pid = client.post(url(), json=participant("jeanne@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    with events.recorded(2):  # the withdrawal and the release of the email
        response = client.post(url(pid, "withdraw"), json={"reason": "left the company"}, headers=ADMIN_A)
    assert response.status_code == 200, response.text
    w = response.json()
    assert w["status"] == "withdrawn" and w["withdrawal_reason"] == "left the company"
    assert w["withdrawn_at"] is not None and w["version"] == 2

    again = client.post(url(), json=participant("Jeanne@axa.fr", "mentor"), headers=GROUP_ADMIN)
    assert again.status_code == 201, again.text
    assert again.json()["id"] != pid
    # Both are listed: one withdrawn, one enrolled.
    statuses = {p["id"]: p["status"] for p in client.get(url(), headers=GROUP_ADMIN).json()}
    assert statuses == {pid: "withdrawn", again.json()["id"]: "enrolled"}
    # And the email is held again.
    assert client.post(url(), json=participant("jeanne@axa.fr"), headers=GROUP_ADMIN).status_code == 409


def test_withdrawing_twice_answers_409_and_records_nothing(client, events, onboarded):
    pid = client.post(url(), json=participant("e@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    client.post(url(pid, "withdraw"), json={"reason": "first"}, headers=GROUP_ADMIN)
    with events.nothing_recorded():
        response = client.post(url(pid, "withdraw"), json={"reason": "second"}, headers=GROUP_ADMIN)
    assert response.status_code == 409 and response.json()["detail"]["type"] == "already_withdrawn"
    assert client.get(url(pid), headers=GROUP_ADMIN).json()["withdrawal_reason"] == "first"


def test_a_certified_mentor_can_withdraw(client, onboarded):
    pid = client.post(url(), json=participant("m@axa.fr", "mentor"), headers=GROUP_ADMIN).json()["id"]
    client.post(url(pid, "certify"), headers=GROUP_ADMIN)
    response = client.post(url(pid, "withdraw"), json={"reason": "too busy"}, headers=GROUP_ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert response.json()["certified_at"] is not None


# -- health and request ids -------------------------------------------------------------


def test_healthz_needs_no_token_and_reports_the_store_and_the_disabled_relay(client, events, onboarded):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "enrolment",
        "event_store": {"ok": True, "last_position": events.head()},
        "personal_data": {"unopenable": 0, "by_field": {}, "last": []},
        "relay": {"ok": True, "enabled": False},
        "checkpoints": {"ok": True, "enabled": False},
    }


def test_every_answer_carries_a_request_id_and_echoes_a_given_correlation_id(client, onboarded):
    response = client.get(url(), headers={**GROUP_ADMIN, "X-Correlation-ID": "batch-42"})
    assert response.headers["X-Correlation-ID"] == "batch-42"
    assert response.headers["X-Request-ID"]
    assert client.get("/subsidiaries", headers={"X-Request-ID": "req-7"}).headers["X-Request-ID"] == "req-7"  # even a 401


def test_the_events_a_request_records_carry_its_subsidiary_actor_correlation_and_request(app, client):
    """Onboarding names its subsidiary in the body, enrolling in the path: both are stored."""
    ids = {"X-Correlation-ID": "onboarding-42", "X-Request-ID": "req-onboard"}
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers={**GROUP_ADMIN, **ids}).status_code == 201
    ids = {"X-Correlation-ID": "onboarding-42", "X-Request-ID": "req-enrol"}
    pid = client.post(url(), json=participant("zoe@axa.fr"), headers={**ADMIN_A, **ids}).json()["id"]
    store = app.state.application
    rows = store.recorder.select_notifications(start=1, limit=100)
    contexts = [store.mapper.to_domain_event(row).context for row in rows if ":EmailClaim." not in row.topic]
    onboarded = {"actor": {"subject": "tester-group-admin", "role": "group-admin"}, "correlation_id": "onboarding-42", "causation_id": "req-onboard", "subsidiary_id": SUB_A}
    enrolled = {"actor": {"subject": "tester-subsidiary-admin", "role": "subsidiary-admin"}, "correlation_id": "onboarding-42", "causation_id": "req-enrol", "subsidiary_id": SUB_A}
    assert contexts == [onboarded, onboarded, enrolled]  # Onboarded, ProgrammeConfigured, Enrolled
    assert [e.context for e in store.repository.event_store.get(uuid.UUID(pid))] == [enrolled]


# -- languages: ISO 639-1 --------------------------------------------------------------


def test_languages_must_be_iso_639_1_and_every_unknown_code_is_listed(client, events, onboarded):
    """Someone who speaks only "xx" could never be matched: refused, with every unknown code."""
    with events.nothing_recorded():
        response = client.post(url(), json=participant("a@axa.fr", languages=["fr", "xx", "qq"]), headers=GROUP_ADMIN)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", "languages"], "unknown_language")
    assert problem["ctx"] == {"codes": ["xx", "qq"], "suggestion": None}
    assert "'xx'" in problem["msg"] and "'qq'" in problem["msg"]


def test_a_language_named_or_given_its_three_letter_code_is_refused_with_its_iso_639_1_code(client, events, onboarded):
    with events.nothing_recorded():
        response = client.post(url(), json=participant("a@axa.fr", languages=["fr", "English", "deu"]), headers=GROUP_ADMIN)
    [problem] = response.json()["detail"]
    assert problem["ctx"] == {"codes": ["english", "deu"], "suggestion": ["fr", "en", "de"]}


def test_language_codes_are_read_without_regard_to_case(client, onboarded):
    pid = client.post(url(), json=participant("a@axa.fr", languages=["FR", " En "]), headers=GROUP_ADMIN).json()["id"]
    assert client.get(url(pid), headers=GROUP_ADMIN).json()["languages"] == ["fr", "en"]


def test_a_profile_update_checks_the_languages_too(client, events, onboarded):
    pid = client.post(url(), json=participant("a@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    with events.nothing_recorded():
        response = client.patch(url(pid), json={"languages": ["es", "xx"]}, headers=GROUP_ADMIN)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["type"], problem["ctx"]["codes"]) == ("unknown_language", ["xx"])
    assert client.get(url(pid), headers=GROUP_ADMIN).json()["languages"] == ["fr", "en"]


def test_a_participant_stored_with_a_code_now_refused_still_loads(app, client, onboarded):
    """The rule is on input: an event recorded before it (here straight through the
    application) still loads, and the participant is shown as recorded."""
    profile = {**participant("old@axa.fr"), "languages": ["xx"]}
    personal = {k: profile.pop(k) for k in ("name", "email", "birth_year")}
    profile = {**profile, "availability": [], "personal_data": {**personal, "manager_email": None}}
    with acting(actor="test", subsidiary_id=SUB_A):
        [pid] = app.state.application.enrol(SUB_A, [profile])
    shown = client.get(url(str(pid)), headers=GROUP_ADMIN)
    assert shown.status_code == 200 and shown.json()["languages"] == ["xx"]
    # Its other fields can still change without touching the languages.
    assert client.patch(url(str(pid)), json={"site": "Lyon"}, headers=GROUP_ADMIN).status_code == 200


# -- the other rules' codes ---------------------------------------------------------------


def test_enrolment_problems_have_codes_and_parameters(client, events, onboarded):
    body = participant("a@axa.fr", birth_year=2030, themes=["knitting", "networking", "NETWORKING"])
    with events.nothing_recorded():
        response = client.post(url(), json=body, headers=GROUP_ADMIN)
    assert response.status_code == 422
    problems = {(tuple(p["loc"]), p["type"]): p["ctx"] for p in response.json()["detail"]}
    assert problems[(("body", "birth_year"), "too_young")]["min_age"] == 14
    themes = problems[(("body", "themes", 0), "unknown_theme")]
    assert themes["theme"] == "knitting" and "networking" in themes["themes"]
    assert problems[(("body", "themes", 2), "duplicate_theme")] == {"theme": "networking"}
    assert all("Value error" not in p["msg"] for p in response.json()["detail"])


def test_a_null_in_a_profile_update_has_a_code(client, onboarded):
    pid = client.post(url(), json=participant("a@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    [problem] = client.patch(url(pid), json={"site": None}, headers=GROUP_ADMIN).json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", "site"], "null_not_allowed")
