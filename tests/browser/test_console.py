"""The web console in a real browser (Debian's chromium through Playwright), in front of the
real services and broker started by `tandem up`: what an admin sees and does."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from artifacts import screenshot
from launcher import TandemUp

pytestmark = [pytest.mark.sqlite, pytest.mark.timeout(300)]

HEADER = "role,name,email,birth_year,department,site,languages,themes,availability"
MENTORS = [
    "mentor,Léa Martin,lea.martin@example.com,2000,IT,Lyon,fr;en,networking;information search,mon-am;tue-pm",
    "mentor,Hugo Bernard,hugo.bernard@example.com,1999,Marketing,Lyon,fr,online learning;networking,wed-am",
]
MENTEES = [
    "mentee,Anne Dubois,anne.dubois@example.com,1968,Finance,Lyon,fr,networking,mon-am",
    "mentee,Marc Petit,marc.petit@example.com,1965,Claims,Lyon,fr,online learning;information search,wed-am",
    "mentee,Claire Moreau,claire.moreau@example.com,1970,Legal,Lyon,fr;en,information search,tue-pm",
]


def token(up: TandemUp, *args: str) -> str:
    return up.run("token", *args).stdout.strip()


IN_FRENCH = ("Votre jeton", "Se connecter")  # the sign-in form's label and button on a French page


def sign_in(page: Page, up: TandemUp, bearer: str, label: str = "Your token", button: str = "Sign in") -> None:
    """Sign in from the sign-in page; a French browser's page says "Votre jeton", "Se connecter"."""
    page.goto(up.urls["console"] + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label(label).fill(bearer)
    page.get_by_role("button", name=button).click()


def reload_until(page: Page, check, what: str, seconds: float = 30.0) -> None:
    """The services learn of each other through Kafka: reload until the page shows it."""
    deadline = datetime.now() + timedelta(seconds=seconds)
    while not check():
        assert datetime.now() < deadline, f"never saw {what}"
        page.wait_for_timeout(300)
        page.reload()


def csv_file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_an_admin_runs_a_programme_from_onboarding_to_the_dashboard(platform: TandemUp, page: Page, tmp_path: Path):
    up = platform
    sign_in(page, up, token(up, "--role", "group-admin"))
    expect(page.get_by_role("heading", name="Subsidiaries", level=1)).to_be_visible()

    # Onboard a subsidiary: a mistake first (every problem listed, nothing recorded), then right.
    page.get_by_label("Identifier").fill("Lyon Branch")
    page.get_by_label("Name", exact=True).fill("Tandem Lyon")
    page.get_by_label("Time zone").fill("Europe/Lyon")
    page.get_by_label("Locale").fill("fr-FR")
    page.get_by_role("button", name="Onboard").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Identifier: Type lower-case letters, digits and dashes only")
    expect(summary).to_contain_text("Time zone: This is not an IANA time zone")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Tandem Lyon")  # what was typed stays
    screenshot(page, "subsidiaries-onboard-errors")
    page.get_by_label("Identifier").fill("tandem-lyon")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Onboard").click()
    expect(page.get_by_role("status")).to_contain_text("The subsidiary is onboarded")
    expect(page.get_by_role("heading", name="Programme settings")).to_be_visible()
    page.get_by_label("Sessions per relationship").fill("3")
    page.get_by_role("button", name="Save the programme").click()
    expect(page.get_by_role("status")).to_contain_text("The programme's settings are saved")
    expect(page.get_by_label("Sessions per relationship")).to_have_value("3")
    screenshot(page, "programme")

    # A CSV file with an error: nothing imported, the error shown next to its row.
    page.get_by_role("link", name="Participants").click()
    page.get_by_role("link", name="Import a CSV file").click()
    wrong = [*MENTORS, MENTEES[0].replace("networking", "knitting"), *MENTEES[1:]]
    page.get_by_label("CSV file (UTF-8)").set_input_files(csv_file(tmp_path, "wrong.csv", wrong))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Nothing was imported: 1 error in the file.")).to_be_visible()
    row = page.locator("#row-4")  # the header is row 1: Anne is on row 4
    expect(row).to_contain_text("themes")
    expect(row).not_to_contain_text("Anne Dubois")  # the console keeps no name once the import ended
    expect(row).to_contain_text("knitting")
    screenshot(page, "import-row-errors")
    page.get_by_role("link", name="Import a corrected file").click()
    page.get_by_label("CSV file (UTF-8)").set_input_files(csv_file(tmp_path, "right.csv", [*MENTORS, *MENTEES]))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("5 participants enrolled from the file.")).to_be_visible()
    page.get_by_role("link", name="See the participants").click()
    expect(page.get_by_role("table")).to_contain_text("Claire Moreau")
    expect(page.locator("caption")).to_have_text("5 participants")

    # Certify both mentors from the list.
    page.get_by_label("Select Léa Martin to certify").check()
    page.get_by_label("Select Hugo Bernard to certify").check()
    page.get_by_role("button", name="Certify the selected mentors").click()
    expect(page.get_by_role("status")).to_contain_text("certified")
    expect(page.locator("tr", has_text="Léa Martin")).to_contain_text("certified")
    screenshot(page, "participants")

    # Matching: once matching has the certified mentors, run, review, publish.
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Matching").click()
    reload_until(page, lambda: "2 certified mentors" in page.content() and "3 mentees" in page.content(), "the pool in matching")
    page.get_by_role("button", name="Start a matching run").click()
    expect(page.get_by_role("heading", name=re.compile("Matching run"))).to_be_visible()
    expect(page.get_by_role("heading", name="Proposals")).to_be_visible()  # the job page moved on to the draft by itself
    expect(page.locator(".proposal")).to_have_count(3)
    page.locator(".proposal").first.get_by_text("Why this proposal").click()
    expect(page.locator(".proposal").first).to_contain_text("The score, term by term")
    screenshot(page, "matching-run")
    page.get_by_role("button", name="Publish this run").click()
    expect(page.get_by_role("status")).to_contain_text("The matching run is published: 3 matches confirmed.")

    # The dashboard before any session.
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Dashboard").click()
    reload_until(page, lambda: page.locator("[data-figure=sessions-scheduled]").count() == 1, "the dashboard")
    expect(page.locator("[data-figure=sessions-scheduled]")).to_have_text("0")

    # Schedule a session for Anne's relationship, once sessions has opened it.
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Relationships").click()
    reload_until(page, lambda: page.get_by_role("cell", name="Anne Dubois").count() == 1, "Anne's relationship")
    page.locator("tr", has_text="Anne Dubois").get_by_role("link").first.click()
    starts = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=7)).replace(hour=14, minute=0, second=0, microsecond=0)
    page.get_by_label("Starts at (Europe/Paris)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Place", exact=True).fill("Salle Lumière")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("status")).to_contain_text("The session is scheduled.")
    expect(page.get_by_role("link", name="Download the invitation (.ics)")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the invitation (.ics)").click()
    assert "BEGIN:VCALENDAR" in Path(download.value.path()).read_text(encoding="utf-8")
    screenshot(page, "session")

    # The dashboard shows it.
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Dashboard").click()
    reload_until(page, lambda: page.locator("[data-figure=sessions-scheduled]").inner_text() == "1", "the session on the dashboard")
    expect(page.locator("figure", has_text="Relationships by status")).to_contain_text("active")
    screenshot(page, "dashboard")

    # The group's roll-up lists the subsidiary.
    page.get_by_role("link", name="Group dashboard").click()
    # mentors 2, mentees 3, all matched, 3 active relationships
    expect(page.get_by_role("row", name=re.compile(r"^Tandem Lyon 2 3 100% 3 "))).to_be_visible()
    screenshot(page, "group-dashboard")


def onboard(up: TandemUp, subsidiary: str, name: str, rows: list[str] | None = None) -> None:
    """A subsidiary (and its participants) made through the services' APIs, for the tests
    about what others see of it."""

    headers = {"Authorization": f"Bearer {token(up, '--role', 'group-admin')}"}
    with httpx.Client(base_url=up.urls["enrolment"], headers=headers, timeout=60) as api:
        api.post("/subsidiaries", json={"id": subsidiary, "name": name, "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
        if rows:
            body = "\n".join([HEADER, *rows]) + "\n"
            api.post(f"/subsidiaries/{subsidiary}/participants/import", content=body, headers={"Content-Type": "text/csv"}).raise_for_status()


def test_a_subsidiary_admin_sees_only_their_subsidiary_and_an_auditor_changes_nothing(platform: TandemUp, page: Page):
    up = platform
    onboard(up, "nantes", "Tandem Nantes", [m.replace("@example", "@nantes.example") for m in MENTORS])
    onboard(up, "lille", "Tandem Lille")

    sign_in(page, up, token(up, "--role", "subsidiary-admin", "--subsidiary", "nantes"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()  # straight to their subsidiary
    expect(page.locator(".subsidiary-name")).to_contain_text("Tandem Nantes")
    expect(page.get_by_role("link", name="Subsidiaries")).to_have_count(0)
    expect(page.get_by_role("link", name="Group dashboard")).to_have_count(0)
    page.goto(up.urls["console"] + "/subsidiaries/lille/participants")  # another subsidiary: as if it did not exist
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto(up.urls["console"] + "/subsidiaries")
    expect(page.get_by_role("table")).not_to_contain_text("Tandem Lille")
    expect(page.get_by_role("heading", name="Onboard a subsidiary")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(up.urls["console"] + "/subsidiaries/nantes/participants")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))

    sign_in(page, up, token(up, "--role", "auditor", "--subsidiary", "nantes"))
    expect(page.get_by_text("Auditor (read-only)")).to_be_visible()
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Participants").click()
    expect(page.get_by_role("table")).to_contain_text("Léa Martin")
    expect(page.get_by_role("link", name="Enrol a participant")).to_have_count(0)
    expect(page.get_by_role("button", name="Certify the selected mentors")).to_have_count(0)
    page.get_by_role("link", name="Léa Martin").click()
    expect(page.get_by_role("button", name=re.compile("Certify|Withdraw|Erase"))).to_have_count(0)
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Programme").click()
    expect(page.get_by_label("Sessions per relationship")).to_be_disabled()
    # A page for changing things is refused, not just left out of the menus.
    page.goto(up.urls["console"] + "/subsidiaries/nantes/participants/new")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_sign_in_refuses_what_is_not_a_valid_token(platform: TandemUp, page: Page, tmp_path: Path):
    up = platform
    sign_in(page, up, "not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("This is not a Tandem token")
    # Signed with another platform's secret: only the services can tell, and they refuse it.
    foreign = TandemUp(tmp_path / "elsewhere", "elsewhere").run("token", "--role", "group-admin").stdout.strip()
    page.get_by_label("Your token").fill(foreign)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The services refused this token")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_the_console_speaks_french_and_fits_a_phone(platform: TandemUp, chromium_browser: Browser):
    up = platform
    onboard(up, "bordeaux", "Tandem Bordeaux", [*MENTORS, *MENTEES])
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR", is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(up.urls["console"] + "/")
        # The browser's language chooses French.
        expect(phone.get_by_role("heading", name="Se connecter")).to_be_visible()
        expect(phone.locator("html")).to_have_attribute("lang", "fr")
        phone.get_by_label("Votre jeton").fill(token(up, "--role", "group-admin"))
        phone.get_by_role("button", name="Se connecter").click()
        expect(phone.get_by_role("heading", name="Filiales", level=1)).to_be_visible()
        phone.goto(up.urls["console"] + "/subsidiaries/bordeaux/participants")
        expect(phone.locator("caption")).to_have_text("5 participants")
        # Nothing wider than the screen: tables scroll inside their own box.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(phone, "phone-participants-fr")
        # The choice of English sticks, whatever the browser says.
        phone.get_by_role("button", name="English").click()
        expect(phone.get_by_role("heading", name="Participants")).to_be_visible()
        expect(phone.locator("html")).to_have_attribute("lang", "en")
        phone.goto(up.urls["console"] + "/subsidiaries/bordeaux")
        expect(phone.get_by_role("heading", name="Dashboard")).to_be_visible()
    finally:
        context.close()


def test_a_keyboard_reaches_everything_and_a_long_import_runs_on_its_own_page(platform: TandemUp, page: Page):
    up = platform
    onboard(up, "grand-import", "Tandem Grand Import")
    sign_in(page, up, token(up, "--role", "group-admin"))
    expect(page.get_by_role("heading", name="Subsidiaries", level=1)).to_be_visible()
    # The first Tab lands on the skip link, which jumps to the page's content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto(up.urls["console"] + "/subsidiaries/grand-import/participants/import")

    rows = [f"mentee,Person {n},person.{n}@example.com,1970,Finance,Lyon,fr,networking,mon-am" for n in range(4000)]
    path = Path(up.env["TANDEM_HOME"]) / "big.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    page.get_by_label("CSV file (UTF-8)").set_input_files(path)
    page.get_by_label("CSV file (UTF-8)").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Import")).to_be_focused()
    page.keyboard.press("Enter")
    # The import runs in the background, on a page of its own that follows it to the end (what it
    # shows while it runs is in tests/unit/test_console_app.py: here, 4,000 rows take under a second).
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f]{32}$"))
    expect(page.get_by_text("4,000 participants enrolled from the file.")).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"Done in [0-9.]+ s"))).to_be_visible()
    screenshot(page, "import-done")


def test_withdrawing_and_erasing_a_participant_from_their_page(platform: TandemUp, page: Page):
    up = platform
    onboard(up, "rennes", "Tandem Rennes", [MENTEES[0].replace("@example", "@rennes.example")])
    sign_in(page, up, token(up, "--role", "subsidiary-admin", "--subsidiary", "rennes"))
    page.get_by_role("navigation", name="Subsidiary").get_by_role("link", name="Participants").click()
    page.get_by_role("link", name="Anne Dubois").click()

    page.get_by_role("button", name="Withdraw").click()  # no reason: the browser asks for one first
    assert page.get_by_label("Reason").evaluate("field => field.validity.valueMissing")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("withdrawn")
    page.get_by_label("Reason").fill("Moved to another subsidiary")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("status")).to_have_text("The participant is withdrawn from the programme.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("withdrawn")

    page.get_by_label("I understand this cannot be undone.").check()
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.get_by_role("status")).to_have_text("The participant's personal data is erased, in every service.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("(personal data erased)")
    expect(page.locator(".details")).not_to_contain_text("anne.dubois")
    screenshot(page, "participant-erased")
