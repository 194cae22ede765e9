"""`tandem demo`: load a realistic pilot into a running platform, through the public APIs only.

A subsidiary and its programme, 55 mentors and 250 mentees (synthetic people: the same ones
on every run), the mentors certified, a pair matching run published, a first session booked
for every relationship, and a few sessions held on the spot with attendance and feedback.

Every step looks at what exists before it writes, so a second run finds its work done and
records nothing. The services learn of each other through Kafka, so the demo waits (with a
timeout) where one service has to catch up with another.
"""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from infra.services import CONSOLE, SERVICES

DEFAULT_SUBSIDIARY = "demo-pilot"
DEFAULT_HELD = 20
SEED = 20_250_101  # the same people on every run
MENTORS, MENTEES = 55, 250
WAIT_SECONDS = 90.0  # how long to wait for a service to catch up with another

THEMES = ["information search", "networking", "managing one's data on social networks", "online learning"]
# The original pilot's programme (also what a subsidiary starts with).
PROGRAMME = {
    "themes": THEMES,
    "mentor_capacity": 5,
    "mini_session_max": 10,
    "target_sessions": 5,
    "session_minutes": 90,
    "min_age_gap": 1,
}

# Synthetic people: where they come from, and the language that goes with it.
LOCALES = [("fr_FR", "fr", 62), ("en_GB", "en", 8), ("de_DE", "de", 7), ("it_IT", "it", 7), ("es_ES", "es", 8), ("nl_BE", "nl", 8)]
SITES = [("Paris – La Défense", 40), ("Lyon", 16), ("Lille", 12), ("Nantes", 10), ("Marseille", 9), ("Bordeaux", 8), ("Strasbourg", 5)]
DEPARTMENTS = [
    "Claims", "Underwriting", "Actuarial", "Finance", "Human Resources", "IT", "Marketing",
    "Customer Service", "Legal & Compliance", "Sales", "Data & Analytics", "Procurement",
]  # fmt: skip
MENTOR_DEPARTMENTS = ["IT", "Data & Analytics", "Marketing", "Customer Service", "Finance", "Sales", "Human Resources"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
SLOTS = [f"{day}-{half}" for day in WEEKDAYS for half in ("am", "pm")]  # weekly availability, as enrolment spells it
HALF_DAYS = {"am": (clock_time(9, 0), clock_time(12, 30)), "pm": (clock_time(14, 0), clock_time(18, 0))}
ROOMS = ["Agora", "Le Hub", "Atelier 2", "Salle Lumière", "Room 4.12", "Learning Lab", "Espace Café"]
VIDEO = "https://visio.tandem-demo.example.com"
WEEKS_AHEAD = 3
SPOT_DELAY = timedelta(seconds=3)  # sessions held on the spot start this long after booking

COMMENTS = {
    "mentor": {
        "information search": ["We practised search operators; next time, saved alerts.", "Curious and quick: we built a news watch together."],
        "networking": ["We polished the LinkedIn profile and found former colleagues.", "Good questions about what to share in public."],
        "managing one's data on social networks": ["We went through every privacy setting together.", "We cleaned up old accounts and passwords."],
        "online learning": ["We found two MOOCs matching the mentee's projects.", "Set up the learning platform; the first module is done."],
    },
    "mentee": {
        "information search": ["I now find documents in minutes instead of an hour.", "Clear and patient, thank you!"],
        "networking": ["I finally understand how LinkedIn works.", "Very useful, I have already contacted three people."],
        "managing one's data on social networks": ["I feel much safer about my accounts now.", "Practical and reassuring."],
        "online learning": ["I enrolled in my first online course.", "Great session, I want to go further."],
    },
    "any": ["A good first session.", "Useful, we will go on next time.", "Pleasant and concrete."],
}


class DemoError(Exception):
    """Something the user must fix, said in one clear message."""


# -- the people -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    role: str
    name: str
    email: str
    birth_year: int
    department: str
    site: str
    languages: list[str]
    themes: list[str]
    manager_email: str | None
    availability: list[str]


def people(subsidiary: str, themes: list[str] = THEMES, mentors: int = MENTORS, mentees: int = MENTEES) -> list[Person]:
    """The pilot's participants, mentors first: always the same ones for a subsidiary."""
    from faker import Faker  # imported here: `tandem` starts faster without it
    from faker.decode import unidecode

    rng = random.Random(SEED)
    fakers = {}
    for i, (locale, _, _) in enumerate(LOCALES):
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(SEED + i)
    domain = f"{subsidiary}.example.com"
    taken: set[str] = set()

    def identity() -> tuple[str, str, str]:
        locale, language, _ = rng.choices(LOCALES, weights=[w for *_, w in LOCALES])[0]
        fake = fakers[locale]
        first, last = fake.first_name(), fake.last_name()
        local = ".".join("".join(c for c in unidecode(part).lower() if c.isalnum()) for part in (first, last))
        email, n = f"{local}@{domain}", 1
        while email in taken:
            n += 1
            email = f"{local}{n}@{domain}"
        taken.add(email)
        return f"{first} {last}", email, language

    def languages(own: str, english: float) -> list[str]:
        spoken = [own]
        if own != "fr" and rng.random() < 0.85:
            spoken.append("fr")  # most colleagues from abroad work in French too
        elif own == "fr" and rng.random() < 0.08:
            spoken.append(rng.choice(["de", "it", "es", "nl", "pt", "ar"]))
        if "en" not in spoken and rng.random() < english:
            spoken.append("en")
        return spoken

    def ranked_themes() -> list[str]:
        return rng.sample(themes, k=min(len(themes), rng.choice([2, 3, 3, 4])))

    def availability() -> list[str]:
        chosen = set(rng.sample(SLOTS, k=rng.randint(2, 5)))
        return [slot for slot in SLOTS if slot in chosen]

    def site() -> str:
        return rng.choices([s for s, _ in SITES], weights=[w for _, w in SITES])[0]

    # Some managers are outside the programme; some mentees manage other participants.
    def outside_manager() -> str:
        return identity()[1]

    result: list[Person] = []
    for _ in range(mentors):
        name, email, own = identity()
        result.append(
            Person("mentor", name, email, rng.randint(1994, 2004), rng.choice(MENTOR_DEPARTMENTS), site(),
                   languages(own, english=0.8), ranked_themes(), outside_manager() if rng.random() < 0.3 else None, availability())
        )  # fmt: skip
    for _ in range(mentees):
        name, email, own = identity()
        result.append(
            Person("mentee", name, email, rng.randint(1958, 1988), rng.choice(DEPARTMENTS), site(),
                   languages(own, english=0.4), ranked_themes(), None, availability())
        )  # fmt: skip
    # Reporting lines: a fifth of the mentees report to an older mentee, a few mentors to a
    # mentee (so matching must keep them apart), and some mentees to a manager outside.
    seniors = sorted((p for p in result if p.role == "mentee"), key=lambda p: p.birth_year)[:40]
    for i, person in enumerate(result):
        roll = rng.random()
        if person.role == "mentor" and roll < 0.12:
            result[i] = replace(person, manager_email=rng.choice(seniors).email)
        elif person.role == "mentee" and person not in seniors:
            if roll < 0.2:
                result[i] = replace(person, manager_email=rng.choice(seniors).email)
            elif roll < 0.35:
                result[i] = replace(person, manager_email=outside_manager())
    return result


def to_csv(rows: Iterable[Person]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["role", "name", "email", "birth_year", "department", "site", "languages", "themes", "manager_email", "availability"])
    for p in rows:
        writer.writerow(
            [p.role, p.name, p.email, p.birth_year, p.department, p.site, ";".join(p.languages), ";".join(p.themes),
             p.manager_email or "", ";".join(p.availability)]
        )  # fmt: skip
    return out.getvalue()


# -- talking to the services ----------------------------------------------------------------


class Service:
    """One service's HTTP API, with the demo's token; unexpected answers become DemoError."""

    def __init__(self, name: str, url: str, token: str) -> None:
        self.name = name
        self.url = url
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120.0)

    def call(self, method: str, path: str, expect: Iterable[int] = (200, 201), **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise DemoError(f"{self.name} is not reachable at {self.url} ({exc}): run `make up` or `tandem up` first") from None
        if response.status_code == 401:
            raise DemoError(
                f"{self.name} refused the token (401): run `tandem demo` with the TANDEM_HOME (or TANDEM_SECRET) "
                "of the running `tandem up`, or pass --token"
            )
        if response.status_code not in expect:
            raise DemoError(f"{method} {self.url}{path} answered {response.status_code}: {response.text[:1000]}")
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs).json()

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, json=json, **kwargs).json()

    def close(self) -> None:
        self.client.close()


def console_url() -> str:
    """Where `tandem up` serves the console (CONSOLE_PORT, as it reads it)."""
    return f"http://127.0.0.1:{int(os.environ.get(CONSOLE.port_variable, CONSOLE.default_port))}"


def service_urls() -> dict[str, str]:
    """Where `tandem up` runs each service: the same port variables it reads."""
    return {spec.name: f"http://127.0.0.1:{int(os.environ.get(spec.port_variable, spec.default_port))}" for spec in SERVICES}


def wait_for(
    what: str, check: Callable[[], tuple[bool, str]], timeout: float = WAIT_SECONDS, say: Callable[[str], None] | None = None
) -> None:
    """Poll `check` (done?, progress) until done; after `timeout`, a clear error."""
    deadline = time.monotonic() + timeout
    done, progress = check()
    if done:
        return
    if say:
        say(f"  … waiting for {what}")
    while not done:
        if time.monotonic() > deadline:
            raise DemoError(
                f"gave up waiting for {what} after {timeout:.0f} s ({progress}). The services learn of each other "
                "through Kafka: check each service's /healthz (consumer, relay) and its log under TANDEM_HOME/logs"
            )
        time.sleep(0.25)
        done, progress = check()


# -- the demo ---------------------------------------------------------------------------------


class Demo:
    def __init__(self, subsidiary: str, token: str, held: int, urls: dict[str, str], out: Callable[[str], None], console: str = "") -> None:
        self.sid = subsidiary
        self.console = console or console_url()
        self.held = held
        self.say = out
        self.enrolment = Service("enrolment", urls["enrolment"], token)
        self.matching = Service("matching", urls["matching"], token)
        self.sessions = Service("sessions", urls["sessions"], token)
        self.base = f"/subsidiaries/{subsidiary}"
        self.people = people(subsidiary)
        self.recorded = 0  # commands that changed something

    def close(self) -> None:
        for service in (self.enrolment, self.matching, self.sessions):
            service.close()

    # -- steps ----------------------------------------------------------------------------------

    def check_services(self) -> None:
        unreachable = []
        for service in (self.enrolment, self.matching, self.sessions):
            try:
                service.client.get("/healthz", timeout=5.0)
            except httpx.TransportError:
                unreachable.append(f"{service.name} ({service.url})")
        if unreachable:
            raise DemoError(f"not reachable: {', '.join(unreachable)}. Run `make up` or `tandem up` first")
        self.enrolment.call("GET", "/subsidiaries")  # the token: a clear message now rather than later

    def onboard(self) -> dict[str, Any]:
        response = self.enrolment.call("GET", self.base, expect=(200, 404))
        if response.status_code == 200:
            subsidiary = response.json()
            self.say(f"  = subsidiary {self.sid} ({subsidiary['name']}) already onboarded")
            return subsidiary
        body = {"id": self.sid, "name": "Tandem demo pilot", "timezone": "Europe/Paris", "locale": "fr-FR"}
        subsidiary = self.enrolment.post("/subsidiaries", json=body)
        self.recorded += 1
        self.say(f"  + subsidiary {self.sid} onboarded: {subsidiary['name']}, {subsidiary['timezone']}")
        return subsidiary

    def configure(self) -> dict[str, Any]:
        current = self.enrolment.get(f"{self.base}/programme")
        if all(current.get(k) == v for k, v in PROGRAMME.items()):
            self.say(f"  = programme already configured: {_programme(current)}")
            return current
        programme = self.enrolment.call("PUT", f"{self.base}/programme", json=PROGRAMME).json()
        self.recorded += 1
        self.say(f"  + programme configured: {_programme(programme)}")
        return programme

    def participants(self) -> list[dict[str, Any]]:
        """Every participant of the subsidiary, page by page (the listing is limited)."""
        found: list[dict[str, Any]] = []
        while True:
            response = self.enrolment.call("GET", f"{self.base}/participants", params={"limit": 1000, "offset": len(found)})
            page = response.json()
            found += page
            if not page or len(found) >= int(response.headers.get("X-Total-Count", len(found))):
                return found

    def enrol(self) -> list[dict[str, Any]]:
        enrolled = {p["email"].casefold() for p in self.participants()}
        missing = [p for p in self.people if p.email.casefold() not in enrolled]
        if not missing:
            self.say(f"  = all {len(self.people)} participants already enrolled")
        else:
            response = self.enrolment.call(
                "POST", f"{self.base}/participants/import", content=to_csv(missing).encode(), headers={"Content-Type": "text/csv"}
            )
            imported = response.json()["imported"]
            self.recorded += imported
            roles = defaultdict(int)
            for p in missing:
                roles[p.role] += 1
            self.say(f"  + enrolled {imported} participants by one CSV import ({roles['mentor']} mentors, {roles['mentee']} mentees)")
        return self.participants()

    def certify(self, participants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ours = {p.email.casefold() for p in self.people if p.role == "mentor"}
        to_certify = [p for p in participants if p["role"] == "mentor" and p["status"] == "enrolled" and p["email"].casefold() in ours]
        for mentor in to_certify:
            self.enrolment.post(f"{self.base}/participants/{mentor['id']}/certify")
            self.recorded += 1
        certified = sum(1 for p in participants if p["role"] == "mentor" and p["status"] == "certified")
        if to_certify:
            self.say(f"  + certified {len(to_certify)} mentors (pedagogy training done)")
            return self.participants()
        self.say(f"  = all {certified} mentors already certified")
        return participants

    def match(self, participants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Matching learns of the subsidiary and its people from enrolment's events.
        def pool_known() -> tuple[bool, str]:
            status = self.matching.call("GET", f"{self.base}/pool", expect=(200, 404)).status_code
            return status == 200, "the subsidiary is still unknown to matching"

        wait_for("matching to learn of the subsidiary", pool_known, say=self.say)
        matches = self.matching.get(f"{self.base}/matches")
        if matches:
            active = [m for m in matches if m["status"] == "active"]
            self.say(f"  = matching already has {len(matches)} matches ({len(active)} active): no new run")
            return active

        mentors = {p["id"] for p in participants if p["role"] == "mentor" and p["status"] == "certified"}
        mentees = {p["id"] for p in participants if p["role"] == "mentee" and p["status"] == "enrolled"}

        def pool_complete() -> tuple[bool, str]:
            pool = self.matching.get(f"{self.base}/pool")
            seen_mentors = mentors & {m["id"] for m in pool["mentors"]}
            seen_mentees = mentees & {m["id"] for m in pool["mentees"]}
            done = len(seen_mentors) == len(mentors) and len(seen_mentees) == len(mentees)
            return done, f"its pool shows {len(seen_mentors)} of {len(mentors)} mentors and {len(seen_mentees)} of {len(mentees)} mentees"

        wait_for("matching's pool to show every certified mentor and every mentee", pool_complete, say=self.say)
        self.say(f"  = matching's pool: {len(mentors)} certified mentors, {len(mentees)} mentees waiting")
        for _ in range(3):
            run = self.matching.post(f"{self.base}/matching-runs", json={"format": "pair"})
            response = self.matching.call("POST", f"{self.base}/matching-runs/{run['id']}/publish", expect=(200, 409))
            if response.status_code == 200:
                published = response.json()["match_ids"]
                self.recorded += 1 + len(published)
                left = defaultdict(int)
                for u in run["unmatched"]:
                    left[u["role"]] += 1
                self.say(
                    f"  + pair run {run['id']}: {len(run['proposals'])} proposals; unmatched: {_n(left['mentee'], 'mentee')}, "
                    f"{_n(left['mentor'], 'mentor')} (see the run for why); published: {len(published)} matches"
                )
                return [m for m in self.matching.get(f"{self.base}/matches") if m["status"] == "active"]
            matches = self.matching.get(f"{self.base}/matches")
            if matches:  # published meanwhile by someone else
                self.say(f"  = matches were published meanwhile: {len(matches)}")
                return [m for m in matches if m["status"] == "active"]
            self.say(f"  … the pool changed while the run was drafted ({response.text[:200]}); running again")
        raise DemoError(f"the pair run could not be published: {response.text[:1000]}")

    def relationships(self, active_matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = {m["id"] for m in active_matches}
        found: list[dict[str, Any]] = []

        def opened() -> tuple[bool, str]:
            response = self.sessions.call("GET", f"{self.base}/relationships", expect=(200, 404))
            found[:] = response.json() if response.status_code == 200 else []
            seen = wanted & {r["match_id"] for r in found}
            return len(seen) == len(wanted), f"{len(seen)} of {len(wanted)} relationships opened"

        wait_for(f"sessions to open a relationship for each of the {len(wanted)} active matches", opened, say=self.say)
        active = [r for r in found if r["status"] == "active"]
        self.say(f"  = sessions shows {len(found)} relationships ({len(active)} active)")
        return active

    def schedule(
        self, relationships: list[dict[str, Any]], participants: list[dict[str, Any]], programme: dict[str, Any], tz: ZoneInfo
    ) -> None:
        """A first session for every relationship without one: a few start in seconds, to be
        held on the spot; the others in the coming weeks, in working hours, never two at once
        for anyone."""
        sessions = self.sessions.get(f"{self.base}/sessions")
        with_session = {s["relationship_id"] for s in sessions}
        bookings: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)  # participant -> booked times
        for s in sessions:
            if s["status"] != "cancelled":
                start = datetime.fromisoformat(s["starts_at"])
                for member in s["participants"]:
                    bookings[member["id"]].append((start, start + timedelta(minutes=s["duration_minutes"])))
        profiles = {p["id"]: p for p in participants}
        waiting = sorted(
            (r for r in relationships if r["id"] not in with_session), key=lambda r: (r["mentor"]["id"], r["matched_at"], r["id"])
        )
        duration = int(programme["session_minutes"])

        # A few sessions held on the spot: they start in a few seconds, one per mentor.
        spot = [s for s in sessions if _on_the_spot(s)]  # a no-show, cancelled, was one of them too
        need, mentors_taken = max(0, self.held - len(spot)), set()
        rng = random.Random(f"{SEED}:{self.sid}:spot")
        spot_now = []
        for rel in rng.sample(waiting, k=len(waiting)):
            if len(spot_now) >= need:
                break
            members = _members(rel)
            start = (datetime.now(UTC) + SPOT_DELAY).replace(microsecond=0)  # whole seconds, at least 2 s from now
            end = start + timedelta(minutes=duration)
            if rel["mentor"]["id"] in mentors_taken or any(_clash(bookings[m], start, end) for m in members):
                continue
            mentors_taken.add(rel["mentor"]["id"])
            self._book(rel, start, duration, None, f"{VIDEO}/{rel['id'][:8]}", bookings, programme)
            spot_now.append(rel["id"])
        if spot_now:
            self.say(f"  + booked {len(spot_now)} sessions starting in a few seconds, to be held on the spot")
        if len(spot_now) < need:
            self.say(
                f"  ! {self.held} sessions to hold on the spot were asked for, {len(spot) + len(spot_now)} booked: "
                "no other relationship is without a session"
            )

        # A first session for every other relationship, over the coming weeks.
        later = [r for r in waiting if r["id"] not in spot_now]
        days = _working_days(datetime.now(tz).date(), WEEKS_AHEAD * 5)
        nth: dict[str, int] = defaultdict(int)
        places = defaultdict(int)
        for rel in later:
            k = nth[rel["mentor"]["id"]]
            nth[rel["mentor"]["id"]] += 1
            members = _members(rel)
            rng = random.Random(f"{SEED}:{rel['id']}")
            start = next(
                (s for s in _candidate_starts(rel, profiles, days, k, duration, tz, rng)
                 if not any(_clash(bookings[m], s, s + timedelta(minutes=duration)) for m in members)),
                None,
            )  # fmt: skip
            if start is None:
                self.say(f"  ! no free time found for relationship {rel['id']} in the next {WEEKS_AHEAD} weeks; left unbooked")
                continue
            mentor, mentees = profiles.get(rel["mentor"]["id"]), [profiles.get(m["id"]) for m in rel["mentees"]]
            same_site = mentor is not None and all(m is not None and m["site"] == mentor["site"] for m in mentees)
            if same_site and rng.random() < 0.7:
                location, link = f"{mentor['site']}, {rng.choice(ROOMS)}", None
                places["on site"] += 1
            else:
                location, link = None, f"{VIDEO}/{rel['id'][:8]}"
                places["by video"] += 1
            self._book(rel, start, duration, location, link, bookings, programme)
        if later:
            first, last = days[0], days[-1]
            self.say(
                f"  + booked a first session for {len(later)} relationships between {first:%d %b} and {last:%d %b} "
                f"({places['on site']} on site, {places['by video']} by video)"
            )
        if not spot_now and not later:
            self.say(f"  = every relationship already has a session ({len(sessions)} sessions)")

    def _book(
        self, rel: dict[str, Any], start: datetime, duration: int, location: str | None, link: str | None, bookings: dict, programme: dict
    ) -> None:
        body: dict[str, Any] = {
            "relationship_id" if rel["format"] == "pair" else "group_id": rel["id"],
            "theme": rel["theme"] or programme["themes"][0],  # a pair sharing no theme has none
            "starts_at": start.isoformat(),
            "duration_minutes": duration,
        }
        if location:
            body["location"] = location
        if link:
            body["video_link"] = link
        self.sessions.post(f"{self.base}/sessions", json=body)
        self.recorded += 1
        for member in _members(rel):
            bookings[member].append((start, start + timedelta(minutes=duration)))

    def hold(self) -> None:
        """Attendance, feedback and completion for the sessions booked on the spot; a session
        its mentee did not come to is cancelled as a no-show (it is not a session held)."""
        spot = [s for s in self.sessions.get(f"{self.base}/sessions") if _on_the_spot(s)]
        spot.sort(key=lambda s: (s["scheduled_at"], s["id"]))
        unfinished = [s for s in spot if not _finished(s)]
        if not spot:
            self.say("  = no sessions to hold on the spot")
            return
        if not unfinished:
            held = sum(s["status"] == "held" for s in spot)
            cancelled = len(spot) - held  # the no-shows: cancelled, not held
            self.say(f"  = {_n(held, 'session')} already held and {cancelled} cancelled as no-shows, with attendance and feedback")
            return
        latest = max(datetime.fromisoformat(s["starts_at"]) for s in unfinished)
        wait = (latest - datetime.now(UTC)).total_seconds()
        if wait > 0:
            self.say(f"  … waiting {wait:.0f} s for the sessions to start")
            time.sleep(wait + 0.2)
        present_count = absent_count = feedback_count = no_shows = 0
        for index, session in enumerate(spot):
            if _finished(session):
                continue
            path = f"{self.base}/sessions/{session['id']}"
            rng = random.Random(f"{SEED}:{session['id']}")
            given = {f["participant_id"] for f in session["feedback"]}
            came = set()
            for member in session["participants"]:
                present = member["present"]
                if present is None:
                    present = not (member["role"] == "mentee" and index % 8 == 5)  # a few mentees do not come
                    self._started(f"{path}/attendance", {"participant_id": member["id"], "present": present})
                    self.recorded += 1
                    present_count, absent_count = present_count + present, absent_count + (not present)
                if present:
                    came.add(member["role"])
                if present and member["id"] not in given:
                    rating = rng.choices([3, 4, 5], weights=[15, 45, 40])[0]
                    comments = COMMENTS[member["role"]].get(session["theme"], COMMENTS["any"])
                    body = {"participant_id": member["id"], "rating": rating, "comment": rng.choice(comments)}
                    self._started(f"{path}/feedback", body)
                    self.recorded += 1
                    feedback_count += 1
            if session["status"] == "scheduled" and came == {"mentor", "mentee"}:
                self._started(f"{path}/complete")
                self.recorded += 1
            elif session["status"] == "scheduled":
                self.sessions.post(f"{path}/cancel", json={"reason": "no-show: the mentee did not come"})
                self.recorded += 1
                no_shows += 1
        self.say(
            f"  + {len(unfinished) - no_shows} sessions held and {no_shows} cancelled as no-shows: attendance "
            f"{present_count} present, {absent_count} absent; {feedback_count} feedbacks"
        )

    def _started(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A command that needs the session to have started: the service's clock decides."""
        deadline = time.monotonic() + 15
        while True:
            try:
                return self.sessions.post(path, json=body)
            except DemoError as exc:
                if "has not started yet" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def summary(self, participants: list[dict[str, Any]], urls: dict[str, str], elapsed: float) -> None:
        mentors = [p for p in participants if p["role"] == "mentor" and p["status"] != "withdrawn"]
        mentees = [p for p in participants if p["role"] == "mentee" and p["status"] != "withdrawn"]
        certified = sum(1 for p in mentors if p["status"] == "certified")

        # Sessions learns of the people through Kafka too: wait for its figures to agree.
        def caught_up() -> tuple[bool, str]:
            d = self.sessions.get(f"{self.base}/dashboard")
            ok = (d["mentors"], d["certified_mentors"], d["mentees"]) == (len(mentors), certified, len(mentees))
            return ok, f"its dashboard counts {d['mentors']} mentors, {d['mentees']} mentees"

        wait_for("the sessions dashboard to count every participant", caught_up, say=self.say)
        d = self.sessions.get(f"{self.base}/dashboard")
        matches = self.matching.get(f"{self.base}/matches")
        waiting = len(self.matching.get(f"{self.base}/pool")["mentees"])
        rel, ses, att, avg = d["relationships"], d["sessions"], d["attendance"], d["average_rating"]

        def rating(role: str) -> str:
            r = avg[role]
            return f"{r['count']} from {role}s (average {r['average']:.1f}/5)" if r["count"] else f"none from {role}s"

        rate = f"{d['match_rate']:.0%}" if d["match_rate"] is not None else "n/a"
        new = f"{self.recorded} changes recorded" if self.recorded else "nothing new recorded: everything was already there"
        say = self.say
        say(f"\nThe pilot {self.sid!r} is ready ({elapsed:.1f} s; {new}).")
        say(f"  participants   {len(mentors) + len(mentees)}: {len(mentors)} mentors ({certified} certified), {len(mentees)} mentees")
        active = sum(m["status"] == "active" for m in matches)
        say(f"  matches        {active} active; {d['matched_mentees']} mentees matched ({rate}), {waiting} still waiting")
        say(f"  relationships  {rel['active']} active, {rel['completed']} completed, {rel['closed']} closed")
        say(f"  sessions       {ses['scheduled']} scheduled, {ses['held']} held, {ses['cancelled']} cancelled")
        say(f"  attendance     {att['recorded']} recorded: {att['present']} present, {att['no_shows']} no-shows")
        say(f"  feedback       {rating('mentor')}, {rating('mentee')}")
        e, m, s = urls["enrolment"], urls["matching"], urls["sessions"]
        say("\nWhere to look:")
        say(f"  console        {self.console}{self.base}  (the pilot's dashboard; the group's: {self.console}/dashboard)")
        say("                 sign in with a token from `tandem token --role group-admin`")
        say(f"  API docs       {e}/docs (enrolment)  {m}/docs (matching)  {s}/docs (sessions)")
        say("\nThe APIs answer a bearer token (401 without one), as in:")
        say("  TOKEN=$(tandem token --role group-admin)   # or .venv/bin/tandem, from this directory")
        say('  H="Authorization: Bearer $TOKEN"')
        say(f'  curl -s -H "$H" {s}{self.base}/dashboard')
        say(f'  curl -s -H "$H" "{e}{self.base}/participants?role=mentor&limit=5"')
        say(f'  curl -s -H "$H" "{m}{self.base}/matches?status=active"')
        say(f'  curl -s -H "$H" "{s}{self.base}/relationships?status=active"')
        say(f'  curl -s -H "$H" "{s}{self.base}/sessions?status=held"')


def run_demo(
    subsidiary: str = DEFAULT_SUBSIDIARY,
    token: str = "",
    held: int = DEFAULT_HELD,
    urls: dict[str, str] | None = None,
    out: Callable[[str], None] | None = None,
    console: str | None = None,
) -> int:
    """Load the pilot; 0 when done, 1 with a clear message when something is in the way."""
    say = out or (lambda line: print(line, flush=True))
    urls = urls or service_urls()
    started = time.monotonic()
    demo = Demo(subsidiary, token, held, urls, say, console or console_url())
    try:
        say(f"tandem demo: the pilot {subsidiary!r} on {', '.join(f'{name} {url}' for name, url in urls.items())}")
        demo.check_services()
        subsidiary_record = demo.onboard()
        programme = demo.configure()
        participants = demo.enrol()
        participants = demo.certify(participants)
        active = demo.match(participants)
        relationships = demo.relationships(active)
        demo.schedule(relationships, participants, programme, ZoneInfo(subsidiary_record.get("timezone") or "Europe/Paris"))
        demo.hold()
        demo.summary(participants, urls, time.monotonic() - started)
        return 0
    except DemoError as exc:
        print(f"tandem demo: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("tandem demo: interrupted; run it again to finish (each step picks up what is left)", file=sys.stderr, flush=True)
        return 130
    finally:
        demo.close()


# -- helpers ----------------------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _programme(p: dict[str, Any]) -> str:
    gap = p["min_age_gap"]
    age = f"mentors at least {gap} year{'s' if gap != 1 else ''} younger than their mentees" if gap is not None else "no age rule"
    return (
        f"{len(p['themes'])} themes, up to {p['mentor_capacity']} mentees a mentor, {p['target_sessions']} sessions "
        f"of {p['session_minutes']} min, {age}"
    )


def _members(rel: dict[str, Any]) -> list[str]:
    return [rel["mentor"]["id"], *(m["id"] for m in rel["mentees"])]


def _on_the_spot(session: dict[str, Any]) -> bool:
    """Booked to start within minutes: one of the sessions the demo holds on the spot
    (the others are booked for the coming days)."""
    booked, starts = datetime.fromisoformat(session["scheduled_at"]), datetime.fromisoformat(session["starts_at"])
    return starts - booked < timedelta(minutes=5)


def _finished(session: dict[str, Any]) -> bool:
    if session["status"] == "cancelled":
        return True  # a no-show: nothing more to record
    given = {f["participant_id"] for f in session["feedback"]}
    return session["status"] == "held" and all(
        p["present"] is not None and (not p["present"] or p["id"] in given) for p in session["participants"]
    )


def _clash(booked: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return any(s < end and start < e for s, e in booked)


def _working_days(today: date, count: int) -> list[date]:
    days, day = [], today
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def _candidate_starts(
    rel: dict[str, Any], profiles: dict[str, dict[str, Any]], days: list[date], k: int, duration: int, tz: ZoneInfo, rng: random.Random
) -> Iterable[datetime]:
    """Start times for a relationship's first session, best first: the half-days every
    member is available (else any member), in the week given by the mentor's k-th mentee
    (so a mentor's mentees are spread over the weeks), then the other weeks; then any
    working half-day."""
    availability = [set(profiles.get(m, {}).get("availability") or []) for m in _members(rel)]
    shared = set.intersection(*availability) if availability else set()
    preferred = (shared or set.union(*availability)) if availability else set()
    weeks = [days[i : i + 5] for i in range(0, len(days), 5)]
    order = [weeks[(k + i) % len(weeks)] for i in range(len(weeks))]
    first, rest = [], []
    for week in order:
        for day in rng.sample(week, k=len(week)):
            for half, (opens, closes) in HALF_DAYS.items():
                slot = f"{WEEKDAYS[day.weekday()]}-{half}"
                starts = []
                t = datetime.combine(day, opens, tz)
                while t + timedelta(minutes=duration) <= datetime.combine(day, closes, tz):
                    starts.append(t)
                    t += timedelta(minutes=30)
                (first if slot in preferred else rest).extend(rng.sample(starts, k=len(starts)))
    yield from first
    yield from rest
