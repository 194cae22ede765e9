"""Benchmark: the sessions dashboards (SessionsView.dashboard and group_dashboard, projections
kept as counters) against the anchor, the same figures computed by scanning every
relationship, session and participant the view holds.

    .venv/bin/python bench/dashboard.py [--sizes 55x250,800x4000] [--calls 200] [--rounds 5] [--warmup 50]
                                        [--seed 20240601] [--json PATH] [--keep]

A size is MENTORSxMENTEES; each mentee is in one pair (so as many relationships as mentees),
mentor i % MENTORS. For each size the state is built in process, in a fresh SQLite file,
with the real SessionsApplication: enrolment's and matching's integration events (built from
the contract classes) go through `apply_events` in batches of 1,000, then sessions go through
the application's commands with an explicit clock. The mix, drawn from the seed, per
relationship: 62% first session held (attendance recorded, most members give feedback), and a
third of those a second one held, which completes the relationship (target 2 sessions); 28%
a session booked after the dashboard's clock; 6% their session cancelled and nothing booked
since; 4% a no-show (the mentee recorded absent, the session cancelled). Then 2% of the
mentees with a future session withdraw (ParticipantWithdrawn + MatchEnded): their
relationship closes. 85% of mentors are certified. The dashboards are read 40 days after the
matches, so every relationship with nothing booked (about 10%) is stalled.

Building 2,000 x 10,000 takes about 40 s (every command costs about the same at any size:
a command reads the programme from the view, not from the subsidiary's roster aggregate,
whose copy out of the cache grows with the subsidiary). The dashboards are then measured on
a fresh SessionsApplication over the same file, its view rebuilt from the store.

Measured per size, each call timed alone, `--calls` calls per round after `--warmup` calls,
`--rounds` rounds with the order rotated, the garbage collector off during a round (as
timeit does):

* projection: `view.dashboard(sid, now)`, as the API calls it (catch_up included);
* anchor: catch_up, then the same dict derived by one pass over the subsidiary's
  relationships, sessions and participants (formatted by the same `Figures.report`). Its
  output must equal the projection's, at every size and in the worst case below; the script
  exits 1 otherwise;
* `view.group_dashboard(now)` (each size is its own store, so the group has one subsidiary);
* context, not anchors: `catch_up()` alone (one indexed select when nothing is new),
  `dashboard()` without the stalled list (catch_up and the counters' report), the whole
  list of stalled relationships (`awaiting.since_before`: found by bisection, then listed;
  the dashboard names at most `STALLED_SHOWN` of them), and the worst case for it,
  `dashboard()` just after the matches opened, when every relationship is active, has nothing
  booked and is stalled.

Figures are the median of the per-round medians. The machine is shared and noisy; compare
the ratios of the same run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from contracts import enrolment, matching  # noqa: E402
from services.common.context import acting  # noqa: E402
from services.sessions.application import SessionsApplication  # noqa: E402
from services.sessions.domain import ACTIVE, CLOSED, HELD, MENTOR, SCHEDULED, STALLED_AFTER, relationship_id  # noqa: E402
from services.sessions.view import STALLED_SHOWN, Figures, SessionsView  # noqa: E402
from environment import scrub_environment  # noqa: E402  (bench/, beside this script)

DEFAULT_SIZES = "55x250,2000x10000"
BATCH = 1000  # integration events per apply_events call
THEMES = ["information search", "networking", "managing one's data on social networks", "online learning"]
PROGRAMME = {"themes": THEMES, "mentor_capacity": 5, "mini_session_max": 5, "target_sessions": 2, "session_minutes": 60, "min_age_gap": 5}
T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # the matches are confirmed
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
BOOKED_AT = T0 + DAY  # the clock when sessions are scheduled
CONTEXT = {"actor": {"subject": "bench-admin", "role": "group-admin"}, "correlation_id": "bench-dashboard", "causation_id": "bench"}
GROWTH_LIMIT = 2.0  # "costs the same": the projection may grow by at most this much (noise) from the smallest size


# ---------------------------------------------------------------------------------------
# The state: upstream events, then sessions through the application's commands
# ---------------------------------------------------------------------------------------


def upstream(cls: Any, subsidiary: str, payload: dict[str, Any], at: datetime) -> Any:
    """An event of enrolment or matching as sessions' consumer receives it."""
    return cls(
        event_id=uuid.uuid4(), subsidiary_id=subsidiary, occurred_at=at, producer=cls.PRODUCER,
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="bench", payload=payload,
    )


def enrolled(subsidiary: str, role: str, n: int, rng: random.Random) -> tuple[str, Any]:
    pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    payload = {
        "participant_id": pid,
        "role": role,
        "personal_data": {
            "name": f"{role.title()} {n}", "email": f"{role}.{n}@{subsidiary}.example.com",
            "birth_year": 1998 if role == "mentor" else 1965, "manager_email": None,
        },
        "department": "Claims",
        "site": "Paris La Défense",
        "languages": ["fr"],
        "themes": rng.sample(THEMES, 2),
        "availability": ["mon-am"],
    }
    return pid, upstream(enrolment.ParticipantEnrolled, subsidiary, payload, T0 - 30 * DAY)


@dataclass
class State:
    app: SessionsApplication
    subsidiary_id: str
    now: datetime  # the dashboards' clock
    n_mentors: int
    n_mentees: int
    events: int = 0
    commands: int = 0
    sessions: int = 0
    seconds_events: float = 0.0
    seconds_commands: float = 0.0
    by_command: dict[str, list[float]] = field(default_factory=dict)  # command -> [calls, seconds]
    worst_case: dict[str, Any] = field(default_factory=dict)  # dashboard() with every relationship stalled


def store_env(workdir: Path, subsidiary_id: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(workdir / f"{subsidiary_id}.db")}


def build(workdir: Path, n_mentors: int, n_mentees: int, seed: int, measure_worst_case: Callable[[State], dict[str, Any]],
          progress: Callable[[str], None]) -> State:
    rng = random.Random(f"{seed}-{n_mentors}x{n_mentees}")
    sid = f"bench-{n_mentors}x{n_mentees}"
    app = SessionsApplication(env=store_env(workdir, sid))
    # Each mentor has up to `per_mentor` relationships; their k-th one books its sessions at
    # base + 2k hours, so that no member is ever booked twice at once.
    per_mentor = math.ceil(n_mentees / n_mentors)
    span = per_mentor * 2 * HOUR
    first_at, second_at = T0 + 2 * DAY, T0 + 3 * DAY + span
    now = max(T0 + 40 * DAY, second_at + span + DAY)
    future_at = now + 7 * DAY
    state = State(app, sid, now, n_mentors, n_mentees)

    def apply(events: list[Any]) -> None:
        started = time.perf_counter()
        for i in range(0, len(events), BATCH):
            app.apply_events(events[i : i + BATCH])
        state.seconds_events += time.perf_counter() - started
        state.events += len(events)

    # -- enrolment and matching ------------------------------------------------------------
    events: list[Any] = [
        upstream(enrolment.SubsidiaryOnboarded, sid, {"name": "Bench Assurances", "timezone": "Europe/Paris", "locale": "fr-FR"}, T0 - 60 * DAY),
        upstream(enrolment.ProgrammeConfigured, sid, {**PROGRAMME, "mentor_capacity": min(50, per_mentor)}, T0 - 60 * DAY),
    ]
    mentors, mentees = [], []
    for n in range(n_mentors):
        pid, e = enrolled(sid, "mentor", n, rng)
        mentors.append(pid)
        events.append(e)
        if rng.random() < 0.85:
            events.append(upstream(enrolment.MentorCertified, sid, {"participant_id": pid}, T0 - 20 * DAY))
    for n in range(n_mentees):
        pid, e = enrolled(sid, "mentee", n, rng)
        mentees.append(pid)
        events.append(e)
    pairs = []  # (relationship id, match id, mentor, mentee, k-th of the mentor's)
    for i, mentee in enumerate(mentees):
        mentor, theme = mentors[i % n_mentors], rng.choice(THEMES)
        match_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        payload = {
            "match_id": match_id, "run_id": "00000000-0000-4000-8000-000000000001", "format": "pair",
            "mentor_id": mentor, "mentee_ids": [mentee], "theme": theme, "shared_themes": [theme], "language": "fr", "score": 7,
        }
        events.append(upstream(matching.MatchConfirmed, sid, payload, T0))
        pairs.append((relationship_id(match_id), match_id, mentor, mentee, i // n_mentors))
    apply(events)
    app.view.catch_up()
    progress(f"{sid}: {state.events:,} upstream events applied in {state.seconds_events:.1f}s")
    state.worst_case = measure_worst_case(state)

    # -- sessions --------------------------------------------------------------------------
    def command(name: str, *args: Any) -> Any:
        state.commands += 1
        began = time.perf_counter()
        try:
            with acting(**CONTEXT, subsidiary_id=sid):
                return getattr(app, name)(sid, *args)
        finally:
            tally = state.by_command.setdefault(name, [0, 0.0])
            tally[0] += 1
            tally[1] += time.perf_counter() - began

    def held(rel: Any, mentor: str, mentee: str, starts_at: datetime) -> None:
        session = command("schedule_session", rel, "pair", rng.choice(THEMES), starts_at, None, "Room 4.12", None, BOOKED_AT)
        after = starts_at + 2 * HOUR
        command("record_attendance", session, mentor, True, after)
        command("record_attendance", session, mentee, True, after)
        for who, p in ((mentor, 0.8), (mentee, 0.9)):
            if rng.random() < p:
                rating = rng.choices([2, 3, 4, 5], [1, 3, 8, 8])[0]
                command("give_feedback", session, who, rating, None, after)
        command("complete_session", session, after)
        state.sessions += 1

    started = time.perf_counter()
    booked_later = []
    for rel, match_id, mentor, mentee, k in pairs:
        draw = rng.random()
        if draw < 0.62:
            held(rel, mentor, mentee, first_at + 2 * k * HOUR)
            if rng.random() < 1 / 3:
                held(rel, mentor, mentee, second_at + 2 * k * HOUR)  # the target: completed
        else:
            starts_at = (future_at if draw < 0.90 else first_at) + 2 * k * HOUR
            session = command("schedule_session", rel, "pair", rng.choice(THEMES), starts_at, None, None, "https://meet.example.com/x", BOOKED_AT)
            state.sessions += 1
            if draw < 0.90:
                booked_later.append((match_id, mentor, mentee))
            elif draw < 0.96:
                command("cancel_session", session, "postponed")
            else:
                command("record_attendance", session, mentor, True, starts_at + HOUR)
                command("record_attendance", session, mentee, False, starts_at + HOUR)
                command("cancel_session", session, "no-show")
    state.seconds_commands = time.perf_counter() - started
    per_command = ", ".join(f"{name} {seconds / calls * 1e3:.2f}" for name, (calls, seconds) in state.by_command.items())
    progress(f"{sid}: {state.commands:,} commands ({state.sessions:,} sessions) in {state.seconds_commands:.1f}s; mean ms: {per_command}")

    leaving = rng.sample(booked_later, round(0.02 * n_mentees))
    ends = []
    for match_id, mentor, mentee in leaving:
        ends.append(upstream(enrolment.ParticipantWithdrawn, sid, {"participant_id": mentee, "role": "mentee", "reason": "left the company"}, now - DAY))
        ends.append(upstream(matching.MatchEnded, sid, {"match_id": match_id, "mentor_id": mentor, "mentee_ids": [mentee], "reason": "the mentee withdrew"}, now - DAY))
    apply(ends)
    app.view.catch_up()
    app.close()
    return state


# ---------------------------------------------------------------------------------------
# The anchor: the same figures by scanning what the view holds
# ---------------------------------------------------------------------------------------


def scanned_dashboard(view: SessionsView, subsidiary_id: str, now: datetime) -> dict[str, Any]:
    """dashboard(), derived by one pass over the relationships, sessions and participants."""
    view.catch_up()
    with view.lock:
        sub = view.subsidiaries[subsidiary_id]
        f = Figures()
        in_open_relationship: set[str] = set()
        stalled = []
        for rel in sub.relationships.values():
            f.relationships[rel["status"]] += 1
            if rel["status"] != CLOSED:  # completed ones still count as matched
                in_open_relationship.add(rel["mentor_id"])
                in_open_relationship.update(rel["mentee_ids"])
            if (
                rel["status"] == ACTIVE
                and now - rel["matched_at"] >= STALLED_AFTER
                and not any(sub.sessions[s]["status"] in (SCHEDULED, HELD) for s in rel["session_ids"])
            ):
                stalled.append((rel["matched_at"], rel["id"]))
        for person in sub.participants.values():
            if person["withdrawn"] or person["role"] is None:
                continue
            if person["role"] == MENTOR:
                f.mentors += 1
                f.certified_mentors += int(person["certified"])
            else:
                f.mentees += 1
                f.matched_mentees += int(person["id"] in in_open_relationship)
        for session in sub.sessions.values():
            f.sessions[session["status"]] += 1
            if session["status"] == HELD:
                f.held_by_theme[session["theme"]] += 1
                f.held_by_format[session["format"]] += 1
            f.attendance_recorded += len(session["attendance"])
            f.attendance_present += sum(session["attendance"].values())
            for feedback in session["feedback"].values():
                f.rating_sum[feedback["role"]] += feedback["rating"]
                f.rating_count[feedback["role"]] += 1
        longest = [rel_id for _, rel_id in sorted(stalled)[:STALLED_SHOWN]]
        return {"subsidiary_id": subsidiary_id, **f.report(len(stalled)), "stalled": longest}


def without_stalled(view: SessionsView, subsidiary_id: str) -> dict[str, Any]:
    """dashboard() without the stalled list: catch_up and the counters' report."""
    view.catch_up()
    with view.lock:
        return {"subsidiary_id": subsidiary_id, **view.subsidiaries[subsidiary_id].figures.report(0)}


def stalled_list(view: SessionsView, subsidiary_id: str, now: datetime) -> list[str]:
    """The part of dashboard() that walks a collection (without catch_up and the counters)."""
    with view.lock:
        return view.subsidiaries[subsidiary_id].awaiting.since_before(now - STALLED_AFTER)


# ---------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------


def time_calls(fn: Callable[[], Any], calls: int) -> list[float]:
    """Seconds of each of `calls` calls, the garbage collector off (as timeit does)."""
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    finally:
        gc.enable()
    return times


def measure(kinds: dict[str, Callable[[], Any]], calls: int, rounds: int, warmup: int) -> dict[str, list[float]]:
    """The median of each round, per kind; the order rotates between rounds."""
    names = list(kinds)
    for name in names:
        time_calls(kinds[name], warmup)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            medians[name].append(statistics.median(time_calls(kinds[name], calls)))
    return medians


@dataclass
class Row:
    n_mentors: int
    n_mentees: int
    relationships: int = 0
    sessions: int = 0
    stalled: int = 0
    setup: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, list[float]] = field(default_factory=dict)  # kind -> median seconds per round
    worst_case: dict[str, Any] = field(default_factory=dict)
    same: bool = True

    def med(self, kind: str) -> float:
        return statistics.median(self.rounds[kind])


def run_size(workdir: Path, n_mentors: int, n_mentees: int, args: argparse.Namespace, progress: Callable[[str], None]) -> Row:
    row = Row(n_mentors, n_mentees)

    def worst_case(state: State) -> dict[str, Any]:
        view, sid, now = state.app.view, state.subsidiary_id, state.now
        projection = view.dashboard(sid, now)
        check(projection, scanned_dashboard(view, sid, now), f"{sid} (every relationship stalled)")
        rounds = measure(
            {"dashboard": lambda: view.dashboard(sid, now), "stalled list": lambda: stalled_list(view, sid, now)},
            args.calls, max(1, args.rounds // 2), args.warmup,
        )
        return {"stalled": projection["stalled_relationships"], **{k: statistics.median(v) for k, v in rounds.items()}}

    def check(projection: dict[str, Any], scanned: dict[str, Any], what: str) -> None:
        if projection != scanned:
            row.same = False
            progress(f"{what}: the scan and the projection DIFFER:\n  projection {projection}\n  scan       {scanned}")

    started = time.perf_counter()
    state = build(workdir, n_mentors, n_mentees, args.seed, worst_case, progress)
    sid, now = state.subsidiary_id, state.now
    built_s = time.perf_counter() - started
    # Measured on a fresh application with the default settings, as the service runs: its
    # view is rebuilt from the store (the restart's cost, reported as context).
    app = SessionsApplication(env=store_env(workdir, sid))
    started = time.perf_counter()
    app.view.catch_up()
    replay_s = time.perf_counter() - started
    view = app.view
    row.setup = {
        "total_s": built_s,
        "events_s": state.seconds_events,
        "commands_s": state.seconds_commands,
        "events": state.events,
        "commands": state.commands,
        "stored_events": app.recorder.max_notification_id() or 0,
        "view_rebuild_s": replay_s,
        "mean_ms_by_command": {name: seconds / calls * 1e3 for name, (calls, seconds) in state.by_command.items()},
        "calls_by_command": {name: calls for name, (calls, _) in state.by_command.items()},
    }
    row.worst_case = state.worst_case

    projection = view.dashboard(sid, now)
    check(projection, scanned_dashboard(view, sid, now), sid)
    row.relationships = sum(projection["relationships"].values())
    row.sessions = sum(projection["sessions"].values())
    row.stalled = projection["stalled_relationships"]
    group = view.group_dashboard(now)
    assert group["subsidiaries_count"] == 1 and group["sessions"] == projection["sessions"]
    progress(
        f"{sid}: {row.relationships:,} relationships {dict(projection['relationships'])}, {row.sessions:,} sessions "
        f"{dict(projection['sessions'])}, {row.stalled:,} stalled; view rebuilt from {row.setup['stored_events']:,} "
        f"stored events in {replay_s:.1f}s; scan == projection: {row.same}"
    )

    row.rounds = measure(
        {
            "projection": lambda: view.dashboard(sid, now),
            "scan": lambda: scanned_dashboard(view, sid, now),
            "group": lambda: view.group_dashboard(now),
            "catch_up": view.catch_up,
            "without stalled": lambda: without_stalled(view, sid),
            "stalled list": lambda: stalled_list(view, sid, now),
        },
        args.calls, args.rounds, args.warmup,
    )
    progress(
        f"{sid}: projection {row.med('projection') * 1e6:.1f} µs, scan {row.med('scan') * 1e6:.1f} µs, "
        f"group {row.med('group') * 1e6:.1f} µs (medians over {args.rounds} rounds of {args.calls} calls)"
    )
    app.close()
    return row


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        mentors, mentees = item.lower().split("x")
        sizes.append((int(mentors.replace("_", "")), int(mentees.replace("_", ""))))
    return sizes




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated MENTORSxMENTEES (one pair per mentee)")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls before the first round")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (the SQLite stores)")
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.sizes)
    if args.calls < 1 or args.rounds < 1 or any(m < 1 or e < 1 for m, e in sizes):
        parser.error("--calls, --rounds and every size must be at least 1")

    removed = scrub_environment(("SESSIONS_",))
    if removed:
        print(f"note: ignoring {', '.join(sorted(removed))} (the bench uses its own SQLite stores)", file=sys.stderr)
    load_at_start = os.getloadavg()[0]
    progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    workroot = Path(tempfile.mkdtemp(prefix="tandem-bench-dashboard-"))
    rows = []
    started = time.perf_counter()
    try:
        for n_mentors, n_mentees in sizes:
            rows.append(run_size(workroot, n_mentors, n_mentees, args, progress))
    finally:
        if args.keep:
            print(f"kept {workroot}", file=sys.stderr)
        else:
            shutil.rmtree(workroot, ignore_errors=True)
    report = summarise(rows, args, (load_at_start, os.getloadavg()[0]), time.perf_counter() - started)
    print(report["markdown"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: v for k, v in report.items() if k != "markdown"}, indent=2) + "\n")
    return 0 if report["all_same"] else 1


def summarise(rows: list[Row], args: argparse.Namespace, load: tuple[float, float], seconds: float) -> dict[str, Any]:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:,.1f}"

    first = rows[0]
    lines = [
        f"Sessions dashboards: median of {args.rounds} round(s) of {args.calls} calls each (after {args.warmup} warm-up calls), "
        f"{datetime.now().strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite file, 1-min load average {load[0]:.2f} at the start, {load[1]:.2f} at the end; whole run {seconds:.0f} s.",
        "",
        "| Size (mentors × mentees: relationships, sessions, stalled) | Projection `dashboard()` µs | Scan (anchor) µs "
        "| Scan ÷ projection (per round) | Projection growth from the first size | `group_dashboard()` µs (growth) | Same figures |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        per_round = [s / p for s, p in zip(row.rounds["scan"], row.rounds["projection"])]
        lines.append(
            f"| {row.n_mentors:,} × {row.n_mentees:,}: {row.relationships:,}, {row.sessions:,}, {row.stalled:,} "
            f"| {us(row.med('projection'))} | {us(row.med('scan'))} "
            f"| **{row.med('scan') / row.med('projection'):,.1f}** ({', '.join(f'{r:,.1f}' for r in per_round)}) "
            f"| **{row.med('projection') / first.med('projection'):.2f}×** "
            f"| {us(row.med('group'))} ({row.med('group') / first.med('group'):.2f}×) | {'yes' if row.same else '**NO**'} |"
        )
    lines += [
        "",
        "Context, not anchors: what the projection's time is made of, and the case that makes it grow.",
        "",
        "| Size | `catch_up()` alone µs | `dashboard()` without the stalled list µs (growth) | Stalled list alone µs (stalled) | Worst case: `dashboard()` µs with every relationship stalled (its stalled list µs) "
        "| Set-up s: events, commands (counts) | `schedule_session` mean ms (other commands) | View rebuilt on restart s (stored events) |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        w, s = row.worst_case, row.setup
        by = s["mean_ms_by_command"]
        counts = s["calls_by_command"]
        others = sum(by[k] * counts[k] for k in by if k != "schedule_session") / max(1, sum(counts[k] for k in by if k != "schedule_session"))
        lines.append(
            f"| {row.n_mentors:,} × {row.n_mentees:,} | {us(row.med('catch_up'))} "
            f"| {us(row.med('without stalled'))} ({row.med('without stalled') / first.med('without stalled'):.2f}×) "
            f"| {us(row.med('stalled list'))} ({row.stalled:,}) "
            f"| {us(w['dashboard'])} ({us(w['stalled list'])}; {w['stalled']:,} stalled) "
            f"| {s['total_s']:.1f}: {s['events_s']:.2f} ({s['events']:,} events in batches of {BATCH:,}), "
            f"{s['commands_s']:.1f} ({s['commands']:,} commands) "
            f"| {by['schedule_session']:.1f} ({others:.2f}) | {s['view_rebuild_s']:.1f} ({s['stored_events']:,}) |"
        )
    last = rows[-1]
    growth = last.med("projection") / first.med("projection")
    scan_growth = last.med("scan") / first.med("scan")
    counters_growth = last.med("without stalled") / first.med("without stalled")
    all_same = all(row.same for row in rows)
    if len(rows) > 1:
        lines += [
            "",
            f"From {first.n_mentees:,} to {last.n_mentees:,} relationships the scan grew {scan_growth:,.1f}× and the projection "
            f"{growth:.2f}× (limit for \"costs the same\": {GROWTH_LIMIT:.1f}×): **{'met' if growth <= GROWTH_LIMIT else 'NOT met'}**; "
            f"without the stalled list (catch_up and the counters) it grew {counters_growth:.2f}×: "
            f"**{'met' if counters_growth <= GROWTH_LIMIT else 'NOT met'}**, while the stalled list went from "
            f"{us(first.med('stalled list'))} µs ({first.stalled:,} stalled) to {us(last.med('stalled list'))} µs ({last.stalled:,}). "
            f"Scan and projection gave the same figures at every size: **{'yes' if all_same else 'NO'}**.",
        ]
    return {
        "sizes": [
            {
                "mentors": row.n_mentors, "mentees": row.n_mentees, "relationships": row.relationships, "sessions": row.sessions,
                "stalled": row.stalled, "same_figures": row.same, "setup": row.setup, "worst_case": row.worst_case,
                "median_seconds": {k: row.med(k) for k in row.rounds}, "round_medians_seconds": row.rounds,
            }
            for row in rows
        ],
        "calls": args.calls,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "load_average_1min": {"start": load[0], "end": load[1]},
        "projection_growth": growth,
        "scan_growth": scan_growth,
        "without_stalled_growth": counters_growth,
        "growth_limit": GROWTH_LIMIT,
        "all_same": all_same,
        "markdown": "\n".join(lines),
    }


if __name__ == "__main__":
    sys.exit(main())
