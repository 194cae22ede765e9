"""Soak: the reliability suite's fault scenario, bigger and longer, with figures.

    .venv/bin/python bench/soak.py [--subsidiaries 10] [--participants 1000] [--rounds 3] [--json out.json]

Each round runs the same load twice on a fresh platform (its own embedded broker, the three
services, each relay a process of its own: tests/reliability/faults.py): once clean, the
anchor, and once while each service and each relay is SIGKILLed at random moments (seeded,
every 1 to 3 s, down 0.2 to 1 s) and started again. The load enrols `--participants` people
in each of `--subsidiaries` subsidiaries by CSV files of 50 rows, certifies the mentors and
publishes a pair run per subsidiary halfway. After each run it waits until matching and
sessions hold everything, then checks what the suite checks: every enrolment event applied
exactly once in matching and sessions (counted in their stores), one relationship per
match, every read model equal to a clean replay. It reports the enrolment rate (people per
second, from the first file to the last answer) and the time to converge after the load,
with faults and clean, and their ratio; the kills per part. Exit 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The scenario is the reliability suite's own (tests/reliability/faults.py), run longer.
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "reliability")]

from bench.environment import scrub_environment  # noqa: E402
from faults import SERVICE_NAMES, Cluster, Faults, Load, assert_exactly_once_and_replayable, converged  # noqa: E402

PARTS = [f"{kind}:{name}" for kind in ("api", "relay") for name in SERVICE_NAMES]


def one_run(work: Path, subsidiaries: int, participants: int, seed: int | None, bootstrap: str | None = None) -> dict[str, Any]:
    """One load on a fresh platform, with faults when `seed` is given; on its own embedded
    broker, or on the running cluster at `bootstrap` (bench/brokers.py), under a fresh prefix."""
    cluster = Cluster(work, f"soak{int(time.time() * 1000) % 10**8}", lambda service: {}, bootstrap_servers=bootstrap)
    try:
        cluster.start(separate_relays=True)
        slugs = [f"soak-{n:02d}" for n in range(subsidiaries)]
        load = Load(cluster, slugs, participants)
        faults = Faults(cluster, PARTS, seed, every=(1.0, 3.0), down_for=(0.2, 1.0)) if seed is not None else None
        threads = [threading.Thread(target=load.run)] + ([threading.Thread(target=faults.run)] if faults else [])
        began = time.monotonic()
        for thread in threads:
            thread.start()
        load.done.wait()
        loaded = time.monotonic() - began
        if faults:
            faults.stop.set()
        for thread in threads:
            thread.join(120)
        errors = load.errors + (faults.errors if faults else [])
        if errors:
            raise AssertionError(errors)
        settle = time.monotonic()
        people = converged(cluster, slugs)
        converge = time.monotonic() - settle
        enrolled = sum(len(p) for p in people.values())
        assert enrolled == subsidiaries * participants, enrolled
        assert_exactly_once_and_replayable(cluster, people, load.published_runs)
        return {"people": enrolled, "load_seconds": loaded, "rate": enrolled / loaded, "converge_seconds": converge, "kills": dict(cluster.kills), "runs_published": len(load.published_runs)}
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subsidiaries", type=int, default=10)
    parser.add_argument("--participants", type=int, default=1000, help="per subsidiary (default 1000: 10,000 in all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    removed = scrub_environment(["ENROLMENT_", "MATCHING_", "SESSIONS_"], exact=["KAFKA_BOOTSTRAP_SERVERS", "TANDEM_SECRET", "TANDEM_HOME", "TANDEM_TOPIC_PREFIX"])
    if removed:
        print(f"ignoring {', '.join(removed)}", file=sys.stderr)
    rounds = []
    failed = False
    for n in range(args.rounds):
        result: dict[str, Any] = {}
        # Alternate which goes first, so that a drift of the machine favours neither.
        for kind in (("clean", "faults") if n % 2 == 0 else ("faults", "clean")):
            with tempfile.TemporaryDirectory(prefix=f"tandem-soak-{kind}-") as work:
                try:
                    result[kind] = one_run(Path(work), args.subsidiaries, args.participants, args.seed + n if kind == "faults" else None)
                except AssertionError as exc:
                    failed = True
                    result[kind] = {"error": str(exc)[:2000]}
            print(f"round {n + 1} {kind}: {result[kind]}", file=sys.stderr, flush=True)
        rounds.append(result)
    ok = [r for r in rounds if "error" not in r["clean"] and "error" not in r["faults"]]
    if ok:
        def med(kind: str, key: str) -> float:
            return statistics.median(r[kind][key] for r in ok)

        print(f"\n{args.subsidiaries} subsidiaries × {args.participants} participants, median of {len(ok)} rounds:\n")
        print("| Run | Enrolled per second | Load (s) | Converged after (s) | Kills |")
        print("|---|---:|---:|---:|---|")
        print(f"| clean (anchor) | {med('clean', 'rate'):.0f} | {med('clean', 'load_seconds'):.1f} | {med('clean', 'converge_seconds'):.1f} | – |")
        kills = {part: statistics.median(r["faults"]["kills"].get(part, 0) for r in ok) for part in PARTS}
        print(f"| with faults | {med('faults', 'rate'):.0f} | {med('faults', 'load_seconds'):.1f} | {med('faults', 'converge_seconds'):.1f} | {', '.join(f'{p} {k:g}' for p, k in kills.items())} |")
        ratios = [r["faults"]["rate"] / r["clean"]["rate"] for r in ok]
        print(f"\nRate with faults ÷ clean: **{statistics.median(ratios):.2f}** (per round: {', '.join(f'{x:.2f}' for x in ratios)}). Every check held in {len(ok)} of {len(rounds)} rounds.")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "rounds": rounds}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
