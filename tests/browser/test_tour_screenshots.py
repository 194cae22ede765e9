"""Every page of the console, in English and in French, after `tandem demo` loaded a pilot
and examples/people.csv was imported through the console: each page renders its heading
(no error page), French pages show no English heading, dates are to the minute as the
browser's region writes them, and no request fails (the favicon included). The screenshots
are left under test-artifacts/screenshots/tour-<lang>-<page>.png for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from artifacts import screenshot
from launcher import TandemUp
from test_console import IN_FRENCH, sign_in
from services.console.i18n import Language

pytestmark = [pytest.mark.sqlite, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
PILOT = "demo-pilot"
FRENCH = Language("fr")
# The English headings of the console's pages (h1, h2): none may show on a French page.
ENGLISH_HEADINGS = [
    "Subsidiaries", "Dashboard", "Programme settings", "Participants", "Import participants from a CSV file", "Matching",
    "Matching run", "Match", "Relationships", "Sessions", "Group dashboard", "Sign in", "Proposals", "Enrol a participant",
]
ERROR_HEADINGS = ["Not found", "Not allowed", "A service is not reachable", "This cannot be done now", "Too large", "Something went wrong"]


@pytest.fixture(scope="module")
def pilot(platform: TandemUp) -> tuple[TandemUp, dict[str, str]]:
    up = platform
    loaded = up.run("demo", "--held", "4", timeout=240)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    bearer = up.run("token", "--role", "group-admin").stdout.strip()
    return up, ids_of_the_pilot(up, bearer) | {"token": bearer}


def ids_of_the_pilot(up: TandemUp, bearer: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {bearer}"}
    base = f"/subsidiaries/{PILOT}"
    get = lambda service, path, **params: httpx.get(up.urls[service] + base + path, headers=headers, params=params, timeout=30).json()  # noqa: E731
    match = get("matching", "/matches", limit=1)[0]
    held = get("sessions", "/sessions", status="held", limit=1)[0]
    httpx.post(
        up.urls["enrolment"] + "/subsidiaries", headers=headers, timeout=30,
        json={"id": "axa-france", "name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"},
    ).raise_for_status()
    return {
        "participant": get("enrolment", "/participants", role="mentor", limit=1)[0]["id"],
        "run": match["run_id"],
        "match": match["id"],
        "relationship": held["relationship_id"],
        "session": held["id"],
    }


def pages(ids: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(name, path, the h1's English text, or None for a page whose h1 is a person or a theme)."""
    s = f"/subsidiaries/{PILOT}"
    return [
        ("subsidiaries", "/subsidiaries", "Subsidiaries"),
        ("overview", s, "Dashboard"),
        ("programme", f"{s}/programme", "Programme settings"),
        ("participants", f"{s}/participants", "Participants"),
        ("participant", f"{s}/participants/{ids['participant']}", None),
        ("import", f"{s}/participants/import", "Import participants from a CSV file"),
        ("matching", f"{s}/matching", "Matching"),
        ("run", f"{s}/matching/runs/{ids['run']}", "Matching run"),
        ("match", f"{s}/matching/matches/{ids['match']}", "Match"),
        ("relationships", f"{s}/relationships", "Relationships"),
        ("relationship", f"{s}/relationships/{ids['relationship']}", None),
        ("sessions", f"{s}/sessions", "Sessions"),
        ("session", f"{s}/sessions/{ids['session']}", None),
        ("group-dashboard", "/dashboard", "Group dashboard"),
    ]


def failed_requests(page: Page) -> list[str]:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    return failed


def visit(page: Page, up: TandemUp, name: str, path: str, heading: str | None, language: str) -> None:
    response = page.goto(up.urls["console"] + path)
    assert response is not None and response.status == 200, (path, response and response.status)
    h1 = page.locator("h1")
    expect(h1).to_have_count(1)
    text = h1.inner_text().strip()
    assert text and not any(text.startswith(e) or text.startswith(FRENCH.gettext(e)) for e in ERROR_HEADINGS), (path, text)
    if heading:
        expected = heading if language == "en" else str(FRENCH.gettext(heading))
        assert text.startswith(expected), (path, text, expected)
    if language == "fr":
        shown = [t.strip() for t in page.locator("h1, h2").all_inner_texts()]
        english = [t for t in shown for e in ENGLISH_HEADINGS if (t == e or t.startswith(e + " ")) and FRENCH.gettext(e) != e]
        assert not english, (path, english)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
    screenshot(page, f"tour-{language}-{name}")


def test_every_page_in_english_then_in_french(pilot, chromium_browser: Browser, tmp_path: Path):
    up, ids = pilot
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        failed = failed_requests(page)
        page.goto(up.urls["console"] + "/sign-in")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        screenshot(page, "tour-en-sign-in")
        sign_in(page, up, ids["token"], "Your token", "Sign in")
        expect(page.get_by_role("heading", name="Subsidiaries", level=1)).to_be_visible()

        # examples/people.csv, imported through the console.
        page.goto(up.urls["console"] + "/subsidiaries/axa-france/participants/import")
        page.get_by_label("CSV file (UTF-8)").set_input_files(ROOT / "examples" / "people.csv")
        page.get_by_role("button", name="Import").click()
        expect(page.get_by_text("9 participants enrolled from the file.")).to_be_visible()
        screenshot(page, "tour-en-imported")

        for name, path, heading in pages(ids):
            visit(page, up, name, path, heading, "en")
        # Dates to the minute, as the United Kingdom writes them: 2 Dec 2026, 14:00.
        page.goto(up.urls["console"] + f"/subsidiaries/{PILOT}/sessions")
        first = page.locator("tbody th").first.inner_text()
        assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2}", first), first

        # The language switch, as a user does it; the choice sticks on every page.
        page.get_by_role("button", name="Français").click()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        for name, path, heading in pages(ids):
            visit(page, up, name, path, heading, "fr")
        # A French session page: its theme and status in French.
        page.goto(up.urls["console"] + f"/subsidiaries/{PILOT}/sessions/{ids['session']}")
        title = page.locator("h1").inner_text()
        assert "tenue" in title and not re.search(r"networking|information search|online learning|managing one's data", title), title
        page.goto(up.urls["console"] + f"/subsidiaries/{PILOT}/relationships")
        assert page.locator("#status option").all_inner_texts() == ["Toutes", "active", "terminée", "close"]
        page.goto(up.urls["console"] + f"/subsidiaries/{PILOT}/matching")
        assert page.locator("#status option").all_inner_texts() == ["Tous", "actif", "refusé", "clos", "terminé"]
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
        screenshot(page, "tour-fr-sign-in")
        assert not failed, failed  # the favicon too: nothing the pages ask for is missing
    finally:
        context.close()


def test_dates_follow_the_browsers_region(pilot, chromium_browser: Browser):
    up, ids = pilot
    for locale, pattern in (
        ("en-US", r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M"),  # month day, 12 hours
        ("en-GB", r"\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2}"),  # day month, 24 hours
        ("fr-FR", r"\d{1,2} [a-zéû]+\.? \d{4}, \d{2}:\d{2}"),
    ):
        context = chromium_browser.new_context(locale=locale)
        try:
            page = context.new_page()
            label, button = IN_FRENCH if locale.startswith("fr") else ("Your token", "Sign in")
            sign_in(page, up, ids["token"], label, button)
            page.goto(up.urls["console"] + f"/subsidiaries/{PILOT}/sessions/{ids['session']}")
            when = page.locator("dt", has_text=re.compile("^(When|Quand)$")).locator("xpath=following-sibling::dd").inner_text()
            assert re.match(pattern, when), (locale, when)
            assert not re.search(r"\d{2}:\d{2}:\d{2}", when), when  # no seconds
        finally:
            context.close()
