"""The sessions pages in a real browser, in front of `tandem up`: a session offers only what
it allows now and says why not the rest; a refusal is shown once, naming the members; a
session heard of afterwards is recorded as held; a relationship links to its members; the
dashboard counts cancelled sessions and shows ratings with one precision."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from artifacts import screenshot
from launcher import TandemUp
from test_console import HEADER, reload_until, sign_in, token

pytestmark = [pytest.mark.sqlite, pytest.mark.timeout(300)]

SLUG = "sessions-pages"
PARIS = ZoneInfo("Europe/Paris")
ROWS = [
    "mentor,Léa Martin,lea.martin@sessions.example,2000,IT,Lyon,fr,networking,mon-am",
    "mentee,Anne Dubois,anne.dubois@sessions.example,1968,Finance,Lyon,fr,networking,mon-am",
    "mentor,Hugo Bernard,hugo.bernard@sessions.example,1999,Marketing,Lyon,fr,online learning,wed-am",
    "mentee,Marc Petit,marc.petit@sessions.example,1965,Claims,Lyon,fr,online learning,wed-am",
]


def wait_for(check, what: str, seconds: float = 60.0):
    deadline = datetime.now() + timedelta(seconds=seconds)
    while True:
        found = check()
        if found:
            return found
        assert datetime.now() < deadline, f"never saw {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def pairs(platform: TandemUp) -> dict[str, dict]:
    """Two pairs (Léa and Anne, Hugo and Marc), made through the services' APIs: each
    relationship by its mentee's name."""
    up = platform
    headers = {"Authorization": f"Bearer {token(up, '--role', 'group-admin')}"}
    with (
        httpx.Client(base_url=up.urls["enrolment"], headers=headers, timeout=60) as enrolment,
        httpx.Client(base_url=up.urls["matching"], headers=headers, timeout=60) as matching,
        httpx.Client(base_url=up.urls["sessions"], headers=headers, timeout=60) as sessions,
    ):
        enrolment.post("/subsidiaries", json={"id": SLUG, "name": "Tandem Sessions", "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
        body = "\n".join([HEADER, *ROWS]) + "\n"
        enrolment.post(f"/subsidiaries/{SLUG}/participants/import", content=body, headers={"Content-Type": "text/csv"}).raise_for_status()
        for person in enrolment.get(f"/subsidiaries/{SLUG}/participants", params={"role": "mentor"}).json():
            enrolment.post(f"/subsidiaries/{SLUG}/participants/{person['id']}/certify").raise_for_status()

        def pool_ready() -> bool:
            pool = matching.get(f"/subsidiaries/{SLUG}/pool")
            return pool.status_code == 200 and len(pool.json()["mentors"]) == 2 and len(pool.json()["mentees"]) == 2

        wait_for(pool_ready, "the pool in matching")
        run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
        run = wait_for(lambda: (r := matching.get(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}").json()).get("status") != "running" and r, "the run")
        matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish").raise_for_status()
        rels = wait_for(lambda: len(r := sessions.get(f"/subsidiaries/{SLUG}/relationships").json()) == 2 and r, "the relationships")
        return {rel["mentees"][0]["name"]: rel for rel in rels}


def open_relationship(page: Page, up: TandemUp, rel: dict) -> None:
    page.goto(f"{up.urls['console']}/subsidiaries/{SLUG}/relationships/{rel['id']}")


def slot(days: int, hour: int = 10) -> datetime:
    return (datetime.now(PARIS) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_a_session_still_to_come_offers_only_what_it_allows_and_says_why_not(platform: TandemUp, pairs: dict, page: Page):
    up = platform
    sign_in(page, up, token(up, "--role", "group-admin"))
    open_relationship(page, up, pairs["Anne Dubois"])
    # A relationship links back to its members' pages.
    page.get_by_role("link", name="Anne Dubois").click()
    expect(page).to_have_url(re.compile(rf"/subsidiaries/{SLUG}/participants/{pairs['Anne Dubois']['mentees'][0]['id']}$"))
    open_relationship(page, up, pairs["Anne Dubois"])
    expect(page.get_by_role("link", name="Léa Martin")).to_have_attribute(
        "href", f"/subsidiaries/{SLUG}/participants/{pairs['Anne Dubois']['mentor']['id']}"
    )

    # Neither place nor link: what is required is said, once.
    expect(page.get_by_text("Give a place, a video link, or both.").first).to_be_visible()
    starts = slot(7)
    page.get_by_label("Starts at (Europe/Paris)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator(".error-summary")).to_contain_text("Video link: Give a place, a video link, or both.")
    page.get_by_label("Place", exact=True).fill("Salle Lumière")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("status")).to_contain_text("The session is scheduled.")

    # Not started: no attendance buttons, no feedback form, no "Mark as held"; why not, with its date.
    expect(page.get_by_role("button", name="Present")).to_have_count(0)
    expect(page.get_by_role("button", name="Record the feedback")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark as held")).to_have_count(0)
    expect(page.locator("[data-why=record_attendance]")).to_contain_text("Attendance can be recorded once the session has started (on")
    expect(page.locator("[data-why=record_attendance]")).to_contain_text(str(starts.year))
    expect(page.locator("[data-why=give_feedback]")).to_contain_text("Feedback can be given once the session has started")
    expect(page.locator("[data-why=mark_held]")).to_contain_text("The session can be marked as held once it has started")
    expect(page.get_by_role("button", name="Move the session")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the session")).to_be_visible()
    screenshot(page, "session-not-started")

    # Léa is booked then: a second session for her at that time is refused once, naming her.
    open_relationship(page, up, pairs["Anne Dubois"])
    page.get_by_label("Starts at (Europe/Paris)").fill(starts.replace(minute=30).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Place", exact=True).fill("Salle B")
    page.get_by_role("button", name="Schedule").click()
    summary = page.locator(".error-summary")
    # Both members are booked then (in that very session): each said once, by name.
    expect(summary.locator("li")).to_have_count(2)
    expect(summary.locator("li", has_text="Léa Martin is already booked in another session from")).to_have_count(1)
    expect(summary.locator("li", has_text="Anne Dubois is already booked in another session from")).to_have_count(1)
    expect(summary).not_to_contain_text(pairs["Anne Dubois"]["mentor"]["id"])
    expect(summary).not_to_contain_text("cannot be scheduled")
    screenshot(page, "session-clash")


def test_a_session_heard_of_afterwards_is_recorded_as_held_and_the_dashboard_counts_it(platform: TandemUp, pairs: dict, page: Page):
    up = platform
    sign_in(page, up, token(up, "--role", "group-admin"))
    # Matched moments ago: "yesterday" is before the match.
    open_relationship(page, up, pairs["Marc Petit"])
    earlier = datetime.now(PARIS) - timedelta(days=1)
    page.get_by_label("Starts at (Europe/Paris)").fill(earlier.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Place", exact=True).fill("Salle C")
    page.get_by_label("It already took place").check()
    page.get_by_label("Hugo Bernard was present").check()
    page.get_by_label("Marc Petit was present").check()
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator(".error-summary")).to_contain_text("before the relationship's match")

    # A few minutes ago, after the match: recorded as held, with who was present.
    just_now = datetime.now(PARIS).replace(second=0, microsecond=0)
    page.get_by_label("Starts at (Europe/Paris)").fill(just_now.strftime("%Y-%m-%dT%H:%M"))
    matched = datetime.fromisoformat(pairs["Marc Petit"]["matched_at"]).astimezone(PARIS)
    if just_now < matched:  # matched within this very minute (the form takes minutes): wait for the next one
        page.wait_for_timeout(60_000)
        just_now = just_now + timedelta(minutes=1)
        page.get_by_label("Starts at (Europe/Paris)").fill(just_now.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("It already took place").check()
    page.get_by_label("Hugo Bernard was present").check()
    page.get_by_label("Marc Petit was present").check()
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("status")).to_contain_text("The session is marked as held.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("held")
    expect(page.get_by_role("button", name="Mark as held")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel the session")).to_have_count(0)

    # Feedback from both: then no feedback form is offered any more.
    for giver, rating in (("Hugo Bernard (mentor)", "4"), ("Marc Petit (mentee)", "5")):
        page.get_by_label("Given by").select_option(label=giver)
        page.get_by_label("Rating (1 to 5)").select_option(rating)
        page.get_by_role("button", name="Record the feedback").click()
        expect(page.get_by_role("status")).to_contain_text("Feedback recorded.")
    expect(page.get_by_role("button", name="Record the feedback")).to_have_count(0)
    expect(page.locator("[data-why=give_feedback]")).to_have_text("Every member present has given their feedback.")
    screenshot(page, "session-recorded-afterwards")

    # Cancel Anne's session to come: the dashboard counts held and cancelled sessions.
    [coming] = [s for s in httpx.get(
        f"{up.urls['sessions']}/subsidiaries/{SLUG}/sessions", params={"relationship_id": pairs["Anne Dubois"]["id"]},
        headers={"Authorization": f"Bearer {token(up, '--role', 'group-admin')}"},
    ).json() if s["status"] == "scheduled"]
    page.goto(f"{up.urls['console']}/subsidiaries/{SLUG}/sessions/{coming['id']}")
    page.get_by_label("Reason").fill("Léa is away")
    page.get_by_role("button", name="Cancel the session").click()
    expect(page.get_by_role("status")).to_contain_text("The session is cancelled.")
    page.goto(f"{up.urls['console']}/subsidiaries/{SLUG}")
    reload_until(page, lambda: page.locator("[data-figure=sessions-cancelled]").inner_text() == "1", "the cancelled session")
    expect(page.locator("[data-figure=sessions-held]")).to_have_text("1")
    ratings = page.locator("[data-figure=ratings]")
    expect(ratings).to_contain_text("Given by mentors")
    expect(ratings.get_by_role("row", name=re.compile("Given by mentors"))).to_contain_text("4.0")
    expect(ratings.get_by_role("row", name=re.compile("Given by mentees"))).to_contain_text("5.0")
    screenshot(page, "dashboard-cancelled-and-ratings")
    page.goto(f"{up.urls['console']}/dashboard")
    expect(page.get_by_role("columnheader", name="Sessions cancelled")).to_be_visible()
