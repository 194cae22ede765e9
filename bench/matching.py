"""Benchmark: optimal pairs (services.matching.pairs.solve_pairs) against the anchor, scipy's
linear_sum_assignment on the dense cost matrix with one row per mentor slot.

    .venv/bin/python bench/matching.py [--repeats 3] [--sizes 55x250,200x1000,1000x5000,4000x20000]
                                       [--capacity 5] [--anchor-max 5000] [--json PATH]

Pools are realistic and generated from a seed: sites and departments of an insurance group,
most people speak French, many also English, a few only English or another language;
mentors aged 22-35, mentees 40-65; 1-4 ranked themes among the four default ones; 0-4
weekly half-days of availability; some mentors managed by a mentee (and a few the other way
round); a few pairs declined before. Every mentor has the same remaining capacity (5: the
slots then equal the mentees, the tight case).

Each measurement runs in a fresh process (this script with --worker), so that its peak
memory (ru_maxrss) is its own; the figure also shows the growth over the process's size just
before the measured step (imports and the pool already there). Measured:

* solver: solve_pairs(problem) from the Person objects: encoding, exact solve, explanations;
* anchor: linear_sum_assignment(cost) alone on the dense (slots x mentees) int64 matrix
  (cost -(BIG + score), 0 where the pair is not allowed, BIG above any total score, so that a
  slot left on a 0 is no pair and the number matched comes first). The matrix is built before
  the clock starts. It is skipped above --anchor-max mentees (at 4,000 x 20,000 the matrix
  alone is 3.2 GB and the solve would take many minutes).

Both answers are checked with scoring.py itself (violations(), score(), capacities), and
their objectives (mentees matched, total score) must be equal wherever the anchor runs; the
script exits 1 otherwise. The machine is shared and noisy: figures are medians over the
repeats, the order of solver and anchor alternates between repeats, and the ratio of the
same run is what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from services.matching.pairs import PairProblem, encode, solve_pairs  # noqa: E402
from services.matching.scoring import SLOTS, Person, Rules, Weights, score, violations  # noqa: E402

DEFAULT_SIZES = "55x250,200x1000,1000x5000,4000x20000"
TARGET_SECONDS = {(1000, 5000): 1.0, (4000, 20000): 10.0}  # the targets on this machine class
THEMES = ["information search", "networking", "managing one's data on social networks", "online learning"]
SITES = [
    "Paris La Défense", "Lyon Part-Dieu", "Nantes", "Lille", "Bordeaux", "Marseille", "Strasbourg",
    "Toulouse", "Rennes", "Nice", "Brussels", "Luxembourg",
]
DEPARTMENTS = [
    "Claims", "Underwriting", "Actuarial", "Information Technology", "Finance", "Human Resources",
    "Legal, Risk & Compliance", "Marketing", "Customer Service", "Sales", "Procurement",
    "Internal Audit", "Communication", "Data Office", "Investments", "Executive Committee",
    "Strategy & Transformation", "Reinsurance",
]
LANGUAGE_SETS = [  # (languages, weight): most speak the local language, many English too
    (("fr",), 30), (("fr", "en"), 35), (("en", "fr"), 8), (("fr", "en", "es"), 6), (("fr", "de"), 4),
    (("fr", "it"), 3), (("en",), 4), (("fr", "ar"), 4), (("fr", "en", "de"), 3), (("pt", "fr"), 2),
    (("nl", "fr", "en"), 1),
]
THIS_YEAR = 2026  # fixed, so that a seed gives the same pool every year


# ---------------------------------------------------------------------------------------
# Realistic pools
# ---------------------------------------------------------------------------------------


def generate_problem(n_mentors: int, n_mentees: int, capacity: int, seed: int) -> PairProblem:
    rng = random.Random(seed)
    language_sets, language_weights = zip(*LANGUAGE_SETS)

    def person(pid: str, mentor: bool) -> dict[str, Any]:
        age = rng.randint(22, 35) if mentor else rng.randint(40, 65)
        return {
            "id": pid,
            "birth_year": THIS_YEAR - age,
            "site": rng.choice(SITES),
            "department": rng.choice(DEPARTMENTS),
            "languages": frozenset(rng.choices(language_sets, language_weights)[0]),
            "themes": tuple(rng.sample(THEMES, rng.choice([1, 2, 2, 3, 3, 4]))),
            "availability": frozenset(rng.sample(SLOTS, rng.randint(0, 4))),
            "email": f"{pid}@groupe-assurance.fr",
        }

    mentors = [person(f"mentor-{rng.getrandbits(48):012x}", True) for _ in range(n_mentors)]
    mentees = [person(f"mentee-{rng.getrandbits(48):012x}", False) for _ in range(n_mentees)]
    for m in mentors:  # seniors manage juniors: some mentors' managers are mentees
        if mentees and rng.random() < 0.10:
            m["manager_email"] = rng.choice(mentees)["email"]
    for e in mentees:  # and rarely the other way round
        if mentors and rng.random() < 0.01:
            e["manager_email"] = rng.choice(mentors)["email"]
    forbidden = frozenset(
        (rng.choice(mentors)["id"], rng.choice(mentees)["id"]) for _ in range(n_mentees // 100) if mentors and mentees
    )
    return PairProblem(
        mentors=[Person(**m) for m in mentors],
        capacity={m["id"]: capacity for m in mentors},
        mentees=[Person(**e) for e in mentees],
        rules=Rules(min_age_gap=5, forbidden=forbidden),
        weights=Weights(),
        n_themes=len(THEMES),
    )


# ---------------------------------------------------------------------------------------
# One measurement, in its own process
# ---------------------------------------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def check_pairs(problem: PairProblem, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """(matched, total score) of pairs, checked with scoring.py: allowed, capacities, one mentor per mentee."""
    mentors = {m.id: m for m in problem.mentors}
    mentees = {e.id: e for e in problem.mentees}
    load: dict[str, int] = {}
    seen: set[str] = set()
    total = 0
    for mentor_id, mentee_id in pairs:
        mentor, mentee = mentors[mentor_id], mentees[mentee_id]
        if violations(mentor, mentee, problem.rules):
            raise AssertionError(f"pair ({mentor_id}, {mentee_id}) breaks {violations(mentor, mentee, problem.rules)}")
        if mentee_id in seen:
            raise AssertionError(f"mentee {mentee_id} matched twice")
        seen.add(mentee_id)
        load[mentor_id] = load.get(mentor_id, 0) + 1
        if load[mentor_id] > problem.capacity[mentor_id]:
            raise AssertionError(f"mentor {mentor_id} over capacity")
        total += score(mentor, mentee, problem.weights, problem.n_themes)
    return len(pairs), total


def worker(kind: str, n_mentors: int, n_mentees: int, capacity: int, seed: int) -> dict[str, Any]:
    problem = generate_problem(n_mentors, n_mentees, capacity, seed)
    if kind == "solver":
        before = _rss_kib()
        started = time.perf_counter()
        solution = solve_pairs(problem)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        matched, total = check_pairs(problem, [(m, e) for m, e, _ in solution.pairs])
        assert (matched, total) == (solution.matched, solution.total_score), "the solution's own sums are wrong"
        return {"seconds": seconds, "matched": matched, "total_score": total, "peak_kib": peak, "before_kib": before}
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    pool = encode(problem)  # the scores only (checked against scoring.py by the unit tests)
    before = _rss_kib()
    slots = np.repeat(np.arange(len(pool.mentors)), pool.capacity)
    big = 1 + 255 * len(pool.mentees)
    allowed = pool.scores != pool.not_allowed
    cost = np.where(allowed, -(big + pool.scores.astype(np.int64)), 0).T[slots]  # (slots, mentees)
    del allowed
    started = time.perf_counter()
    rows, cols = linear_sum_assignment(cost)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    chosen = cost[rows, cols] < 0
    pairs = [(pool.mentors[slots[r]].id, pool.mentees[c].id) for r, c in zip(rows[chosen].tolist(), cols[chosen].tolist())]
    matched, total = check_pairs(problem, pairs)
    return {"seconds": seconds, "matched": matched, "total_score": total, "peak_kib": peak, "before_kib": before}


def measure(kind: str, n_mentors: int, n_mentees: int, capacity: int, seed: int, timeout: float) -> dict[str, Any]:
    command = [
        sys.executable, str(Path(__file__).resolve()), "--worker", kind,
        "--sizes", f"{n_mentors}x{n_mentees}", "--capacity", str(capacity), "--seed", str(seed),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {n_mentors}x{n_mentees} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


@dataclass
class Row:
    n_mentors: int
    n_mentees: int
    slots: int
    solver: list[dict[str, Any]] = field(default_factory=list)
    anchor: list[dict[str, Any]] = field(default_factory=list)

    def median(self, kind: str, key: str) -> float:
        return statistics.median(r[key] for r in getattr(self, kind))


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        mentors, mentees = item.lower().split("x")
        sizes.append((int(mentors.replace("_", "")), int(mentees.replace("_", ""))))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated MENTORSxMENTEES")
    parser.add_argument("--capacity", type=int, default=5, help="remaining capacity of every mentor")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anchor-max", type=int, default=5000, help="skip the anchor above this many mentees")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed to one measurement")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--worker", choices=["solver", "anchor"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.sizes)

    if args.worker:
        (n_mentors, n_mentees), = sizes
        print(json.dumps(worker(args.worker, n_mentors, n_mentees, args.capacity, args.seed)))
        return 0

    load_at_start = os.getloadavg()[0]
    rows = []
    progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    for n_mentors, n_mentees in sizes:
        row = Row(n_mentors, n_mentees, n_mentors * args.capacity)
        rows.append(row)
        kinds = ["solver"] + (["anchor"] if n_mentees <= args.anchor_max else [])
        for repeat in range(args.repeats):
            order = kinds if repeat % 2 == 0 else kinds[::-1]
            for kind in order:
                result = measure(kind, n_mentors, n_mentees, args.capacity, args.seed, args.timeout)
                getattr(row, kind).append(result)
                progress(
                    f"{n_mentors}x{n_mentees} repeat {repeat + 1}/{args.repeats} {kind}: {result['seconds']:.3f}s, "
                    f"matched {result['matched']}, score {result['total_score']}, peak {result['peak_kib'] / 1024:.0f} MiB"
                )
    report = summarise(rows, args, (load_at_start, os.getloadavg()[0]))
    print(report["markdown"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: v for k, v in report.items() if k != "markdown"}, indent=2) + "\n")
    return 0 if report["all_equal"] else 1


def summarise(rows: list[Row], args: argparse.Namespace, load: tuple[float, float]) -> dict[str, Any]:
    def mib(kib: float) -> str:
        return f"{kib / 1024:,.0f}"

    lines = [
        f"Optimal pairs, median of {args.repeats} repeat(s), {datetime.now().strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, every mentor with capacity {args.capacity}, "
        f"1-min load average {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        "| Pool (mentors × mentees, slots) | Solver s | Anchor s | Anchor ÷ solver | Solver peak MiB (growth) | Anchor peak MiB (growth) | Matched, total score | Same objective |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    all_equal = True
    figures = []
    for row in rows:
        solver_s = row.median("solver", "seconds")
        objective = {(r["matched"], r["total_score"]) for r in row.solver}
        if len(objective) != 1:
            all_equal = False
        solver_objective = next(iter(objective))
        peak = row.median("solver", "peak_kib")
        growth = statistics.median(r["peak_kib"] - r["before_kib"] for r in row.solver)
        if row.anchor:
            anchor_s = row.median("anchor", "seconds")
            anchor_objectives = {(r["matched"], r["total_score"]) for r in row.anchor}
            equal = anchor_objectives == objective
            all_equal &= equal
            anchor_peak = row.median("anchor", "peak_kib")
            anchor_growth = statistics.median(r["peak_kib"] - r["before_kib"] for r in row.anchor)
            anchor_cells = f"{anchor_s:.3f} | {anchor_s / solver_s:.1f} | {mib(peak)} ({mib(growth)}) | {mib(anchor_peak)} ({mib(anchor_growth)})"
            same = "yes" if equal else f"**NO**: anchor {sorted(anchor_objectives)}"
        else:
            anchor_s = None
            anchor_cells = f"skipped | – | {mib(peak)} ({mib(growth)}) | –"
            same = "– (anchor skipped)"
        lines.append(
            f"| {row.n_mentors:,} × {row.n_mentees:,} ({row.slots:,}) | {solver_s:.3f} | {anchor_cells} | "
            f"{solver_objective[0]:,}, {solver_objective[1]:,} | {same} |"
        )
        figures.append({
            "mentors": row.n_mentors, "mentees": row.n_mentees, "slots": row.slots,
            "solver": row.solver, "anchor": row.anchor,
            "solver_median_s": solver_s, "anchor_median_s": anchor_s,
        })
    lines.append("")
    lines.append(
        "Solver: `solve_pairs` from the Person objects (encoding, exact solve, explanations). Anchor: "
        "`scipy.optimize.linear_sum_assignment` alone on the prebuilt dense int64 matrix, one row per mentor slot. "
        "Peak: the measuring process's ru_maxrss; growth: over its size just before the measured step. "
        "Objectives checked with scoring.py (violations, score, capacities)."
    )
    for (n_mentors, n_mentees), target in TARGET_SECONDS.items():
        row = next((r for r in rows if (r.n_mentors, r.n_mentees) == (n_mentors, n_mentees)), None)
        if row:
            seconds = row.median("solver", "seconds")
            per_repeat = ", ".join(f"{r['seconds']:.2f}" for r in row.solver)
            verdict = "met" if seconds <= target else "NOT met"
            lines.append(
                f"Target for {n_mentors:,} × {n_mentees:,}: at most {target:g} s; measured {seconds:.2f} s "
                f"(per repeat: {per_repeat}): **{verdict}**."
            )
    return {"rows": figures, "all_equal": all_equal, "load_average_1min": {"start": load[0], "end": load[1]}, "markdown": "\n".join(lines)}


if __name__ == "__main__":
    sys.exit(main())
