"""The enrolment pages in a real browser, in front of `tandem up`: what an HR admin reads when
a form is wrong (in their language, next to the field, with the fix), what the programme says
a mini-session is, and a participant's page leading to their matches, relationships and
sessions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from artifacts import screenshot
from launcher import TandemUp
from test_console import HEADER, IN_FRENCH, reload_until, sign_in, token

pytestmark = [pytest.mark.sqlite, pytest.mark.timeout(300)]


def api(up: TandemUp, service: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token(up, '--role', 'group-admin')}"}
    return httpx.Client(base_url=up.urls[service], headers=headers, timeout=60)


def onboard_form(page: Page, identifier: str, name: str, timezone: str, locale: str, button: str = "Onboard") -> None:
    page.locator("#id").fill(identifier)
    page.locator("#name").fill(name)
    page.locator("#timezone").fill(timezone)
    page.locator("#locale").fill(locale)
    page.get_by_role("button", name=button).click()


def test_onboarding_errors_say_what_to_type_next_to_the_field_with_the_fix(platform: TandemUp, page: Page):
    up = platform
    sign_in(page, up, token(up, "--role", "group-admin"))
    onboard_form(page, "AXA Belgium!", "AXA Belgium", "Europe/Pari", "fr_be")

    summary = page.locator(".error-summary")
    # The form's own labels, what to type, and the fix: no API field names, no pydantic wording.
    expect(summary).to_contain_text("Identifier: Type lower-case letters, digits and dashes only")
    expect(summary).to_contain_text("Time zone: This is not an IANA time zone: type Europe/Paris")
    expect(summary).to_contain_text("Locale: This is not a known locale: type fr-BE")
    for wording in ("String should match", "Value error", "timezone", "^[a-z0-9]"):
        expect(summary).not_to_contain_text(wording)
    expect(page.locator("#id-errors")).to_contain_text("e.g. axa-belgium.")  # the slug of the name
    expect(page.locator("#timezone-errors")).to_contain_text("Europe/Paris")
    expect(page.locator("#id")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name")).to_have_value("AXA Belgium")  # what was typed stays
    screenshot(page, "enrolment-onboard-errors")

    # The fixes as suggested: onboarded.
    onboard_form(page, "axa-belgium", "AXA Belgium", "Europe/Paris", "fr-BE")
    expect(page.get_by_role("status")).to_contain_text("The subsidiary is onboarded")

    # The same identifier again: the refusal is next to the identifier.
    page.goto(up.urls["console"] + "/subsidiaries")
    onboard_form(page, "axa-belgium", "AXA Belgium bis", "Europe/Brussels", "nl-BE")
    expect(page.locator("#id-errors")).to_have_text("A subsidiary with the identifier axa-belgium is already onboarded: choose another identifier.")
    expect(page.locator(".error-summary")).to_contain_text("Identifier:")


def test_the_onboarding_errors_in_french(platform: TandemUp, chromium_browser: Browser):
    up = platform
    context = chromium_browser.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        sign_in(page, up, token(up, "--role", "group-admin"), *IN_FRENCH)
        onboard_form(page, "AXA Belgium!", "AXA Belgium", "Mars/Olympus", "fr-FR", button="Intégrer")
        summary = page.locator(".error-summary")
        expect(summary).to_contain_text("Identifiant\u202f: Saisissez uniquement des minuscules")
        expect(summary).to_contain_text("Fuseau horaire\u202f: Saisissez un fuseau horaire par son nom IANA")
        expect(page.locator("#id-errors")).to_contain_text("axa-belgium")
        screenshot(page, "enrolment-onboard-errors-fr")
    finally:
        context.close()


def test_the_programme_says_a_mini_session_counts_its_mentees_not_the_mentor(platform: TandemUp, page: Page):
    up = platform
    with api(up, "enrolment") as enrolment:
        enrolment.post("/subsidiaries", json={"id": "programme-words", "name": "Programme Words", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
    sign_in(page, up, token(up, "--role", "group-admin"))
    page.goto(up.urls["console"] + "/subsidiaries/programme-words/programme")
    expect(page.locator("#mini_session_max-hint")).to_have_text("Mentees in a mini-session, the mentor not included (at most 10)")
    expect(page.get_by_text("mentor included")).to_have_count(0)
    # A wrong number is named by the form's label.
    page.get_by_label("Largest mini-session").fill("11")
    page.get_by_label("Largest mini-session").evaluate("field => field.removeAttribute('max')")  # past the browser's own check
    page.get_by_role("button", name="Save the programme").click()
    expect(page.locator(".error-summary")).to_contain_text("Largest mini-session: Type a number of at most 10.")


def test_enrolling_with_unknown_languages_lists_each_and_a_taken_email_is_at_its_field(platform: TandemUp, page: Page):
    up = platform
    with api(up, "enrolment") as enrolment:
        enrolment.post("/subsidiaries", json={"id": "langues", "name": "Langues", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
        enrolment.post(
            "/subsidiaries/langues/participants/import",
            content=f"{HEADER}\nmentee,Anne Dubois,anne@langues.example,1968,Finance,Lyon,fr,networking,mon-am\n",
            headers={"Content-Type": "text/csv"},
        ).raise_for_status()
    sign_in(page, up, token(up, "--role", "group-admin"))
    page.goto(up.urls["console"] + "/subsidiaries/langues/participants/new")
    page.get_by_label("Full name").fill("Paul Durand")
    page.get_by_label("Email", exact=True).fill("anne@langues.example")
    page.get_by_label("Year of birth").fill("1965")
    page.get_by_label("Department").fill("Legal")
    page.get_by_label("Site").fill("Lyon")
    page.get_by_label("Languages").fill("fr, xx, qq")
    page.get_by_label("Choice 1").select_option("networking")
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator("#languages-errors")).to_have_text("Unknown language codes: xx, qq. Type two-letter ISO 639-1 codes, e.g. fr, en.")
    expect(page.locator(".error-summary")).to_contain_text("Languages: Unknown language codes: xx, qq.")
    expect(page.get_by_label("Languages")).to_have_value("fr, xx, qq")

    page.get_by_label("Languages").fill("fr, English")  # a language's name: its code is suggested
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator("#languages-errors")).to_contain_text("Type two-letter ISO 639-1 codes: fr, en.")

    page.get_by_label("Languages").fill("fr, en")
    page.get_by_role("button", name="Enrol").click()  # the email is Anne's
    expect(page.locator("#email-errors")).to_have_text("This email is already enrolled in the subsidiary: a participant enrols once.")
    expect(page.locator(".error-summary")).to_contain_text("Email: This email is already enrolled")
    screenshot(page, "enrolment-enrol-errors")


def test_an_import_row_error_is_said_in_the_page_language(platform: TandemUp, chromium_browser: Browser, tmp_path):
    up = platform
    with api(up, "enrolment") as enrolment:
        enrolment.post("/subsidiaries", json={"id": "import-fr", "name": "Import FR", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
    context = chromium_browser.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        sign_in(page, up, token(up, "--role", "group-admin"), *IN_FRENCH)
        page.goto(up.urls["console"] + "/subsidiaries/import-fr/participants/import")
        path = tmp_path / "people.csv"
        path.write_text(f"{HEADER}\nmentee,Anne Dubois,anne@import.example,1968,Finance,Lyon,fr;xx,networking,mon-am\n", encoding="utf-8")
        page.locator("#file").set_input_files(path)
        page.get_by_role("button", name="Importer").click()
        row = page.locator("#row-2")
        expect(row).to_contain_text("languages\u202f: Codes de langue inconnus\u202f: xx.")
        expect(row).not_to_contain_text("Anne")
        screenshot(page, "enrolment-import-error-fr")
    finally:
        context.close()


def test_a_participant_page_leads_to_their_matches_relationships_and_sessions(platform: TandemUp, page: Page):
    up = platform
    sid = "suivi"
    rows = [
        "mentor,Léa Martin,lea@suivi.example,2000,IT,Lyon,fr,networking,mon-am",
        "mentee,Anne Dubois,anne@suivi.example,1968,Finance,Lyon,fr,networking,mon-am",
    ]
    with api(up, "enrolment") as enrolment:
        enrolment.post("/subsidiaries", json={"id": sid, "name": "Suivi", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
        enrolment.post(f"/subsidiaries/{sid}/participants/import", content="\n".join([HEADER, *rows]) + "\n", headers={"Content-Type": "text/csv"}).raise_for_status()
        people = {p["name"]: p["id"] for p in enrolment.get(f"/subsidiaries/{sid}/participants").json()}
        enrolment.post(f"/subsidiaries/{sid}/participants/{people['Léa Martin']}/certify").raise_for_status()

    sign_in(page, up, token(up, "--role", "group-admin"))
    page.goto(up.urls["console"] + f"/subsidiaries/{sid}/participants/{people['Anne Dubois']}")
    # Nothing published yet: no match, no relationship (or the service has not heard of her
    # yet: either way the page says so; tests/unit/test_console_app.py has the second case).
    expect(page.locator("#matches")).to_contain_text(re.compile("No match yet|Matching has not heard of this participant yet"))
    expect(page.locator("#relationships")).to_contain_text(re.compile("No relationship yet|Sessions has not heard of this participant yet"))

    with api(up, "matching") as matching:
        deadline = datetime.now() + timedelta(seconds=30)
        while not ((pool := matching.get(f"/subsidiaries/{sid}/pool")).status_code == 200 and pool.json()["mentors"] and pool.json()["mentees"]):
            assert datetime.now() < deadline, "matching never had the certified mentor and the mentee"
            page.wait_for_timeout(300)
        run = matching.post(f"/subsidiaries/{sid}/matching-runs", json={"format": "pair"}).json()
        matching.post(f"/subsidiaries/{sid}/matching-runs/{run['id']}/publish").raise_for_status()

    page.reload()
    expect(page.locator("#matches")).to_contain_text("pair · networking")
    reload_until(page, lambda: page.locator("#relationships a").count() == 1, "her relationship")
    expect(page.locator("#sessions")).to_contain_text("No session yet.")

    with api(up, "sessions") as sessions:
        [relationship] = sessions.get(f"/subsidiaries/{sid}/relationships", params={"participant_id": people["Anne Dubois"]}).json()
        starts = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=7)).replace(hour=14, minute=0, second=0, microsecond=0)
        sessions.post(
            f"/subsidiaries/{sid}/sessions",
            json={"relationship_id": relationship["id"], "theme": "networking", "starts_at": starts.isoformat(), "location": "Salle Lumière"},
        ).raise_for_status()
    page.reload()
    expect(page.locator("#sessions a")).to_have_count(1)
    screenshot(page, "participant-followed")

    page.locator("#matches a").click()
    expect(page).to_have_url(re.compile(rf"/subsidiaries/{sid}/matching/matches/[0-9a-f-]{{36}}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Match")
    page.go_back()
    page.locator("#relationships a").click()
    expect(page).to_have_url(re.compile(rf"/subsidiaries/{sid}/relationships/{relationship['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Léa Martin")
    page.go_back()
    page.locator("#sessions a").click()
    expect(page).to_have_url(re.compile(rf"/subsidiaries/{sid}/sessions/[0-9a-f-]{{36}}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("networking")
