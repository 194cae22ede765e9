"""The matching pages in a real browser, in front of `tandem up`: the pool's figures, the list
of past runs, a long run's proposals paged and filtered, and refusals and reasons said by code
(in the page's language, with names where the service gives ids)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from artifacts import screenshot
from launcher import TandemUp
from test_console import HEADER, IN_FRENCH, reload_until, sign_in, token

pytestmark = [pytest.mark.sqlite, pytest.mark.timeout(300)]

SUBSIDIARY = "rennes-matching"  # test_console.py has its own "rennes"
MENTORS = [f"mentor,Mentor {n},mentor{n}@rennes.example,1999,IT,Rennes,fr,networking;online learning,mon-am" for n in range(1, 4)]
# 30 French-speaking mentees for 3 mentors of capacity 10; 10 choose networking, 20 online learning.
MENTEES = [
    f"mentee,Mentee {n:02d},mentee{n}@rennes.example,1965,Finance,Rennes,fr,{'networking' if n <= 10 else 'online learning'},mon-am"
    for n in range(1, 31)
]
# And one who speaks no language a mentor speaks.
GRETA = "mentee,Greta Schmidt,greta@rennes.example,1960,Legal,Rennes,de,networking,mon-am"


@pytest.fixture(scope="module")
def subsidiary(platform: TandemUp) -> str:
    headers = {"Authorization": f"Bearer {token(platform, '--role', 'group-admin')}"}
    with httpx.Client(base_url=platform.urls["enrolment"], headers=headers, timeout=60) as api:
        api.post("/subsidiaries", json={"id": SUBSIDIARY, "name": "Tandem Rennes", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
        api.put(f"/subsidiaries/{SUBSIDIARY}/programme", json={"mentor_capacity": 10}).raise_for_status()
        body = "\n".join([HEADER, *MENTORS, *MENTEES, GRETA]) + "\n"
        api.post(f"/subsidiaries/{SUBSIDIARY}/participants/import", content=body, headers={"Content-Type": "text/csv"}).raise_for_status()
        everyone = api.get(f"/subsidiaries/{SUBSIDIARY}/participants", params={"limit": 100}).json()
        for mentor in (p for p in everyone if p["role"] == "mentor"):
            api.post(f"/subsidiaries/{SUBSIDIARY}/participants/{mentor['id']}/certify").raise_for_status()
    return SUBSIDIARY


def start_run(page: Page) -> str:
    page.get_by_role("button", name="Start a matching run").click()
    expect(page.get_by_role("heading", name="Proposals")).to_be_visible()  # the job page moves on to the draft
    return page.url


def test_runs_are_listed_reviewed_page_by_page_filtered_and_refused_by_code(platform: TandemUp, subsidiary: str, page: Page, chromium_browser: Browser):
    up = platform
    bearer = token(up, "--role", "group-admin")
    sign_in(page, up, bearer)
    matching = f"{up.urls['console']}/subsidiaries/{subsidiary}/matching"
    page.goto(matching)
    reload_until(page, lambda: "3 certified mentors with room for more, 31 mentees" in page.content(), "the pool in matching")
    expect(page.get_by_text("No matching run yet.")).to_be_visible()

    # A long draft: its proposals come 25 to a page.
    stale_url = start_run(page)
    expect(page.get_by_text("30 proposals")).to_be_visible()
    proposals = page.locator(".proposal")
    expect(proposals).to_have_count(25)
    expect(page.get_by_role("navigation", name="Pages").first).to_contain_text("1–25 of 30")
    page.get_by_role("navigation", name="Pages").first.get_by_role("link", name="Next").click()
    expect(proposals).to_have_count(5)

    # By theme: only the networking proposals (the mentees who chose it).
    page.get_by_label("Theme", exact=True).select_option("networking")
    page.get_by_role("button", name="Filter").first.click()
    expect(page.get_by_role("status")).to_have_text("10 proposals match these filters.")
    expect(proposals).to_have_count(10)
    for n in range(10):
        expect(proposals.nth(n)).to_contain_text("Theme: networking")

    # By name, whatever the case and accents: sent by POST, so the name is in no address.
    page.get_by_label("Mentor or mentee name").fill("MENTÉE 07")
    page.get_by_role("button", name="Find").click()
    expect(proposals).to_have_count(1)
    expect(proposals.first.get_by_role("heading")).to_contain_text("Mentee 07")
    assert page.url == stale_url  # the run's own address, with no query
    page.get_by_label("Mentor or mentee name").fill("Mentee 15")  # an online-learning mentee: not with the theme kept
    page.get_by_role("button", name="Find").click()
    expect(proposals).to_have_count(0)
    expect(page.get_by_text("No proposal matches these filters.")).to_be_visible()

    # Who is left out, and why: said from the reason's code (the service's English differs).
    unmatched = page.locator("table", has=page.get_by_role("columnheader", name="Why"))
    expect(unmatched.get_by_role("row", name=re.compile("Greta Schmidt"))).to_contain_text("No mentor speaks one of their languages.")
    page.get_by_label("Role").select_option("mentor")
    page.get_by_role("button", name="Filter").last.click()
    expect(unmatched.locator("tbody tr")).to_have_text(["No one in this role was left unmatched."])
    screenshot(page, "matching-run-filtered")

    # A second run on the same pool, published: the first can no longer be.
    page.goto(matching)
    start_run(page)
    page.get_by_role("button", name="Publish this run").click()
    expect(page.get_by_role("status")).to_contain_text("The matching run is published: 30 matches confirmed.")
    page.goto(stale_url)
    page.get_by_role("button", name="Publish this run").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("This run cannot be published:")
    expect(refusal).to_contain_text("The pool changed since this run")
    expect(refusal).to_contain_text("The mentee Mentee 01 is no longer waiting (withdrawn, or matched meanwhile).")
    expect(refusal).not_to_contain_text(re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-"))  # names, not ids
    screenshot(page, "matching-run-refused")

    # The pool: who has room, and how many are full; the runs, newest first, each a link.
    page.goto(matching)
    expect(page.get_by_text("0 certified mentors with room for more, 1 mentees waiting for a match.")).to_be_visible()
    expect(page.get_by_text("3 more certified mentors are full: in no run until one of their matches ends.")).to_be_visible()
    runs = page.locator("table", has=page.get_by_role("columnheader", name="Matches confirmed"))
    expect(runs.locator("caption")).to_have_text("2 matching runs")
    rows = runs.locator("tbody tr")
    expect(rows.nth(0)).to_contain_text("published")
    expect(rows.nth(0).locator("td.num")).to_have_text(["30", "1", "30"])  # proposals, left unmatched (Greta), confirmed
    expect(rows.nth(1)).to_contain_text("draft")
    expect(rows.nth(1).locator("td.num")).to_have_text(["30", "1", "–"])
    screenshot(page, "matching")
    rows.nth(1).get_by_role("link").click()
    expect(page).to_have_url(stale_url)

    # In French, the reasons too.
    context = chromium_browser.new_context(locale="fr-FR")
    try:
        french = context.new_page()
        sign_in(french, up, bearer, *IN_FRENCH)
        french.goto(stale_url)
        expect(french.get_by_role("row", name=re.compile("Greta Schmidt"))).to_contain_text("Aucun mentor ne parle l'une de ses langues.")
        french.goto(matching)
        expect(french.get_by_text(re.compile("3 autres mentors certifiés sont complets"))).to_be_visible()
    finally:
        context.close()
