"""Optimal pairs (services.matching.pairs): optimality against exact references, hard
constraints, capacities, determinism and the reasons given to mentees left out. No I/O.

The references use only scoring.score() and scoring.violations(), never the solver's own
encoding: brute force for tiny pools, scipy's linear_sum_assignment on the dense matrix with
one row per mentor slot (a pair's value is BIG + score, BIG above any total score, so that
the number of mentees matched comes first) for small ones.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from services.common.errors import Reason
from services.matching import pairs as pairs_module
from services.matching.pairs import PairProblem, PairSolution, encode, solve_pairs
from services.matching.scoring import SLOTS, Person, Rules, Weights, score, violations

THEMES = ("information search", "networking", "managing one's data on social networks", "online learning")


# ---------------------------------------------------------------------------------------
# Random pools
# ---------------------------------------------------------------------------------------


def random_person(rng: random.Random, pid: str, mentor: bool, emails: list[str], languages=("fr", "en", "de")) -> Person:
    return Person(
        id=pid,
        birth_year=rng.randint(1990, 2004) if mentor else rng.randint(1960, 1998),  # some pairs too close in age
        site=rng.choice(["Paris", "Lyon", "Nantes"]),
        department=rng.choice(["IT", "Finance", "HR", "Claims"]),
        languages=frozenset(rng.sample(languages, rng.randint(1, 2))),
        themes=tuple(rng.sample(THEMES, rng.randint(0, 4))),
        availability=frozenset(rng.sample(SLOTS, rng.randint(0, 5))),
        email=f"{pid}@example.com",
        manager_email=rng.choice(emails) if emails and rng.random() < 0.3 else None,
    )


def random_problem(seed: int, n_mentors: int, n_mentees: int, max_capacity: int = 3) -> PairProblem:
    rng = random.Random(seed)
    mentor_ids = [f"m{rng.randrange(10**6):06d}-{k}" for k in range(n_mentors)]
    mentee_ids = [f"e{rng.randrange(10**6):06d}-{k}" for k in range(n_mentees)]
    everyone = [f"{p}@example.com" for p in mentor_ids + mentee_ids]
    mentors = [random_person(rng, pid, True, everyone) for pid in mentor_ids]
    mentees = [random_person(rng, pid, False, everyone) for pid in mentee_ids]
    forbidden = frozenset((rng.choice(mentor_ids), rng.choice(mentee_ids)) for _ in range(rng.randint(0, n_mentees)) if mentor_ids and mentee_ids)
    rules = Rules(min_age_gap=rng.choice([None, 0, 1, 5, 10]), forbidden=forbidden)
    weights = rng.choice(
        [Weights(), Weights(theme=2, same_site=0, cross_department=5, availability=3), Weights(theme=1, same_site=-2, cross_department=1, availability=0)]
    )
    capacity = {pid: rng.randint(0, max_capacity) for pid in mentor_ids}
    return PairProblem(mentors=mentors, capacity=capacity, mentees=mentees, rules=rules, weights=weights, n_themes=len(THEMES))


# ---------------------------------------------------------------------------------------
# Exact references (scoring.py only)
# ---------------------------------------------------------------------------------------


def allowed_scores(problem: PairProblem) -> dict[tuple[int, int], int]:
    """(mentor index, mentee index) -> score, for the allowed pairs, by scoring.py itself."""
    return {
        (i, j): score(m, e, problem.weights, problem.n_themes)
        for i, m in enumerate(problem.mentors)
        for j, e in enumerate(problem.mentees)
        if not violations(m, e, problem.rules)
    }


def brute_force(problem: PairProblem) -> tuple[int, int]:
    """(matched, total score) of the best assignment, trying every one."""
    allowed = allowed_scores(problem)
    caps = [problem.capacity.get(m.id, 0) for m in problem.mentors]
    options = [[None] + [i for i in range(len(problem.mentors)) if (i, j) in allowed] for j in range(len(problem.mentees))]
    best = (0, 0)
    for choice in itertools.product(*options):
        used = [i for i in choice if i is not None]
        if any(used.count(i) > caps[i] for i in set(used)):
            continue
        best = max(best, (len(used), sum(allowed[(i, j)] for j, i in enumerate(choice) if i is not None)))
    return best


def slot_assignment(problem: PairProblem) -> tuple[int, int]:
    """(matched, total score) by linear_sum_assignment, one row per mentor slot."""
    allowed = allowed_scores(problem)
    slots = [i for i, m in enumerate(problem.mentors) for _ in range(problem.capacity.get(m.id, 0))]
    if not slots or not problem.mentees:
        return 0, 0
    low, high = min(allowed.values(), default=0), max(allowed.values(), default=0)
    big = (high - low + 1) * len(problem.mentees) + abs(low) + 1  # one more pair beats any score difference
    value = np.zeros((len(slots), len(problem.mentees)), dtype=np.int64)
    for r, i in enumerate(slots):
        for j in range(len(problem.mentees)):
            if (i, j) in allowed:
                value[r, j] = big + allowed[(i, j)]
    rows, cols = linear_sum_assignment(value, maximize=True)
    chosen = value[rows, cols]
    matched = chosen > 0
    return int(matched.sum()), int((chosen[matched] - big).sum())


def check_solution(problem: PairProblem, solution: PairSolution) -> None:
    """Hard constraints, capacities, one mentor per mentee, scores, sums, order, reasons' keys."""
    mentors = {m.id: m for m in problem.mentors}
    mentees = {e.id: e for e in problem.mentees}
    assert solution.pairs == sorted(solution.pairs)
    for mentor_id, mentee_id, pair_score in solution.pairs:
        assert violations(mentors[mentor_id], mentees[mentee_id], problem.rules) == []
        assert pair_score == score(mentors[mentor_id], mentees[mentee_id], problem.weights, problem.n_themes)
    load: dict[str, int] = {}
    for mentor_id, _, _ in solution.pairs:
        load[mentor_id] = load.get(mentor_id, 0) + 1
    assert all(n <= problem.capacity.get(m, 0) for m, n in load.items())
    matched_mentees = [e for _, e, _ in solution.pairs]
    assert len(matched_mentees) == len(set(matched_mentees))
    assert set(solution.unmatched) == set(mentees) - set(matched_mentees)
    assert all(isinstance(reason, Reason) and reason.code and reason.message for reason in solution.unmatched.values())
    assert solution.matched == len(solution.pairs)
    assert solution.total_score == sum(s for _, _, s in solution.pairs)


STRESS = {  # tuning that forces many column-generation rounds and every shortcut (exactness must not depend on it)
    "FIRST_CANDIDATES": 1,
    "MENTOR_CANDIDATES": 0,
    "ADDED_CANDIDATES": 1,
    "PRUNE_WHEN_FEWER_THAN": 0,  # always try the smaller problem
    "PRUNE_SLACK": 0,
    "REPAIR_ROUNDS": 2,
}


@pytest.fixture(params=["default", "stress"])
def tuning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stress":
        for name, value in STRESS.items():
            monkeypatch.setattr(pairs_module, name, value)
    return request.param


# ---------------------------------------------------------------------------------------
# Optimality
# ---------------------------------------------------------------------------------------


def test_tiny_pools_match_brute_force(tuning: str) -> None:
    for seed in range(120):
        rng = random.Random(seed)
        problem = random_problem(seed, rng.randint(0, 3), rng.randint(0, 5), max_capacity=2)
        solution = solve_pairs(problem)
        check_solution(problem, solution)
        assert (solution.matched, solution.total_score) == brute_force(problem), seed


def test_small_pools_match_the_slot_assignment(tuning: str) -> None:
    for seed in range(1000, 1150):
        rng = random.Random(seed)
        problem = random_problem(seed, rng.randint(1, 10), rng.randint(1, 30))
        solution = solve_pairs(problem)
        check_solution(problem, solution)
        assert (solution.matched, solution.total_score) == slot_assignment(problem), seed


@pytest.mark.parametrize("seed", range(6))
def test_tight_dense_pools_match_the_slot_assignment(seed: int, tuning: str) -> None:
    """Capacity exactly or nearly the number of mentees, almost every pair allowed: the case
    where each mentee's best mentors alone would leave mentees out."""
    rng = random.Random(seed)
    n_mentors, capacity = rng.randint(15, 30), rng.randint(2, 4)
    n_mentees = n_mentors * capacity + rng.choice([-3, 0, 0, 4])
    problem = random_problem(10_000 + seed, n_mentors, n_mentees)
    mentors = [replace(m, languages=frozenset({"fr"}), birth_year=2000) for m in problem.mentors]
    mentees = [replace(e, languages=e.languages | {"fr"}, birth_year=1970) for e in problem.mentees]
    problem = replace(problem, mentors=mentors, mentees=mentees, capacity={m.id: capacity for m in mentors}, rules=replace(problem.rules, min_age_gap=5))
    solution = solve_pairs(problem)
    check_solution(problem, solution)
    assert (solution.matched, solution.total_score) == slot_assignment(problem)


def test_a_larger_pool_matches_the_slot_assignment() -> None:
    problem = random_problem(77, 60, 200, max_capacity=4)
    solution = solve_pairs(problem)
    check_solution(problem, solution)
    assert (solution.matched, solution.total_score) == slot_assignment(problem)


def test_cardinality_comes_before_score() -> None:
    """Two mentees, one mentor each could take; the best-scoring pair for A blocks B."""
    paris = dict(birth_year=2000, department="IT", languages=frozenset({"fr"}), themes=THEMES, availability=frozenset(SLOTS))
    m1 = Person(id="m1", site="Paris", email="m1@x", **paris)
    m2 = Person(id="m2", site="Lyon", email="m2@x", **{**paris, "languages": frozenset({"en"}), "themes": (), "availability": frozenset()})
    a = Person(id="a", birth_year=1960, site="Paris", department="HR", languages=frozenset({"fr", "en"}), themes=THEMES, availability=frozenset(SLOTS), email="a@x")
    b = Person(id="b", birth_year=1960, site="Lyon", department="HR", languages=frozenset({"fr"}), themes=(), email="b@x")
    problem = PairProblem([m1, m2], {"m1": 1, "m2": 1}, [a, b], Rules(), Weights(), 4)
    solution = solve_pairs(problem)
    assert solution.matched == 2
    assert [(m, e) for m, e, _ in solution.pairs] == [("m1", "b"), ("m2", "a")]


# ---------------------------------------------------------------------------------------
# The encoding is scoring.py's definition
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("theme_table", [True, False])
def test_encoded_scores_are_scoring_scores_and_violations(theme_table: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not theme_table:  # each person their own theme list (the path for unusually many distinct lists)
        monkeypatch.setattr(pairs_module, "THEME_TABLE_CELLS", 0)
    for seed in range(40):
        rng = random.Random(seed)
        problem = random_problem(seed, rng.randint(1, 8), rng.randint(1, 12))
        if seed % 4 == 0:  # unusual input: themes outside the programme or twice, slots outside SLOTS, many languages
            many = tuple(f"l{k}" for k in range(150))
            mentors = [replace(m, themes=m.themes + ("cooking",), availability=m.availability | {"sat-am"}, languages=frozenset(rng.sample(many, 3))) for m in problem.mentors]
            mentees = [replace(e, themes=("cooking",) + e.themes + e.themes[:1], languages=frozenset(rng.sample(many, 40))) for e in problem.mentees]
            problem = replace(problem, mentors=mentors, mentees=mentees, n_themes=6)
        if seed % 5 == 1:  # weights too large for 8 bits
            problem = replace(problem, weights=Weights(theme=300, same_site=-7, cross_department=2, availability=1000))
        pool = encode(problem)
        for i, m in enumerate(pool.mentors):
            for j, e in enumerate(pool.mentees):
                expected = pool.not_allowed if violations(m, e, problem.rules) else score(m, e, problem.weights, problem.n_themes)
                assert int(pool.scores[j, i]) == expected, (seed, m.id, e.id)
        assert [m.id for m in pool.mentors] == sorted(m.id for m in problem.mentors)


@pytest.mark.parametrize("weights", [Weights(theme=400, same_site=-50, cross_department=3, availability=2000), Weights(theme=90_000, same_site=7, cross_department=-3, availability=1)])
def test_large_weights_are_still_optimal(weights: Weights) -> None:
    for seed in range(20):
        problem = replace(random_problem(seed, 6, 15), weights=weights)
        assert encode(problem).scores.dtype == (np.int16 if weights.theme == 400 else np.int32)
        solution = solve_pairs(problem)
        check_solution(problem, solution)
        assert (solution.matched, solution.total_score) == slot_assignment(problem)


# ---------------------------------------------------------------------------------------
# Determinism, validation
# ---------------------------------------------------------------------------------------


def test_shuffled_input_gives_the_same_solution() -> None:
    for seed in range(15):
        problem = random_problem(seed, 12, 40)
        first = solve_pairs(problem)
        rng = random.Random(seed)
        mentors, mentees = list(problem.mentors), list(problem.mentees)
        rng.shuffle(mentors)
        rng.shuffle(mentees)
        capacity = dict(reversed(list(problem.capacity.items())))
        again = solve_pairs(replace(problem, mentors=mentors, mentees=mentees, capacity=capacity))
        assert again == first
        assert solve_pairs(problem) == first


def test_duplicate_ids_and_negative_capacity_are_refused() -> None:
    problem = random_problem(3, 3, 3)
    with pytest.raises(ValueError, match="given twice"):
        solve_pairs(replace(problem, mentees=[*problem.mentees, problem.mentees[0]]))
    with pytest.raises(ValueError, match="negative"):
        solve_pairs(replace(problem, capacity={**problem.capacity, problem.mentors[0].id: -1}))


def test_weights_too_large_to_compare_exactly_are_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        solve_pairs(replace(random_problem(4, 3, 3), weights=Weights(theme=10**9)))


def test_empty_pools() -> None:
    problem = random_problem(5, 3, 4)
    assert solve_pairs(replace(problem, mentees=[])) == PairSolution(pairs=[], unmatched={}, matched=0, total_score=0)
    nobody = solve_pairs(replace(problem, mentors=[], capacity={}))
    assert nobody.matched == 0
    assert {r.code for r in nobody.unmatched.values()} == {"no_mentor_available"}


# ---------------------------------------------------------------------------------------
# Why a mentee is left out
# ---------------------------------------------------------------------------------------


def mentor(pid: str, **changes) -> Person:
    base = Person(id=pid, birth_year=2000, site="Paris", department="IT", languages=frozenset({"fr"}), themes=("networking",), email=f"{pid}@x")
    return replace(base, **changes)


def mentee(pid: str, **changes) -> Person:
    base = Person(id=pid, birth_year=1965, site="Paris", department="HR", languages=frozenset({"fr"}), themes=("networking",), email=f"{pid}@x")
    return replace(base, **changes)


def reasons(mentors: list[Person], mentees: list[Person], capacity: dict[str, int] | None = None, rules: Rules = Rules()) -> dict[str, Reason]:
    capacity = capacity if capacity is not None else {m.id: 1 for m in mentors}
    solution = solve_pairs(PairProblem(mentors, capacity, mentees, rules, Weights(), 4))
    check_solution(PairProblem(mentors, capacity, mentees, rules, Weights(), 4), solution)
    return solution.unmatched


def test_reason_no_shared_language() -> None:
    assert reasons([mentor("m1"), mentor("m2")], [mentee("e1", languages=frozenset({"de"}))]) == {"e1": Reason("no_mentor_shares_language", "no mentor shares a language")}


def test_reason_age_gap() -> None:
    got = reasons([mentor("m1", birth_year=1990), mentor("m2", birth_year=1992)], [mentee("e1", birth_year=1989)], rules=Rules(min_age_gap=5))
    assert got == {"e1": Reason("every_mentor_too_close_in_age", "every mentor is too close in age (min_age_gap 5: mentors must be at least 5 years younger)", {"min_age_gap": 5})}


def test_reason_declined_and_managers() -> None:
    rules = Rules(forbidden=frozenset({("m1", "e1"), ("m2", "e1")}))
    assert reasons([mentor("m1"), mentor("m2")], [mentee("e1")], rules=rules) == {"e1": Reason("every_mentor_declined_before", "every mentor was declined or matched before")}
    boss = mentee("boss", email="boss@x")
    got = reasons([mentor("m1", manager_email="boss@x")], [boss])
    assert got == {"boss": Reason("every_mentor_manager_or_managed", "every mentor is their manager or managed by them")}


def test_reason_lists_the_constraints_when_none_excludes_every_mentor() -> None:
    mentors = [mentor("m1", languages=frozenset({"en"})), mentor("m2", languages=frozenset({"en"})), mentor("m3", birth_year=1970)]
    got = reasons(mentors, [mentee("e1", birth_year=1968)], rules=Rules(min_age_gap=5))
    assert got == {
        "e1": Reason(
            "no_mentor_allowed",
            "no mentor is allowed: 2 of 3 mentors share no language; 1 of 3 mentors are too close in age (min_age_gap 5)",
            {"mentors": 3, "no_language": 2, "too_close_in_age": 1, "manager": 0, "declined": 0, "min_age_gap": 5},
        )
    }


def test_reason_full_mentors() -> None:
    got = reasons([mentor("m1"), mentor("m2"), mentor("m3", languages=frozenset({"en"}))], [mentee("e1")], capacity={"m1": 0, "m2": 0, "m3": 5})
    assert got == {"e1": Reason("allowed_mentors_full", "no capacity left: the 2 mentors allowed for them are full", {"allowed": 2})}
    # The only allowed mentor has one place: the better-scoring mentee gets it.
    got = reasons([mentor("m1")], [mentee("e1"), mentee("e2", site="Lyon")], capacity={"m1": 1})
    assert got == {"e2": Reason("allowed_mentors_full", "no capacity left: the only mentor allowed for them is full", {"allowed": 1})}


def test_unmatched_mentees_with_allowed_mentors_only_ever_see_full_mentors() -> None:
    for seed in range(30):
        problem = random_problem(seed, 6, 25, max_capacity=2)
        solution = solve_pairs(problem)
        load: dict[str, int] = {}
        for m, _, _ in solution.pairs:
            load[m] = load.get(m, 0) + 1
        for mentee_id, reason in solution.unmatched.items():
            e = next(p for p in problem.mentees if p.id == mentee_id)
            allowed = [m for m in problem.mentors if not violations(m, e, problem.rules)]
            if allowed:
                assert reason.code == "allowed_mentors_full", reason
                assert all(load.get(m.id, 0) == problem.capacity.get(m.id, 0) for m in allowed)
            else:
                assert reason.code != "allowed_mentors_full", reason
