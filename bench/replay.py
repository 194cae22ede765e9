"""Benchmark: rebuilding a read model from the event store (replay) against the anchor, the
raw read of the same store's notification log.

    .venv/bin/python bench/replay.py [--events 1000000] [--repeats 3] [--quick] [--seed 20240601]
                                     [--json PATH] [--keep]

One SQLite store in a temporary directory is filled with `--events` realistic events
through the real SessionsApplication (its normal constructor: whatever recorder and mapper
the service uses, the bench uses): its real aggregates, changed by their own domain methods
and saved many at a time (one `save` per ~20,000 events). The mix, drawn from the seed, per
relationship (10% mini-session groups of 3 to 6 mentees, the rest pairs, a mentor leading up
to 5): 55% hold their 5 sessions and complete; 25% hold 1 to 4 and have one booked; 8% have
a no-show cancelled after 0 to 2 held; 5% close early, their booked session cancelled; 7%
nothing booked yet. A held session has attendance for every member and feedback from most;
a fifth of relationships have a follow-up note. Each session is booked in every member's
agenda. Each subsidiary (one per 100,000 events) has its roster: the programme and every
participant noted, mentors certified.

Then, on the same application and store, each repeat measures (order rotated, after one
untimed pass that warms the OS cache and counts the event types):

* anchor: `app.recorder.select_notifications` paging through the whole log, pages of
  `LogFollowingView.page_size` (5,000), as a view does, doing nothing with them;
* rebuild: a new `SessionsView(app)` catching up over the same log (`catch_up()`: read,
  `mapper.to_domain_event`, `apply`), events/s;
* context: decoding only (read and `mapper.to_domain_event`, no apply), which splits the
  rebuild's time into the library's share and the view's.

Once, as context: `replay_read_models(app)` end to end (the live view caught up, both
snapshots, the comparison), as `tandem audit replay` runs it. Figures are medians over the
repeats. The target: the rebuild at least 25% of the raw read rate. The machine is shared
and noisy: compare the ratio of the same run, not absolute rates across runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from services.common.context import acting  # noqa: E402
from services.common.replay import replay_read_models  # noqa: E402
from services.common.view import LogFollowingView  # noqa: E402
from services.sessions.application import SessionsApplication  # noqa: E402
from services.sessions.domain import Agenda, Relationship, Roster, ends_at  # noqa: E402
from services.sessions.view import SessionsView  # noqa: E402
from environment import scrub_environment  # noqa: E402  (bench/, beside this script)

TARGET = 0.25  # the rebuild at least a quarter of the raw read rate
QUICK_EVENTS = 50_000
SAVE_EVERY = 20_000  # events per save() call
EVENTS_PER_SUBSIDIARY = 100_000
THEMES = ["information search", "networking", "managing one's data on social networks", "online learning"]
PROGRAMME = {"themes": THEMES, "mentor_capacity": 5, "mini_session_max": 6, "target_sessions": 5, "session_minutes": 90, "min_age_gap": 1}
T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # the first matches
NOW = T0 + timedelta(days=400)  # every session held before this; those booked later are after it
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
ACTOR = {"subject": "bench-admin", "role": "group-admin"}


# ---------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------


class Filler:
    """Changes real aggregates with their domain methods and saves them in large batches."""

    def __init__(self, app: SessionsApplication, rng: random.Random) -> None:
        self.app = app
        self.rng = rng
        self.enrolled: dict[str, int] = {}  # participants noted so far, per subsidiary
        self.changed: dict[uuid.UUID, Any] = {}
        self.saved = 0
        self.saves = 0

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def touch(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            self.changed[aggregate.id] = aggregate

    def pending(self) -> int:
        return sum(len(a.pending_events) for a in self.changed.values())

    def save(self) -> None:
        count = self.pending()
        if count:
            self.app.save(*self.changed.values())
            self.saved += count
            self.saves += 1
        self.changed = {}

    def subsidiary(self, n: int, budget: int) -> None:
        """One subsidiary's roster and relationships, until about `budget` events."""
        sid = f"bench-{n:02d}"
        context = {"subsidiary_id": sid, "actor": ACTOR, "correlation_id": f"bench-{sid}", "causation_id": None}
        with acting(**context):  # every event of the fill is one bench command's
            roster = Roster(subsidiary_id=sid)
            roster.note_subsidiary(name=f"Bench Assurances {n}", timezone="Europe/Paris")
            roster.note_programme(settings=PROGRAMME)
            self.touch(roster)
            start = self.saved + self.pending()
            mentor, mentor_agenda, led = "", None, 5
            while self.saved + self.pending() - start < budget:
                if led == 5:  # the mentor leads no more: a new one
                    mentor, led = self.person(roster, "mentor"), 0
                    mentor_agenda = Agenda(participant_id=mentor, subsidiary_id=sid)
                led += 1
                group = self.rng.random() < 0.10
                mentees = [self.person(roster, "mentee") for _ in range(self.rng.randint(3, 6) if group else 1)]
                agendas = [mentor_agenda, *(Agenda(participant_id=m, subsidiary_id=sid) for m in mentees)]
                self.relationship(sid, mentor, mentees, "mini-session" if group else "pair", agendas, led)
                self.touch(roster, *agendas)
                if self.pending() >= SAVE_EVERY:
                    self.save()

    def person(self, roster: Roster, role: str) -> str:
        pid = self.uid()
        n = self.enrolled[roster.subsidiary_id] = self.enrolled.get(roster.subsidiary_id, 0) + 1
        roster.note_participant(
            participant_id=pid, role=role, name=f"{role.title()} {n}", email=f"{role}.{n}@{roster.subsidiary_id}.example.com",
            as_of=(T0 - 30 * DAY).isoformat(),
        )
        if role == "mentor" and self.rng.random() < 0.9:
            roster.note_certified(participant_id=pid)
        return pid

    def relationship(self, sid: str, mentor: str, mentees: list[str], fmt: str, agendas: list[Agenda], led: int) -> None:
        rng = self.rng
        matched_at = T0 + timedelta(minutes=rng.randrange(300 * 24 * 60))
        rel = Relationship(
            subsidiary_id=sid, match_id=self.uid(), format=fmt, mentor_id=mentor, mentee_ids=mentees,
            theme=rng.choice(THEMES) if fmt == "mini-session" else None, target_sessions=5, session_minutes=90,
            matched_at=matched_at,
        )
        self.touch(rel)
        draw = rng.random()
        held, booked, no_show, close = (
            (5, False, False, False) if draw < 0.55
            else (rng.randint(1, 4), True, False, False) if draw < 0.80
            else (rng.randint(0, 2), False, True, False) if draw < 0.88
            else (rng.randint(0, 3), True, False, True) if draw < 0.93
            else (0, False, False, False)
        )
        # The mentor's k-th relationship meets at its own hour, so no one is booked twice at once.
        first = matched_at.replace(hour=8 + led, minute=0) + 2 * DAY

        def schedule(at: datetime) -> str:
            session_id = self.uid()
            rel.schedule(session_id, rng.choice(THEMES), at, 90, "Room 4.12" if rng.random() < 0.7 else None,
                         None if rng.random() < 0.7 else "https://meet.example.com/x", matched_at)  # booked when matched
            for agenda in agendas:
                agenda.book(session_id=session_id, starts_at=at, ends_at=ends_at(at, 90))
            return session_id

        for k in range(held):
            at = first + 7 * k * DAY
            session_id = schedule(at)
            after = at + 2 * HOUR
            for member in rel.members:
                rel.record_attendance(session_id, member, True, after)
            for member in rel.members:
                if rng.random() < 0.6:
                    rel.give_feedback(session_id, member, rng.choices([2, 3, 4, 5], [1, 3, 8, 8])[0], None, after)
            rel.complete_session(session_id, after)
        if no_show:
            session_id = schedule(first + 7 * held * DAY)
            rel.record_attendance(session_id, mentees[0], False, NOW)
            rel.cancel(session_id, "no-show")
            for agenda in agendas:
                agenda.release(session_id=session_id)
        if booked:
            session_id = schedule(NOW + rng.randint(1, 60) * DAY + led * HOUR)
            if close:
                for cancelled in rel.close("the mentee changed team"):
                    for agenda in agendas:
                        agenda.release(session_id=cancelled)
        if rng.random() < 0.2 and not close:
            rel.add_note(mentees[0], "Thanks, see you next week", NOW)


def fill(app: SessionsApplication, events: int, seed: int, progress: Callable[[str], None]) -> dict[str, Any]:
    filler = Filler(app, random.Random(seed))
    subsidiaries = max(1, round(events / EVENTS_PER_SUBSIDIARY))
    started = time.perf_counter()
    for n in range(subsidiaries):
        filler.subsidiary(n, events * (n + 1) // subsidiaries - (filler.saved + filler.pending()))
        filler.save()
        progress(f"fill: subsidiary {n + 1}/{subsidiaries}, {filler.saved:,} events in {time.perf_counter() - started:.0f}s")
    return {"events": filler.saved, "saves": filler.saves, "subsidiaries": subsidiaries, "seconds": time.perf_counter() - started}


# ---------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------


def read_raw(app: SessionsApplication, page_size: int = LogFollowingView.page_size) -> int:
    """The anchor: the view's paging loop, doing nothing with what it reads."""
    position = count = 0
    while True:
        notifications = app.recorder.select_notifications(start=position, limit=page_size, inclusive_of_start=False)
        count += len(notifications)
        if len(notifications) < page_size:
            return count
        position = notifications[-1].id


def decode_only(app: SessionsApplication, page_size: int = LogFollowingView.page_size) -> int:
    position = count = 0
    to_domain_event = app.mapper.to_domain_event
    while True:
        notifications = app.recorder.select_notifications(start=position, limit=page_size, inclusive_of_start=False)
        for notification in notifications:
            to_domain_event(notification)
        count += len(notifications)
        if len(notifications) < page_size:
            return count
        position = notifications[-1].id


def rebuild(app: SessionsApplication) -> int:
    view = SessionsView(app)
    view.catch_up()
    return view.position


def event_mix(app: SessionsApplication) -> Counter[str]:
    """The stored events by type (an untimed pass, which also warms the OS cache)."""
    mix: Counter[str] = Counter()
    position = 0
    while True:
        notifications = app.recorder.select_notifications(start=position, limit=5000, inclusive_of_start=False)
        mix.update(n.topic.rpartition(":")[2] for n in notifications)
        if len(notifications) < 5000:
            return mix
        position = notifications[-1].id


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    count = fn()
    return time.perf_counter() - started, count


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to store (about; the last relationship is whole)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"a fast check: {QUICK_EVENTS:,} events, one repeat")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (the SQLite store)")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.repeats = QUICK_EVENTS, 1
    if args.events < 1 or args.repeats < 1:
        parser.error("--events and --repeats must be at least 1")

    removed = scrub_environment(("SESSIONS_",))
    if removed:
        print(f"note: ignoring {', '.join(sorted(removed))} (the bench uses its own SQLite store)", file=sys.stderr)
    progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    load_at_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tandem-bench-replay-"))
    db = workdir / "sessions.db"
    started = time.perf_counter()
    try:
        app = SessionsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)})
        filled = fill(app, args.events, args.seed, progress)
        stored = app.recorder.max_notification_id() or 0
        size = sum(f.stat().st_size for f in workdir.iterdir())
        mix = event_mix(app)
        progress(f"store: {stored:,} events, {size / 1e6:,.0f} MB; filled in {filled['seconds']:.0f}s ({filled['saves']} saves)")

        kinds = {"raw": lambda: read_raw(app), "decode": lambda: decode_only(app), "rebuild": lambda: rebuild(app)}
        seconds: dict[str, list[float]] = {name: [] for name in kinds}
        names = list(kinds)
        for r in range(args.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                took, count = timed(kinds[name])
                if count != stored:
                    raise SystemExit(f"{name} read {count:,} events, the store has {stored:,}")
                seconds[name].append(took)
                progress(f"repeat {r + 1}: {name} {took:.2f}s ({count / took:,.0f} events/s)")

        # Context: the audit's whole replay, once (the live view is this app's own).
        took, report = timed_report(app)
        progress(f"replay_read_models: {took:.1f}s, ok={report['ok']}")
        app.close()
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    result = summarise(stored, size, filled, mix, seconds, took, report, args, (load_at_start, os.getloadavg()[0]), time.perf_counter() - started)
    print(result["markdown"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: v for k, v in result.items() if k != "markdown"}, indent=2) + "\n")
    return 0 if report["ok"] else 1


def timed_report(app: SessionsApplication) -> tuple[float, dict[str, Any]]:
    gc.collect()
    started = time.perf_counter()
    report = replay_read_models(app)
    return time.perf_counter() - started, report


def summarise(
    stored: int, size: int, filled: dict[str, Any], mix: Counter[str], seconds: dict[str, list[float]], replay_s: float,
    report: dict[str, Any], args: argparse.Namespace, load: tuple[float, float], total: float,
) -> dict[str, Any]:
    rate = {name: stored / statistics.median(times) for name, times in seconds.items()}
    per_repeat = [raw / built for raw, built in zip(seconds["raw"], seconds["rebuild"])]
    ratio = rate["rebuild"] / rate["raw"]
    met = ratio >= TARGET
    top = ", ".join(f"{name} {count / stored:.0%}" for name, count in mix.most_common(8))
    lines = [
        f"Replay: median of {args.repeats} repeat(s), {datetime.now().strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite file, 1-min load average {load[0]:.2f} at the start, {load[1]:.2f} at the end; "
        f"whole run {total:.0f} s.",
        "",
        "| Stored events (file) | Raw `select_notifications` events/s (anchor) | Rebuild `SessionsView.catch_up()` events/s "
        "| Rebuild ÷ raw (per repeat) | Target | Verdict |",
        "|---|---:|---:|---:|---:|---|",
        f"| {stored:,} ({size / 1e6:,.0f} MB) | {rate['raw']:,.0f} | {rate['rebuild']:,.0f} "
        f"| **{ratio:.2f}** ({', '.join(f'{r:.2f}' for r in per_repeat)}) | {TARGET:.2f} | **{'met' if met else 'NOT met'}** |",
        "",
        "Context, not anchors:",
        "",
        f"- decoding only (read and `mapper.to_domain_event`, no apply): {rate['decode']:,.0f} events/s "
        f"({rate['decode'] / rate['raw']:.2f} of raw): of the rebuild's time, reading is "
        f"{rate['rebuild'] / rate['raw']:.0%}, decoding {rate['rebuild'] / rate['decode'] - rate['rebuild'] / rate['raw']:.0%}, "
        f"the view's `apply` {1 - rate['rebuild'] / rate['decode']:.0%};",
        f"- `replay_read_models(app)` end to end (live view caught up, both snapshots, compared): {replay_s:.1f} s, "
        f"ok: {report['ok']};",
        f"- fill: {filled['seconds']:.0f} s ({stored / filled['seconds']:,.0f} events/s, {filled['saves']} `save` calls, "
        f"{filled['subsidiaries']} subsidiaries through the real aggregates);",
        f"- event mix: {top}.",
    ]
    return {
        "events": stored,
        "store_bytes": size,
        "fill": filled,
        "mix": dict(mix),
        "seconds": seconds,
        "rate_events_per_second": rate,
        "ratio": ratio,
        "ratio_per_repeat": per_repeat,
        "target": TARGET,
        "met": met,
        "replay_read_models_seconds": replay_s,
        "replay_ok": report["ok"],
        "load_average_1min": {"start": load[0], "end": load[1]},
        "markdown": "\n".join(lines),
    }


if __name__ == "__main__":
    sys.exit(main())
