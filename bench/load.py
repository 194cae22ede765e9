"""Load: the three services driven at a steady rate on loopback, each endpoint's throughput
and p50/p99 latency, next to a bare FastAPI endpoint served the same way (the anchor).

    .venv/bin/python bench/load.py [--rate 100] [--seconds 10] [--repeats 3] [--json out.json]

It starts its own embedded broker and the three services as processes (SQLite stores in a
temporary TANDEM_HOME), seeds one subsidiary (300 participants, mentors certified, a pair run
published, a session booked per relationship; the write endpoint enrols in a second
subsidiary, so what the reads see is the same in every repeat), then for each endpoint in turn sends
`--rate` requests a second for `--seconds` (open loop: each request has its scheduled time,
and its latency counts from then, so a slow answer delays no later measurement), from a
pool of client threads. The anchor, a FastAPI app with one GET returning a small JSON, runs
under the same uvicorn settings in its own process and is measured in the same rounds. The
endpoints' order is rotated between repeats; figures are medians over the repeats. Read the
ratio columns first: an endpoint's p50 (and p99) divided by the anchor's in the same run.
Client and servers share the machine's cores: absolute figures are this machine's, only.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.environment import scrub_environment  # noqa: E402
from contracts.topics import Topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.services import SERVICES, ServiceProcess  # noqa: E402
from infra.topics import ensure_topics  # noqa: E402
from services.common.auth import issue_token  # noqa: E402

SLUG = "load-bench"
WRITES = "load-writes"  # the write endpoint enrols here, so the data the reads see stays the same
SECRET = "load-bench-secret-" + "b" * 40
HEADER = "role,name,email,birth_year,department,site,languages,themes,manager_email,availability\n"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the anchor: bare FastAPI under uvicorn, as the services are served --------------------


def serve_anchor(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, Any]:
        return {"ok": True, "service": "anchor", "items": list(range(10))}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_anchor(port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, "--serve-anchor", str(port)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the anchor did not start")


# -- the platform, seeded -----------------------------------------------------------------


def seed(urls: dict[str, str], token: str, mentors: int = 40, mentees: int = 260) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=120) as http:
        e, m, s = urls["enrolment"], urls["matching"], urls["sessions"]
        for slug in (SLUG, WRITES):
            http.post(f"{e}/subsidiaries", json={"id": slug, "name": slug, "timezone": "Europe/Paris", "locale": "fr-FR"}).raise_for_status()
        rows = [f"mentor,Mentor {i},mentor{i}@load.example.com,{1996 + i % 6},Digital,Paris,fr;en,networking;online learning,,mon-am" for i in range(mentors)]
        rows += [f"mentee,Mentee {i},mentee{i}@load.example.com,{1958 + i % 15},Dept {i % 4},Lyon,fr,online learning;networking,,mon-am" for i in range(mentees)]
        http.post(f"{e}/subsidiaries/{SLUG}/participants/import", content=HEADER + "\n".join(rows) + "\n", headers={"Content-Type": "text/csv"}).raise_for_status()
        people = http.get(f"{e}/subsidiaries/{SLUG}/participants", params={"limit": 10000}).json()
        for p in people:
            if p["role"] == "mentor":
                http.post(f"{e}/subsidiaries/{SLUG}/participants/{p['id']}/certify").raise_for_status()
        _wait(lambda: (r := http.get(f"{m}/subsidiaries/{SLUG}/pool")).status_code == 200 and len(r.json()["mentors"]) == mentors, "matching's pool")
        run = http.post(f"{m}/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
        http.post(f"{m}/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish").raise_for_status()
        _wait(lambda: len(http.get(f"{s}/subsidiaries/{SLUG}/relationships", params={"limit": 10000}).json()) == len(run["proposals"]), "sessions' relationships")
        relationships = http.get(f"{s}/subsidiaries/{SLUG}/relationships", params={"limit": 10000}).json()
        first = (datetime.now(UTC) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
        for n, r in enumerate(relationships):
            starts = (first + timedelta(hours=2 * (n % 40), days=n // 40)).isoformat()
            http.post(f"{s}/subsidiaries/{SLUG}/sessions", json={"relationship_id": r["id"], "theme": r["theme"] or "networking", "starts_at": starts, "location": "Room"})
        return {"participant": people[len(people) // 2]["id"], "relationship": relationships[0]["id"]}


def _wait(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Endpoint:
    name: str
    method: str
    url: str
    body: Any = None  # a callable giving each request's body, for writes

    def request(self, client: httpx.Client, n: int) -> int:
        if self.method == "GET":
            return client.get(self.url).status_code
        return client.request(self.method, self.url, json=self.body(n)).status_code


def endpoints(urls: dict[str, str], anchor: str, ids: dict[str, Any], run_id: str) -> list[Endpoint]:
    e, m, s = urls["enrolment"], urls["matching"], urls["sessions"]
    counter = iter(range(10**9))

    def person(_: int) -> dict[str, Any]:
        n = next(counter)
        return {"role": "mentee", "name": f"Load {n}", "email": f"load.{n}.{run_id}@load.example.com", "birth_year": 1965,
                "department": "Finance", "site": "Lyon", "languages": ["fr"], "themes": ["networking"]}  # fmt: skip

    return [
        Endpoint("anchor GET /ping (bare FastAPI)", "GET", f"{anchor}/ping"),
        Endpoint("enrolment GET participants (page of 50)", "GET", f"{e}/subsidiaries/{SLUG}/participants?limit=50"),
        Endpoint("enrolment GET one participant", "GET", f"{e}/subsidiaries/{SLUG}/participants/{ids['participant']}"),
        Endpoint("enrolment POST participant (write)", "POST", f"{e}/subsidiaries/{WRITES}/participants", person),
        Endpoint("matching GET pool", "GET", f"{m}/subsidiaries/{SLUG}/pool"),
        Endpoint("matching GET matches (page of 50)", "GET", f"{m}/subsidiaries/{SLUG}/matches?limit=50"),
        Endpoint("sessions GET dashboard", "GET", f"{s}/subsidiaries/{SLUG}/dashboard"),
        Endpoint("sessions GET relationships (page of 50)", "GET", f"{s}/subsidiaries/{SLUG}/relationships?limit=50"),
        Endpoint("sessions GET sessions (page of 50)", "GET", f"{s}/subsidiaries/{SLUG}/sessions?limit=50"),
    ]


def drive(endpoint: Endpoint, token: str, rate: float, seconds: float, workers: int) -> dict[str, Any]:
    """Open loop: request i is due at start + i / rate; its latency counts from then."""
    total = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    local = threading.local()

    def one(n: int, due: float) -> None:
        nonlocal failures
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            status = endpoint.request(client, n)
        except httpx.HTTPError:
            status = 0
        took = time.perf_counter() - due
        with lock:
            latencies.append(took)
            if not 200 <= status < 300:
                failures += 1

    start = time.perf_counter() + 0.2
    pool = ThreadPoolExecutor(workers)
    try:
        for n in range(total):
            pool.submit(one, n, start + n / rate)
        pool.shutdown(wait=True)
    finally:  # interrupted (Ctrl-C, SIGTERM): drop what is still scheduled, then stop the platform
        pool.shutdown(wait=False, cancel_futures=True)
    elapsed = max(time.perf_counter() - start, 1e-9)
    latencies.sort()
    return {
        "requests": total,
        "failures": failures,
        "throughput": total / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests a second, per endpoint (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each endpoint is driven (default 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16, help="client threads")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve-anchor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_anchor:
        serve_anchor(args.serve_anchor)
        return 0

    removed = scrub_environment(["ENROLMENT_", "MATCHING_", "SESSIONS_"], exact=["KAFKA_BOOTSTRAP_SERVERS", "TANDEM_SECRET", "TANDEM_HOME", "TANDEM_TOPIC_PREFIX"])
    if removed:
        print(f"ignoring {', '.join(removed)}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="tandem-load-"))
    broker = EmbeddedBroker(port=free_port(), log_path=work / "broker.log").start()
    processes: list[ServiceProcess] = []
    anchor = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        topics = Topics("load")
        ensure_topics(broker.bootstrap_servers, topics.all(), partitions=3)
        env = {"TANDEM_HOME": str(work), "TANDEM_SECRET": SECRET, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "TANDEM_TOPIC_PREFIX": "load"}
        for spec in SERVICES:
            processes.append(ServiceProcess(spec, free_port(), env, log=work / f"{spec.name}.log").start(timeout=60))
        anchor_port = free_port()
        anchor = start_anchor(anchor_port, work / "anchor.log")
        token = issue_token(SECRET, "group-admin", subject="load-bench")
        urls = {p.spec.name: p.url for p in processes}
        print(f"seeding {SLUG} ...", file=sys.stderr)
        ids = seed(urls, token)
        results: dict[str, list[dict[str, Any]]] = {}
        for repeat in range(args.repeats):
            points = endpoints(urls, f"http://127.0.0.1:{anchor_port}", ids, f"r{repeat}-{random.randrange(10**6)}")
            order = points[repeat % len(points):] + points[: repeat % len(points)]
            for point in order:
                drive(point, token, args.rate, 1.0, args.workers)  # warm-up, not counted
                result = drive(point, token, args.rate, args.seconds, args.workers)
                results.setdefault(point.name, []).append(result)
                print(f"repeat {repeat + 1}: {point.name}: {result['throughput']:.0f}/s p50 {result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms failures {result['failures']}", file=sys.stderr)
        report(results, args)
        if args.json:
            args.json.write_text(json.dumps({"rate": args.rate, "seconds": args.seconds, "results": results}, indent=2))
        return 1 if any(r["failures"] for runs in results.values() for r in runs) else 0
    finally:
        if anchor is not None:
            anchor.terminate()
            anchor.wait(10)
        for process in processes:
            process.stop()
        broker.stop()


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    med = {name: {key: statistics.median(r[key] for r in runs) for key in ("throughput", "p50_ms", "p99_ms", "failures")} for name, runs in results.items()}
    anchor = next(v for k, v in med.items() if k.startswith("anchor"))
    print(f"\nOpen loop at {args.rate:g} requests/s per endpoint for {args.seconds:g} s, {args.workers} client threads, median of {args.repeats} repeats:\n")
    print("| Endpoint | Throughput (req/s) | p50 (ms) | p99 (ms) | p50 ÷ anchor | p99 ÷ anchor | Failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, v in med.items():
        print(f"| {name} | {v['throughput']:.0f} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['p50_ms'] / anchor['p50_ms']:.1f}× | {v['p99_ms'] / anchor['p99_ms']:.1f}× | {v['failures']:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
