"""`tandem demo` against `tandem up`, as a user runs them: a realistic pilot loaded through the
public APIs, and a second run that finds everything done and records nothing."""

import subprocess
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from launcher import SERVICES, TandemUp, tandem

pytestmark = [pytest.mark.integration, pytest.mark.sqlite, pytest.mark.timeout(300)]  # the embedded default: SQLite

PILOT = "demo-pilot"
HELD = 20


@pytest.fixture
def platform(tmp_path: Path):
    """`tandem up` on free ports, with its own home and topics; stopped with Ctrl-C."""
    up = TandemUp(tmp_path / "home", "e2e-demo")
    try:
        up.start()
        yield up.env, {name: up.urls[name] for name in (*SERVICES, "console")}
    finally:
        up.stop()


def test_tandem_demo_loads_a_pilot_through_the_apis_and_a_second_run_records_nothing(platform):
    env, urls = platform
    token = subprocess.run(tandem("token", "--role", "group-admin"), env=env, capture_output=True, text=True, check=True).stdout.strip()
    api = {name: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) for name, url in urls.items() if name in SERVICES}

    started = time.monotonic()
    first = subprocess.run(tandem("demo", "--held", str(HELD)), env=env, capture_output=True, text=True, timeout=180)
    first_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stdout + first.stderr
    assert "The pilot 'demo-pilot' is ready" in first.stdout
    assert f"{urls['enrolment']}/docs" in first.stdout
    where_to_look_points_at_the_console(first.stdout, urls)

    pilot = check_the_pilot(api)

    # Every service has applied and published everything before the heads are compared.
    heads = settled_heads({name: urls[name] for name in SERVICES})
    started = time.monotonic()
    second = subprocess.run(tandem("demo", "--held", str(HELD)), env=env, capture_output=True, text=True, timeout=120)
    second_seconds = time.monotonic() - started
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing new recorded" in second.stdout, second.stdout
    assert "  + " not in second.stdout, second.stdout  # no step did anything
    # What was held and what was cancelled, each counted as it is (a no-show is not held).
    held = sum(status == "held" for _, status, _, _ in pilot["sessions"])
    cancelled = sum(status == "cancelled" for _, status, _, _ in pilot["sessions"])
    assert held + cancelled == HELD and cancelled > 0
    assert f"  = {held} sessions already held and {cancelled} cancelled as no-shows" in second.stdout, second.stdout
    assert f"{HELD} sessions already held" not in second.stdout
    assert check_the_pilot(api) == pilot
    time.sleep(1.0)  # anything the second run set off would have reached the other services by now
    assert settled_heads({name: urls[name] for name in SERVICES}) == heads
    print(f"\ntandem demo: first run {first_seconds:.1f} s, second run {second_seconds:.1f} s\n{first.stdout}")


def where_to_look_points_at_the_console(stdout: str, urls: dict[str, str]) -> None:
    """The pilot's dashboard is the console's page, which a browser can open (it signs in
    first); an API's address is shown as one, after how to get its token."""
    console = f"{urls['console']}/subsidiaries/{PILOT}"
    look = stdout[stdout.index("Where to look:"):]
    assert f"  console        {console}  " in look, look
    page = httpx.get(console, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in?next=%2Fsubsidiaries%2Fdemo-pilot"), page
    token_step = look.index("TOKEN=$(tandem token --role group-admin)")
    assert "bearer token" in look[:token_step]
    for name in SERVICES:
        for line in look.splitlines():
            if f"{urls[name]}/subsidiaries" in line or f"{urls[name]}/dashboard" in line:
                assert line.lstrip().startswith("curl -s -H \"$H\""), line  # never a bare API address to open
    assert f'curl -s -H "$H" {urls["sessions"]}/subsidiaries/{PILOT}/dashboard' in look[token_step:]


def check_the_pilot(api: dict[str, httpx.Client]) -> dict[str, Any]:
    """What the pilot looks like through the APIs, checked; its figures, to compare runs."""
    base = f"/subsidiaries/{PILOT}"

    # Enrolment: 305 synthetic people, the mentors certified.
    subsidiary = api["enrolment"].get(base).json()
    assert subsidiary["timezone"] == "Europe/Paris"
    response = api["enrolment"].get(f"{base}/participants", params={"limit": 10_000})
    people = response.json()
    assert len(people) == int(response.headers["X-Total-Count"]) == 305
    assert len({p["email"] for p in people}) == 305
    mentors = [p for p in people if p["role"] == "mentor"]
    mentees = [p for p in people if p["role"] == "mentee"]
    assert len(mentors) == 55 and all(p["status"] == "certified" for p in mentors)
    assert len(mentees) == 250 and all(p["status"] == "enrolled" for p in mentees)
    assert len({p["site"] for p in people}) >= 5 and len({p["department"] for p in people}) >= 8
    assert len({lang for p in people for lang in p["languages"]}) >= 5 and sum("fr" in p["languages"] for p in people) > 250
    assert all(1994 <= p["birth_year"] <= 2004 for p in mentors) and all(1958 <= p["birth_year"] <= 1988 for p in mentees)
    assert any(p["manager_email"] for p in mentees)

    # Matching: a pair run published; the unmatched mentees still wait in the pool.
    matches = api["matching"].get(f"{base}/matches").json()
    assert matches and all(m["status"] == "active" and m["format"] == "pair" for m in matches)
    assert len({m["run_id"] for m in matches}) == 1
    matched = [e for m in matches for e in m["mentee_ids"]]
    assert len(matched) == len(set(matched)) >= 200
    assert max(Counter(m["mentor_id"] for m in matches).values()) <= 5
    pool = api["matching"].get(f"{base}/pool").json()
    assert len(pool["mentees"]) == 250 - len(matched)

    # Sessions: one relationship per match, each with one session; the held ones recorded.
    relationships = api["sessions"].get(f"{base}/relationships").json()
    assert sorted(r["match_id"] for r in relationships) == sorted(m["id"] for m in matches)
    assert all(r["status"] == "active" and not r["stalled"] for r in relationships)
    sessions = api["sessions"].get(f"{base}/sessions").json()
    assert Counter(s["relationship_id"] for s in sessions) == Counter({r["id"]: 1 for r in relationships})
    themes = {r["id"]: r["theme"] for r in relationships}
    assert all(s["theme"] == themes[s["relationship_id"]] for s in sessions)
    held = [s for s in sessions if s["status"] == "held"]
    no_shows = [s for s in sessions if s["status"] == "cancelled"]  # the mentee did not come: not a session held
    scheduled = [s for s in sessions if s["status"] == "scheduled"]
    assert len(held) + len(no_shows) == HELD and 0 < len(no_shows) < len(held)
    assert len(scheduled) == len(relationships) - HELD
    for s in no_shows:
        assert s["cancellation_reason"].startswith("no-show") and [p["present"] for p in s["participants"]] == [True, False], s

    paris, now = ZoneInfo("Europe/Paris"), datetime.now(UTC)
    booked: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for s in scheduled:
        start = datetime.fromisoformat(s["starts_at"])
        local = start.astimezone(paris)
        assert now < start < now + timedelta(weeks=5), s
        end = local + timedelta(minutes=s["duration_minutes"])
        assert local.weekday() < 5 and time_of_day(9) <= local.time() and end.time() <= time_of_day(18) and end.date() == local.date(), s
        assert (s["location"] is None) != (s["video_link"] is None) and (s["video_link"] or "https://").startswith("https://")
    for s in sessions:
        start = datetime.fromisoformat(s["starts_at"])
        for person in s["participants"]:
            booked[person["id"]].append((start, start + timedelta(minutes=s["duration_minutes"])))
    for times in booked.values():  # nobody is booked twice at once
        times.sort()
        assert all(end <= later_start for (_, end), (later_start, _) in zip(times, times[1:]))

    present = absent = 0
    for s in held + no_shows:
        assert all(p["present"] is not None for p in s["participants"]), s
        present += sum(p["present"] for p in s["participants"])
        absent += sum(not p["present"] for p in s["participants"])
        gave = {f["participant_id"]: f for f in s["feedback"]}
        assert set(gave) == {p["id"] for p in s["participants"] if p["present"]}, s
        assert all(3 <= f["rating"] <= 5 and f["comment"] for f in gave.values())
        assert any(f["role"] == "mentor" for f in gave.values())
    assert present > absent
    feedback = Counter(f["role"] for s in held + no_shows for f in s["feedback"])

    # The dashboard agrees with what the APIs list.
    d = api["sessions"].get(f"{base}/dashboard").json()
    assert (d["mentors"], d["certified_mentors"], d["mentees"], d["matched_mentees"]) == (55, 55, 250, len(matched))
    assert d["relationships"] == {"active": len(relationships), "completed": 0, "closed": 0}
    assert d["sessions"] == {"scheduled": len(scheduled), "held": len(held), "cancelled": len(no_shows)}
    assert d["sessions_held_by_format"] == {"pair": len(held)} and sum(d["sessions_held_by_theme"].values()) == len(held)
    assert (d["attendance"]["recorded"], d["attendance"]["present"], d["attendance"]["no_shows"]) == (2 * HELD, present, absent)
    assert {role: r["count"] for role, r in d["average_rating"].items()} == {"mentor": feedback["mentor"], "mentee": feedback["mentee"]}
    assert d["stalled_relationships"] == 0
    return {
        "participants": len(people),
        "matches": sorted(m["id"] for m in matches),
        "sessions": sorted((s["id"], s["status"], s["starts_at"], len(s["feedback"])) for s in sessions),
        "dashboard": {k: v for k, v in d.items() if k != "stalled"},
    }


def settled_heads(urls: dict[str, str], quiet: float = 1.0, timeout: float = 30.0) -> dict[str, int]:
    """Each service's event store head, once every relay has published everything and the
    heads have not moved for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] | None = None
    while True:
        health = {name: httpx.get(f"{url}/healthz").json() for name, url in urls.items()}
        heads = {name: h["event_store"]["last_position"] for name, h in health.items()}
        if heads == last and all(h["relay"]["lag"] == 0 for h in health.values()):
            return heads
        assert time.monotonic() < deadline, health
        last = heads
        time.sleep(quiet)
