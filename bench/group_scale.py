"""Group scale: a whole group on one machine, through the public APIs, reads compared across
subsidiary sizes, matching at 1,000 × 4,000, a cold start on full stores, and the CSV import.

    .venv/bin/python bench/group_scale.py [--checkout PATH] [--baseline PATH] [--small] [--json PATH]

For each checkout measured (``--checkout``, default this repository; ``--baseline`` another,
for instance ``git worktree add /tmp/baseline <rev>``), one after the other, each on its own
embedded broker, the bench runs that checkout's own ``tandem up`` (its code: PYTHONPATH and
working directory are the checkout's; SQLite stores in a fresh TANDEM_HOME) and, through the
HTTP APIs with a group-admin token:

1. onboards 20 subsidiaries of 500 participants, one of 5,000 and one of 60 (``--small``:
   3 × 50, 1 × 500, 1 × 20), each by one CSV import, a fifth of them mentors, all certified;
   waits until matching and sessions hold everyone;
2. reads, one client, closed loop, interleaved between the largest and the smallest
   subsidiary: a page of matching's pool (50 mentees, ``role``/``limit``/``offset``; when
   the checkout's pool has no paging, detected by the absence of ``X-Total-Count``, the whole
   pool, and the output says so) and one participant, before any run; then, once a pair run is
   published in both, the subsidiary's dashboard and the group dashboard. Median and p99 of
   each, and the largest ÷ the smallest (target: 3× or less);
3. times the pair run and its publication on the largest subsidiary (1,000 mentors ×
   4,000 mentees) until sessions has every relationship open;
4. imports 10,000 participants (``--small``: 1,000) into a new subsidiary of the running,
   full platform, from the request until a consumer reading the enrolment topic has the last
   ParticipantEnrolled of the import, and the HTTP part alone; the anchors: the same messages
   (captured from the topic) produced again by bare kafka-python to the same broker, and one
   ``save(*aggregates)`` of the same participants with their email claims by the checkout's
   enrolment application on a fresh SQLite store (the import is one transaction);
5. stops the platform (SIGTERM) and starts it again on its full stores: the time until every
   service's ``/healthz`` says ok and a read of each returns the stored figures (cold start;
   target under 30 s), and every service's resident memory (RSS) before and after;
6. with the platform stopped, runs the import's steps in process (the checkout's enrolment
   application on a fresh store, the endpoint's calls in its order, then its relay publishing
   to the broker) once with timers on the parts (sealing, key creation, read model, save,
   relay) and once under cProfile, and prints the top items by cumulative time.

Progress goes to stderr, a Markdown table to stdout, the figures as JSON to bench/results/
(git-ignored). The machine is shared: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# ---------------------------------------------------------------------------------------
# The worker: runs in its own process with PYTHONPATH = the measured checkout, so that what
# it imports (services.*) is that checkout's code, not this repository's.
# ---------------------------------------------------------------------------------------


class Timers:
    """Seconds and calls per named part, from wrappers put on the instances' methods."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.wrapped: list[tuple[Any, str, bool, Any]] = []

    def wrap(self, owner: Any, attribute: str, name: str) -> bool:
        inner = getattr(owner, attribute, None)
        if inner is None or not callable(inner):
            return False

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        self.wrapped.append((owner, attribute, attribute in getattr(owner, "__dict__", {}), inner))
        setattr(owner, attribute, timed)
        return True

    def restore(self) -> None:
        for owner, attribute, own, inner in reversed(self.wrapped):
            if own:
                setattr(owner, attribute, inner)
            else:
                delattr(owner, attribute)  # the class's method shows through again
        self.wrapped.clear()

    def report(self) -> dict[str, dict[str, float]]:
        return {name: {"seconds": self.seconds[name], "calls": self.calls[name]} for name in self.seconds}


def _worker_application(home: Path) -> tuple[Any, Any]:
    """The checkout's enrolment application on a fresh store, built as its service builds it."""
    os.environ["TANDEM_HOME"] = str(home)
    from services.enrolment.api.main import service_runtime  # the checkout's

    runtime = service_runtime()
    return runtime, runtime.create(runtime.settings.event_store_env(runtime.name))


def _worker_context(slug: str) -> dict[str, Any]:
    return {"actor": {"subject": "bench-admin", "role": "group-admin"}, "correlation_id": "bench-import", "causation_id": "bench-import", "subsidiary_id": slug}


def _worker_import(app: Any, slug: str, body: bytes, timers: Timers | None) -> None:
    """What the import endpoint does, in its order (services/enrolment/api/routers/participants.py)."""
    from services.enrolment.api.csv_import import parse_participants

    def step(name: str, call: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            if timers is not None:
                timers.seconds[name] = time.perf_counter() - started
                timers.calls[name] = 1

    rows, errors = step("1 parse and validate the CSV (pydantic, emails)", parse_participants, body)
    if errors:  # (a file with errors has the programme's rules checked as well, to list them all)
        raise RuntimeError(f"the import was refused: {len(errors)} row errors")
    profiles = [row.participant.profile() for row in rows if row.participant is not None]
    step("3 enrol (aggregates, claims, keys, one save)", partial(app.enrol, **LEGACY_CONTEXT), slug, profiles)


def _worker_relay(runtime: Any, app: Any, bootstrap: str, topic: str, timers: Timers | None) -> int:
    """The service's relay publishing the whole log, batch by batch, on this thread."""
    import services.common.relay as relay_module
    from services.common.relay import Relay

    relay = Relay(app, runtime.publishable, topic, bootstrap)
    if timers is not None:
        timers.wrap(app.recorder, "select_notifications", "relay: select_notifications")
        timers.wrap(relay, "to_domain_event", "relay: stored event → domain event (sealed values kept)")
        timers.wrap(relay, "translate", "relay: domain → integration event")
        timers.wrap(relay_module, "encode", "relay: encode (JSON, headers)")
        create = relay_module.create_producer

        def create_producer(*args: Any, **kwargs: Any) -> Any:
            producer = create(*args, **kwargs)
            timers.wrap(producer, "send", "relay: producer.send")
            timers.wrap(producer, "flush", "relay: producer.flush (acks)")
            return producer

        relay_module.create_producer = create_producer
    published = 0
    started = time.perf_counter()
    try:
        while batch := relay.publish_pending():
            published += batch
    finally:
        if timers is not None:
            relay_module.create_producer = create
            timers.seconds["4 relay: publish the log (publish_pending until empty)"] = time.perf_counter() - started
            timers.calls["4 relay: publish the log (publish_pending until empty)"] = 1
        relay.stop()
    return published


def worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    slug = "bench-import"
    try:
        from services.common.context import acting  # the checkout's
    except ImportError:  # a checkout from before the context was set once: its commands take it
        LEGACY_CONTEXT.update(context=_worker_context(slug))
        return _work(args, slug)
    with acting(**_worker_context(slug)):  # every event the worker records is one bench command's
        return _work(args, slug)


# What a checkout from before services/common/context.py passes to each command (empty after).
LEGACY_CONTEXT: dict[str, Any] = {}


def _work(args: argparse.Namespace, slug: str) -> int:
    body = args.csv.read_bytes()
    result: dict[str, Any] = {}
    notes: list[str] = []

    # Anchor: one save(*aggregates) of the same participants and their email claims.
    runtime, app = _worker_application(args.work / "bulk")
    try:
        from services.enrolment.api.csv_import import parse_participants
        from services.enrolment.domain import Participant

        app.onboard_subsidiary(slug, "Bench Assurances", "Europe/Paris", "fr-FR", **LEGACY_CONTEXT)
        subsidiary = app.get_subsidiary(slug)
        rows, _ = parse_participants(body)
        profiles = [row.participant.profile() for row in rows]
        participants = [
            Participant(subsidiary_id=slug, profile={**p, "themes": [subsidiary.canonical_theme(t) for t in p["themes"]]}, **LEGACY_CONTEXT)
            for p in profiles
        ]
        claims = []
        claim_email = getattr(app, "_claim_email", None)
        if claim_email is not None:
            claims = [claim_email(slug, str(p.email), p.id) for p in participants]
        else:
            notes.append("bulk save: this checkout has no _claim_email; participants saved without claims")
        started = time.perf_counter()
        app.keys.provide(p.id for p in participants)
        result["bulk_keys_s"] = time.perf_counter() - started
        started = time.perf_counter()
        app.save(*participants, *claims)
        result["bulk_save_s"] = time.perf_counter() - started
        result["bulk_aggregates"] = len(participants) + len(claims)
    finally:
        app.close()

    # The import's steps with timers on the parts, then the relay (no profiler: real times).
    timers = Timers()
    runtime, app = _worker_application(args.work / "timed")
    try:
        app.onboard_subsidiary(slug, "Bench Assurances", "Europe/Paris", "fr-FR", **LEGACY_CONTEXT)
        timers.wrap(app.keys, "provide", "3a keys.provide (a key per participant: make, wrap, store)")
        timers.wrap(app, "_claim_email", "3b email claims (keyed hash, read model lookups)")
        timers.wrap(app.view, "catch_up", "read model: view.catch_up (calls from any step)")
        timers.wrap(app.mapper, "to_stored_event", "3c save: mapper.to_stored_event (JSON, sealing personal values)")
        timers.wrap(app.recorder, "insert_events", "3d save: recorder.insert_events (SQLite, hash chain)")
        timers.wrap(app, "save", "3e save: Application.save, whole")
        _worker_import(app, slug, body, timers)
        result["published"] = _worker_relay(runtime, app, args.bootstrap, args.topic, timers)
        result["timed"] = timers.report()
    finally:
        timers.restore()
        app.close()

    # The same under cProfile (its overhead inflates Python-heavy parts; read it for ranking).
    runtime, app = _worker_application(args.work / "profiled")
    try:
        app.onboard_subsidiary(slug, "Bench Assurances", "Europe/Paris", "fr-FR", **LEGACY_CONTEXT)
        profiles_out = {}
        for part, run in (
            ("import", lambda: _worker_import(app, slug, body, None)),
            ("relay", lambda: _worker_relay(runtime, app, args.bootstrap, args.topic + "-profiled", None)),
        ):
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            run()
            profile.disable()
            wall = time.perf_counter() - started
            profile.dump_stats(str(args.work / f"{part}.prof"))
            profiles_out[part] = {"wall_s": wall, "top": _top(profile, 25), "file": str(args.work / f"{part}.prof")}
        result["profile"] = profiles_out
    finally:
        app.close()
    result["notes"] = notes
    args.out.write_text(json.dumps(result, indent=2))
    return 0


def _top(profile: cProfile.Profile, n: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if function == "<module>" or "cProfile" in filename or filename == __file__ or function.startswith("<method 'disable'"):
            continue  # the profiler's and this script's own frames
        where = filename
        for marker in ("site-packages/", "/lib/python3"):
            if marker in filename:
                where = filename.split(marker, 1)[1]
                break
        else:
            where = os.path.relpath(filename) if filename.startswith("/") else filename
        rows.append({"function": function, "where": f"{where}:{line}", "calls": calls, "tottime": tottime, "cumtime": cumtime})
    rows.sort(key=lambda r: -r["cumtime"])
    return rows[:n]


if __name__ == "__main__" and "--worker" in sys.argv[1:2]:
    sys.exit(worker(sys.argv[1:]))


# ---------------------------------------------------------------------------------------
# The bench itself: this repository's helpers drive the measured checkout's processes.
# ---------------------------------------------------------------------------------------

sys.path[:0] = [str(ROOT), str(HERE)]

import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402

import httpx  # noqa: E402

from enrolment_import import EnrolledWatcher, anchor_produces, free_port, generate_participants, to_csv  # noqa: E402
from environment import scrub_environment  # noqa: E402
from contracts.topics import Topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.topics import ensure_topics  # noqa: E402
from services.common.auth import issue_token  # noqa: E402

READ_TARGET = 3.0  # reads of the largest subsidiary at most 3× those of the smallest
COLD_START_TARGET = 30.0
IMPORT_TARGET = 0.5
PAGE = 50
SECRET_BYTES = 48

_CHILDREN: list[Any] = []  # what a signal handler must stop: platforms, brokers
progress = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)  # noqa: E731


@dataclass(frozen=True)
class Layout:
    others: int  # subsidiaries of `other_size`
    other_size: int
    largest: int
    smallest: int
    import_rows: int
    reads: int  # timed calls per read and subsidiary

    @classmethod
    def of(cls, small: bool) -> "Layout":
        return cls(3, 50, 500, 20, 1_000, 30) if small else cls(20, 500, 5_000, 60, 10_000, 100)


# ---------------------------------------------------------------------------------------
# Participants: realistic rows (bench/enrolment_import.py), exactly a fifth of them mentors
# ---------------------------------------------------------------------------------------


def participants(n: int, seed: int) -> list[dict[str, Any]]:
    rows = generate_participants(n, seed)
    rng = random.Random(seed + 1)
    this_year = datetime.now().year
    for i, row in enumerate(rows):
        mentor = i % 5 == 0
        if (row["role"] == "mentor") != mentor:
            row["role"] = "mentor" if mentor else "mentee"
            # As the generator: mentors are the young volunteers, mentees their seniors.
            row["birth_year"] = rng.randint(this_year - 35, this_year - 20) if mentor else rng.randint(this_year - 66, this_year - 32)
    return rows


# ---------------------------------------------------------------------------------------
# One checkout's platform: its own `tandem up`
# ---------------------------------------------------------------------------------------


def checkout_env(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout)}


def service_specs(checkout: Path) -> list[tuple[str, str]]:
    """The checkout's services and their port settings (its infra/services.py), console last."""
    code = (
        "import json\nfrom infra import services as s\n"
        "specs = [*s.SERVICES, *([s.CONSOLE] if hasattr(s, 'CONSOLE') else [])]\n"
        "print(json.dumps([[x.name, x.port_variable] for x in specs]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=checkout, env=checkout_env(checkout), capture_output=True, text=True, timeout=60, check=True)
    return [tuple(pair) for pair in json.loads(out.stdout)]  # type: ignore[misc]


class Platform:
    """`python -m infra.cli up` of one checkout, on the bench's broker: what `tandem up`
    starts (every service, then the console), each process its own, stopped by SIGTERM."""

    def __init__(self, checkout: Path, home: Path, bootstrap: str, prefix: str, secret: str, max_body: int) -> None:
        self.checkout = checkout
        self.home = home
        self.specs = service_specs(checkout)
        self.ports = {name: free_port() for name, _ in self.specs}
        self.env = {
            **checkout_env(checkout),
            "TANDEM_HOME": str(home),
            "TANDEM_SECRET": secret,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TANDEM_TOPIC_PREFIX": prefix,
            "TANDEM_MAX_BODY_BYTES": str(max_body),
            **{variable: str(self.ports[name]) for name, variable in self.specs},
        }
        self.log = home.parent / f"{home.name}-up.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.known_pids: set[int] = set()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def services(self) -> list[str]:
        return [name for name, _ in self.specs]

    def start(self, timeout: float) -> float:
        """Seconds until `tandem up` says it is up (every process answered /healthz)."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        started = time.perf_counter()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.cli", "up"], cwd=self.checkout, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tandem up exited with {self.process.returncode}; see {self.log}")
            with self.log.open("rb") as log:
                log.seek(offset)
                if b"Tandem is up." in log.read():
                    self.known_pids |= set(self.pids().values())
                    return time.perf_counter() - started
            time.sleep(0.05)
        raise TimeoutError(f"tandem up was not up within {timeout:.0f} s; see {self.log}")

    def pids(self) -> dict[str, int]:
        """The processes `tandem up` started, by service name (from their command lines)."""
        if self.process is None:
            return {}
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid != self.process.pid:
                    continue
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            module = next((a.decode() for a in argv if a.startswith(b"services.")), None)
            if module:
                found[module.split(".")[1]] = int(entry.name)
        return found

    def rss_mib(self) -> dict[str, float]:
        out = {}
        for name, pid in self.pids().items():
            try:
                line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
                out[name] = int(line.split()[1]) / 1024
            except (OSError, StopIteration):
                pass
        return out

    def cpu_seconds(self, extra: dict[str, int | None] | None = None) -> dict[str, float]:
        """User + system CPU each process has used so far (and of `extra`'s, the broker's)."""
        out = {}
        for name, pid in {**self.pids(), **(extra or {})}.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass
        return out

    def stop(self, timeout: float = 90.0) -> float:
        """SIGTERM to `tandem up`, which stops its processes in order; seconds it took."""
        started = time.perf_counter()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return 0.0
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pid in self.known_pids:  # anything it could not stop (it was killed itself)
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().find(b"services.") >= 0:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return time.perf_counter() - started


class Client:
    """The APIs with a group-admin token."""

    def __init__(self, platform: Platform, token: str) -> None:
        self.platform = platform
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(headers=self.headers, timeout=600)

    def new(self) -> httpx.Client:
        return httpx.Client(headers=self.headers, timeout=600)

    def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        return self.http.get(self.platform.url(service) + path, params=params or None)

    def post(self, service: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.post(self.platform.url(service) + path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {service} {path} answered {response.status_code}: {response.text[:500]}")
        return response


def total(response: httpx.Response) -> int:
    response.raise_for_status()
    header = response.headers.get("x-total-count")
    return int(header) if header is not None else len(response.json())


def wait_until(check: Any, what: str, timeout: float, poll: float = 0.5) -> float:
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


# ---------------------------------------------------------------------------------------
# What the platform holds
# ---------------------------------------------------------------------------------------


@dataclass
class Subsidiary:
    slug: str
    size: int
    mentors: list[str] = field(default_factory=list)
    mentees: int = 0
    participant: str = ""  # the one participant read


class Pool:
    """Matching's pool, paged (`role`, `limit`, `offset`, X-Total-Count) or whole, as the
    checkout has it: detected, not assumed."""

    def __init__(self, client: Client, slug: str) -> None:
        probe = client.get("matching", f"/subsidiaries/{slug}/pool", role="mentee", limit=PAGE, offset=0)
        probe.raise_for_status()
        self.paged = "x-total-count" in probe.headers
        self.client = client

    def read_path(self, slug: str) -> tuple[str, dict[str, Any]]:
        if self.paged:
            return f"/subsidiaries/{slug}/pool", {"role": "mentee", "limit": PAGE, "offset": 0}
        return f"/subsidiaries/{slug}/pool", {}

    def counts(self, slug: str) -> tuple[int, int]:
        """(mentors, with room or full; mentees waiting)."""
        path = f"/subsidiaries/{slug}/pool"
        if self.paged:
            mentors = self.client.get("matching", path, role="mentor", limit=1, offset=0)
            mentees = self.client.get("matching", path, role="mentee", limit=1, offset=0)
            body = mentors.json()
            full = body.get("full_mentors", 0) if isinstance(body, dict) else 0
            return total(mentors) + int(full or 0), total(mentees)
        body = self.client.get("matching", path).json()
        return len(body["mentors"]) + int(body.get("full_mentors", 0)), len(body["mentees"])

    @property
    def label(self) -> str:
        return f"a page of {PAGE} mentees (`role`, `limit`, `offset`)" if self.paged else "the whole pool: this checkout's pool has no paging"


def onboard_and_seed(client: Client, subsidiaries: list[Subsidiary], seed: int) -> dict[str, float]:
    started = time.perf_counter()
    for n, sub in enumerate(subsidiaries):
        client.post("enrolment", "/subsidiaries", json={"id": sub.slug, "name": f"Bench {sub.slug}", "timezone": "Europe/Paris", "locale": "fr-FR"})
        rows = participants(sub.size, seed + n)
        client.post("enrolment", f"/subsidiaries/{sub.slug}/participants/import", content=to_csv(rows), headers={"Content-Type": "text/csv"})
        people = client.get("enrolment", f"/subsidiaries/{sub.slug}/participants", limit=10_000).json()
        sub.mentors = [p["id"] for p in people if p["role"] == "mentor"]
        sub.mentees = sum(1 for p in people if p["role"] == "mentee")
        sub.participant = people[len(people) // 2]["id"]
    imported = time.perf_counter() - started
    started = time.perf_counter()

    def certify(job: tuple[str, list[str]]) -> None:
        slug, ids = job
        with client.new() as http:
            for pid in ids:
                r = http.post(f"{client.platform.url('enrolment')}/subsidiaries/{slug}/participants/{pid}/certify")
                if r.status_code != 200:
                    raise RuntimeError(f"certify answered {r.status_code}: {r.text[:300]}")

    jobs = [(sub.slug, sub.mentors[i::4]) for sub in subsidiaries for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(certify, jobs))
    return {"import_s": imported, "certify_s": time.perf_counter() - started}


def caught_up(client: Client, pool: Pool, subsidiaries: list[Subsidiary], timeout: float) -> float:
    """Until matching's pool and sessions' dashboard hold every participant, mentors certified."""

    def check() -> bool:
        for sub in subsidiaries:
            if pool.counts(sub.slug) != (len(sub.mentors), sub.mentees):
                return False
            d = client.get("sessions", f"/subsidiaries/{sub.slug}/dashboard").json()
            if (d.get("mentors"), d.get("certified_mentors"), d.get("mentees")) != (len(sub.mentors), len(sub.mentors), sub.mentees):
                return False
        return True

    # Not too often: on a checkout whose pool read grows with the subsidiary, each poll costs
    # matching's consumer the time it needs to catch up.
    return wait_until(check, "matching and sessions to hold every participant", timeout, poll=2.0)


def settle(client: Client, timeout: float = 120.0) -> float | None:
    """Until no relay has anything to publish and no consumer anything to apply (twice in a
    row, a second apart), so a measurement does not share the cores with catching up."""
    last: list[Any] = []

    def quiet() -> bool:
        nonlocal last
        now = []
        for name in client.platform.services:
            report = client.get(name, "/healthz").json()
            relay = report.get("relay") or {}
            consumer = report.get("consumer") or {}
            if relay.get("lag") not in (0, None) or consumer.get("lag") not in (0, None):
                last = []
                return False
            now.append((relay.get("position"), consumer.get("applied")))
        same, last = now == last, now
        return same

    try:
        return wait_until(quiet, "the platform to be quiet", timeout, poll=1.0)
    except TimeoutError as exc:  # measured anyway, and said
        progress(f"  note: {exc}")
        return None


# ---------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------


def timed_reads(client: Client, targets: dict[str, tuple[str, str, dict[str, Any]]], calls: int, warmup: int = 3) -> dict[str, list[float]]:
    """Closed loop, one client; targets interleaved in blocks of 10 so that drift hits each."""
    with client.new() as http:
        urls = {key: (client.platform.url(service) + path, params or None) for key, (service, path, params) in targets.items()}
        samples: dict[str, list[float]] = {key: [] for key in targets}
        for url, params in urls.values():
            for _ in range(warmup):
                http.get(url, params=params).raise_for_status()
        keys = list(targets)
        block = 0
        while any(len(v) < calls for v in samples.values()):
            order = keys if block % 2 == 0 else keys[::-1]
            for key in order:
                url, params = urls[key]
                for _ in range(min(10, calls - len(samples[key]))):
                    started = time.perf_counter()
                    response = http.get(url, params=params)
                    samples[key].append(time.perf_counter() - started)
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {url} answered {response.status_code}")
            block += 1
    return samples


def quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": 1000 * statistics.median(ordered), "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))], "calls": len(ordered)}


# ---------------------------------------------------------------------------------------
# Matching at scale, the import, the cold start
# ---------------------------------------------------------------------------------------


def run_and_publish(client: Client, slug: str, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    run = client.post("matching", f"/subsidiaries/{slug}/matching-runs", json={"format": "pair"}).json()
    ran = time.perf_counter() - started
    proposals = run["proposals"] if isinstance(run["proposals"], int) else len(run["proposals"])
    client.post("matching", f"/subsidiaries/{slug}/matching-runs/{run['id']}/publish")
    published = time.perf_counter() - started
    figures: dict[str, Any] = {"proposals": proposals, "run_s": ran, "publish_s": published - ran}
    try:
        wait_until(lambda: total(client.get("sessions", f"/subsidiaries/{slug}/relationships", status="active", limit=1)) >= proposals,
                   "every relationship open in sessions", timeout, poll=0.5)  # fmt: skip
        figures["all_open_s"] = time.perf_counter() - started
    except TimeoutError:
        figures["all_open_s"] = None
        figures["open_at_timeout"] = total(client.get("sessions", f"/subsidiaries/{slug}/relationships", status="active", limit=1))
    return figures


class CapturingWatcher(EnrolledWatcher):
    """bench/enrolment_import.py's watcher, keeping the import's messages as they were on the
    topic, for the produce anchor to send the very same again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.captured: dict[bytes, tuple[bytes, bytes, list[tuple[str, bytes]]]] = {}

    def _note(self, record: Any, now: float) -> None:
        super()._note(record, now)
        headers = dict(record.headers or [])
        if headers.get("type") == b"ParticipantEnrolled" and self.marker in record.value:
            self.captured.setdefault(headers["event_id"], (record.key, record.value, list(record.headers)))


def csv_import(client: Client, bootstrap: str, prefix: str, rows: int, seed: int, timeout: float, broker_pid: int | None) -> tuple[dict[str, Any], list[Any], bytes]:
    slug = "grp-import"
    client.post("enrolment", "/subsidiaries", json={"id": slug, "name": "Bench import", "timezone": "Europe/Paris", "locale": "fr-FR"})
    body = to_csv(participants(rows, seed))
    correlation = f"bench-import-{uuid.uuid4().hex[:12]}"
    watcher = CapturingWatcher(bootstrap, Topics(prefix).enrolment, slug, correlation, rows)
    watcher.start()
    try:
        wait_until(lambda: watcher.other_events >= 2 or watcher.error is not None, "the onboarding on the topic", 60, poll=0.02)
        # Who used the cores meanwhile: matching and sessions consume the import as it arrives.
        cpu_before = client.platform.cpu_seconds({"broker": broker_pid, "bench (client, watcher)": os.getpid()})
        started = time.perf_counter()
        response = client.http.post(
            client.platform.url("enrolment") + f"/subsidiaries/{slug}/participants/import",
            content=body, headers={"Content-Type": "text/csv", "X-Correlation-ID": correlation},
        )  # fmt: skip
        http_s = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"the import answered {response.status_code}: {response.text[:500]}")
        if not watcher.done.wait(timeout) or watcher.error is not None:
            raise RuntimeError(f"only {len(watcher.event_ids)} of {rows} events arrived ({watcher.error!r})")
        cpu_after = client.platform.cpu_seconds({"broker": broker_pid, "bench (client, watcher)": os.getpid()})
        with watcher.lock:
            figures = {
                "rows": rows, "http_s": http_s, "end_to_end_s": watcher.last_at - started, "first_event_s": watcher.first_at - started,  # type: ignore[operator]
                "duplicates": watcher.messages - len(watcher.event_ids), "mean_value_bytes": watcher.value_bytes / max(1, watcher.messages),
                "cpu_s_during": {name: cpu_after[name] - cpu_before[name] for name in cpu_after if name in cpu_before},
            }  # fmt: skip
            messages = list(watcher.captured.values())
    finally:
        watcher.stop()
    return figures, messages, body


def cold_start(platform: Platform, client: Client, expect: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Stop, start again on the same stores; per service: /healthz answering, saying ok, and
    a read returning what the stores hold. The platform is up when all of them are."""
    figures: dict[str, Any] = {"stop_s": platform.stop()}
    done: dict[str, dict[str, float]] = {name: {} for name in platform.services}
    begun = time.perf_counter()
    stop = threading.Event()
    reads = {
        "enrolment": lambda http: total(http.get(platform.url("enrolment") + f"/subsidiaries/{expect['slug']}/participants", params={"limit": 1})) == expect["participants"],
        "matching": lambda http: total(http.get(platform.url("matching") + f"/subsidiaries/{expect['slug']}/matches", params={"limit": 1})) == expect["matches"],
        "sessions": lambda http: total(http.get(platform.url("sessions") + f"/subsidiaries/{expect['slug']}/relationships", params={"limit": 1})) == expect["matches"],
    }

    def watch(name: str) -> None:
        with client.new() as http:
            while not stop.is_set() and len(done[name]) < 3:
                try:
                    r = http.get(platform.url(name) + "/healthz", timeout=2)
                    if r.status_code == 200:
                        done[name].setdefault("answers_s", time.perf_counter() - begun)
                        status = r.json().get("status", "ok") if r.headers.get("content-type", "").startswith("application/json") else "ok"
                        if status == "ok":
                            done[name].setdefault("healthy_s", time.perf_counter() - begun)
                        read = reads.get(name)
                        if "healthy_s" in done[name] and (read is None or read(http)):
                            done[name].setdefault("serving_s", time.perf_counter() - begun)
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.05)

    threads = [threading.Thread(target=watch, args=(name,), daemon=True) for name in platform.services]
    for thread in threads:
        thread.start()
    try:
        figures["tandem_up_s"] = platform.start(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(len(d) == 3 for d in done.values()):
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    figures["per_service"] = done
    ready = [d.get("serving_s") for d in done.values()]
    figures["cold_start_s"] = max(ready) if all(r is not None for r in ready) else None  # type: ignore[type-var]
    return figures


# ---------------------------------------------------------------------------------------
# One checkout, start to end
# ---------------------------------------------------------------------------------------


def measure(checkout: Path, layout: Layout, work: Path, seed: int, run_timeout: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"checkout": str(checkout), "revision": _revision(checkout), "load_average_start": os.getloadavg()[0]}
    broker = EmbeddedBroker(port=free_port(), log_path=work / "broker.log")
    _CHILDREN.append(broker)
    broker.start()
    bootstrap = broker.bootstrap_servers
    prefix = f"scale{uuid.uuid4().hex[:6]}"
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    platform = Platform(checkout, work / "home", bootstrap, prefix, secret, max_body=64 * 1024 * 1024)
    _CHILDREN.append(platform)
    try:
        progress(f"{checkout}: tandem up (services: {', '.join(platform.services)}), broker {bootstrap}, work {work}")
        figures["first_start_s"] = platform.start(120)
        client = Client(platform, issue_token(secret, "group-admin", subject="bench-admin"))
        largest, smallest = Subsidiary("grp-largest", layout.largest), Subsidiary("grp-smallest", layout.smallest)
        subsidiaries = [Subsidiary(f"grp-{n + 1:02d}", layout.other_size) for n in range(layout.others)] + [largest, smallest]
        progress(f"seeding {layout.others} × {layout.other_size}, 1 × {layout.largest}, 1 × {layout.smallest} (CSV imports, then every mentor certified)")
        figures["seeding"] = onboard_and_seed(client, subsidiaries, seed)
        pool = Pool(client, smallest.slug)
        figures["seeding"]["caught_up_s"] = caught_up(client, pool, subsidiaries, timeout=600)
        settle(client)
        progress(f"seeded {sum(s.size for s in subsidiaries):,} participants: {figures['seeding']}")

        progress(f"reads before the runs: pool ({pool.label}) and one participant, {layout.reads} calls each")
        pool_path, pool_params = pool.read_path(largest.slug)
        small_pool_path, small_pool_params = pool.read_path(smallest.slug)
        samples = timed_reads(client, {
            "pool:largest": ("matching", pool_path, pool_params),
            "pool:smallest": ("matching", small_pool_path, small_pool_params),
            "participant:largest": ("enrolment", f"/subsidiaries/{largest.slug}/participants/{largest.participant}", {}),
            "participant:smallest": ("enrolment", f"/subsidiaries/{smallest.slug}/participants/{smallest.participant}", {}),
        }, layout.reads)  # fmt: skip
        figures["pool_paged"] = pool.paged
        figures["pool_read"] = pool.label

        progress(f"pair run and publication on {largest.slug} ({len(largest.mentors):,} mentors × {largest.mentees:,} mentees), until sessions has every relationship")
        figures["matching"] = run_and_publish(client, largest.slug, run_timeout)
        progress(f"  {figures['matching']}")
        figures["matching_smallest"] = run_and_publish(client, smallest.slug, 120)
        settle(client, timeout=run_timeout)

        progress("reads after the runs: the subsidiaries' dashboards and the group dashboard")
        samples |= timed_reads(client, {
            "dashboard:largest": ("sessions", f"/subsidiaries/{largest.slug}/dashboard", {}),
            "dashboard:smallest": ("sessions", f"/subsidiaries/{smallest.slug}/dashboard", {}),
            "group_dashboard": ("sessions", "/dashboard", {}),
        }, layout.reads)  # fmt: skip
        figures["reads"] = {key: quantiles(values) for key, values in samples.items()}

        progress(f"CSV import of {layout.import_rows:,} participants into the running platform")
        figures["import"], messages, csv_body = csv_import(client, bootstrap, prefix, layout.import_rows, seed + 1000, timeout=600, broker_pid=broker.pid)
        progress(f"  {figures['import']}")
        anchor_topic = f"{prefix}.bench.produce-anchor"
        ensure_topics(bootstrap, [anchor_topic, f"{prefix}.bench.relay", f"{prefix}.bench.relay-profiled"], partitions=3)
        settle(client, timeout=600)
        figures["import"]["raw_produce_s"] = anchor_produces(bootstrap, anchor_topic, messages)
        progress(f"  raw produce of the same {len(messages):,} messages: {figures['import']['raw_produce_s']:.2f} s")

        figures["rss_mib_warm"] = platform.rss_mib()
        figures["rss_mib_broker"] = _rss(broker.pid)
        expect = {"slug": largest.slug, "participants": largest.size, "matches": figures["matching"]["proposals"]}
        progress("cold start: stop the platform, start it again on its full stores")
        figures["cold_start"] = cold_start(platform, client, expect, timeout=300)
        figures["rss_mib_cold"] = platform.rss_mib()
        progress(f"  {figures['cold_start']}; RSS {figures['rss_mib_cold']}")
        client.http.close()
        platform.stop()

        progress("the import's steps in process: timers, then cProfile (platform stopped)")
        csv_path = work / "import.csv"
        csv_path.write_bytes(csv_body)
        out = work / "worker.json"
        (work / "worker").mkdir()
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "import", "--csv", str(csv_path), "--work", str(work / "worker"),
             "--bootstrap", bootstrap, "--topic", f"{prefix}.bench.relay", "--out", str(out)],
            cwd=checkout, env={**checkout_env(checkout), "TANDEM_SECRET": secret}, check=True, timeout=900,
        )  # fmt: skip
        in_process = json.loads(out.read_text())
        figures["import"]["bulk_save_s"] = in_process["bulk_save_s"]
        figures["import"]["bulk_keys_s"] = in_process["bulk_keys_s"]
        figures["import"]["bulk_aggregates"] = in_process["bulk_aggregates"]
        figures["in_process"] = in_process
    finally:
        platform.stop()
        broker.stop()
        for child in (platform, broker):
            if child in _CHILDREN:
                _CHILDREN.remove(child)
    figures["load_average_end"] = os.getloadavg()[0]
    return figures


def _revision(checkout: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def _rss(pid: int | None) -> float | None:
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return None


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{unit}"


def report(runs: dict[str, dict[str, Any]], layout: Layout) -> str:
    names = list(runs)
    header = "| Measurement | " + " | ".join(f"{n} (`{runs[n]['revision']}`)" for n in names) + " | Target |"
    lines = [header, "|---|" + "---:|" * len(names) + "---|"]

    def row(label: str, cell: Any, target: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cell(runs[n]) for n in names) + f" | {target} |")

    def read(kind: str, quantile: str) -> Any:
        def cell(f: dict[str, Any]) -> str:
            small, large = f["reads"][f"{kind}:smallest"][quantile], f["reads"][f"{kind}:largest"][quantile]
            return f"{small:.1f} → {large:.1f} ms (**×{large / small:.1f}**)"
        return cell

    size = f"{layout.smallest:,} → {layout.largest:,} participants"
    first = runs[names[0]]
    pool_note = "page of 50 mentees" if first["pool_paged"] else "whole pool (no paging)"
    for kind, label in (("pool", f"matching pool, {pool_note}"), ("participant", "enrolment, one participant"), ("dashboard", "sessions, subsidiary dashboard")):
        row(f"{label}: median, {size}", read(kind, "p50_ms"), f"× ≤ {READ_TARGET:g}")
        row(f"{label}: p99, {size}", read(kind, "p99_ms"), f"× ≤ {READ_TARGET:g}")
    row("sessions, group dashboard: median / p99", lambda f: f"{f['reads']['group_dashboard']['p50_ms']:.1f} / {f['reads']['group_dashboard']['p99_ms']:.1f} ms")
    m = lambda f: f["matching"]  # noqa: E731
    row(f"pair run on {layout.largest:,} ({layout.largest // 5:,} × {layout.largest - layout.largest // 5:,}): POST run", lambda f: _num(m(f)["run_s"], 2, " s"))
    row("… publish", lambda f: _num(m(f)["publish_s"], 2, " s"))
    row("… run to every relationship open in sessions", lambda f: f"{_num(m(f)['all_open_s'], 1, ' s')} ({m(f)['proposals']:,} relationships)" if m(f)["all_open_s"] else f"not within the time limit ({m(f).get('open_at_timeout')} of {m(f)['proposals']:,})")
    c = lambda f: f["cold_start"]  # noqa: E731
    row("cold start: `tandem up` on full stores until every service healthy and serving", lambda f: f"**{_num(c(f)['cold_start_s'], 1, ' s')}** (tandem up {_num(c(f)['tandem_up_s'], 1)} s)", f"< {COLD_START_TARGET:g} s")
    row("… per service, serving after", lambda f: ", ".join(f"{n} {_num(d.get('serving_s'), 1)}" for n, d in c(f)["per_service"].items()))
    row("RSS per service after the load (MiB)", lambda f: ", ".join(f"{n} {v:.0f}" for n, v in f["rss_mib_warm"].items()))
    row("RSS per service after the cold start (MiB)", lambda f: ", ".join(f"{n} {v:.0f}" for n, v in f["rss_mib_cold"].items()))
    i = lambda f: f["import"]  # noqa: E731
    row(f"CSV import of {layout.import_rows:,}: end to end (last event on the topic)", lambda f: _num(i(f)["end_to_end_s"], 2, " s"))
    row("… HTTP part alone", lambda f: _num(i(f)["http_s"], 2, " s"))
    row("… anchor: one bulk `save(*aggregates)` (participants and claims, fresh SQLite)", lambda f: _num(i(f)["bulk_save_s"], 2, " s"))
    row("… anchor: raw kafka-python produce of the same messages + flush", lambda f: _num(i(f)["raw_produce_s"], 2, " s"))
    row("… CPU seconds used meanwhile, per process (until the last event)", lambda f: ", ".join(f"{n} {v:.1f}" for n, v in i(f)["cpu_s_during"].items()))
    row("… slower anchor ÷ end to end", lambda f: f"**{max(i(f)['bulk_save_s'], i(f)['raw_produce_s']) / i(f)['end_to_end_s']:.2f}**", f"≥ {IMPORT_TARGET:g}")
    lines.append("")
    for name in names:
        f = runs[name]
        lines.append(
            f"{name}: {f['checkout']} at `{f['revision']}`; seeding {f['seeding']['import_s']:.0f} s of imports, {f['seeding']['certify_s']:.0f} s certifying, "
            f"caught up {f['seeding']['caught_up_s']:.0f} s later; pool read: {f['pool_read']}; {f['reads']['pool:largest']['calls']} calls per read; "
            f"smallest subsidiary's run to all open: {_num(f['matching_smallest']['all_open_s'], 1, ' s')}; messages {f['import']['mean_value_bytes']:.0f} bytes; "
            f"broker RSS {_num(f['rss_mib_broker'], 0)} MiB; 1-min load average {f['load_average_start']:.1f} at the start, {f['load_average_end']:.1f} at the end."
        )
    for name in names:
        p = runs[name]["in_process"]
        lines += ["", f"**Where the import's time goes** ({name}, in process, fresh SQLite, timers on the parts, no profiler):", "",
                  "| Part | s | calls |", "|---|---:|---:|"]  # fmt: skip
        for part, v in sorted(p["timed"].items()):
            lines.append(f"| {part} | {v['seconds']:.2f} | {v['calls']:,} |")
        for part in ("import", "relay"):
            prof = p["profile"][part]
            lines += ["", f"cProfile, {part} ({prof['wall_s']:.1f} s profiled), top by cumulative time:", "", "| Function | Where | Calls | Cumulative s | Own s |", "|---|---|---:|---:|---:|"]
            for item in prof["top"][:15]:
                lines.append(f"| `{item['function']}` | {item['where']} | {item['calls']:,} | {item['cumtime']:.2f} | {item['tottime']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose code is measured (default: this repository)")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured in the same run and printed beside it")
    parser.add_argument("--small", action="store_true", help="3 × 50, 1 × 500, 1 × 20, an import of 1,000: a quick run")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--run-timeout", type=float, default=420.0, help="how long the largest run may take to open every relationship")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop everything after this long")
    parser.add_argument("--json", type=Path, help="default: bench/results/group_scale-<time>.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (stores, logs, profiles)")
    args = parser.parse_args(argv)
    layout = Layout.of(args.small)
    checkouts = {"checkout": args.checkout.resolve()}
    if args.baseline:
        checkouts["baseline"] = args.baseline.resolve()
    removed = scrub_environment(["ENROLMENT_", "MATCHING_", "SESSIONS_", "CONSOLE_"], exact=["KAFKA_BOOTSTRAP_SERVERS", "TANDEM_SECRET", "TANDEM_HOME", "TANDEM_TOPIC_PREFIX", "TANDEM_RELAY_ENABLED", "TANDEM_CONSUMER_ENABLED"])
    if removed:
        progress(f"ignoring {', '.join(sorted(removed))} (the bench uses its own stores and broker)")
    workroot = Path(tempfile.mkdtemp(prefix="tandem-group-scale-"))

    def on_signal(signum: int, _frame: Any) -> None:
        signal.signal(signum, signal.SIG_IGN)
        progress(f"stopped ({signal.Signals(signum).name}); stopping the platform and the broker; kept {workroot}")
        for child in reversed(_CHILDREN):
            try:
                child.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others anyway
                progress(f"could not stop {child!r}: {exc}")
        os._exit(124 if signum == signal.SIGALRM else 128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, on_signal)
    signal.alarm(int(args.max_seconds))
    runs: dict[str, dict[str, Any]] = {}
    failed = False
    began = time.monotonic()
    try:
        for name, checkout in checkouts.items():
            work = workroot / name
            work.mkdir()
            runs[name] = measure(checkout, layout, work, args.seed, args.run_timeout)
    except Exception as exc:  # noqa: BLE001 - reported, the processes stopped
        failed = True
        progress(f"bench failed: {type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
        if args.keep or failed:
            progress(f"kept {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)
    if not runs:
        return 1
    path = args.json or HERE / "results" / f"group_scale-{datetime.now().strftime('%Y%m%d-%H%M%S')}{'-small' if args.small else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"layout": vars(layout), "seconds": time.monotonic() - began, "runs": runs}, indent=2, default=str) + "\n")
    print(f"Group scale ({'--small: ' if args.small else ''}{layout.others} × {layout.other_size}, 1 × {layout.largest:,}, 1 × {layout.smallest}; "
          f"{datetime.now().strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; run took {time.monotonic() - began:.0f} s; figures in {path}):\n")  # fmt: skip
    print(report(runs, layout))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
