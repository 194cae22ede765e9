"""Pairs: each mentee with at most one mentor, each mentor with at most its remaining
capacity, only allowed pairs (scoring.violations() is empty), chosen optimally. Pure: no I/O.

The objective is lexicographic: first the number of mentees matched, then the total score
(scoring.score() summed over the pairs). Both are folded into one integer weight per pair,
w = BIG + score, where BIG is larger than any difference of total scores, so that no score
is ever bought with a mentee left out. The problem is then a maximum-weight b-matching, a
transportation linear programme whose optimum is integral:

    primal: max sum w[j,i] x[j,i]   sum_j x[j,i] <= capacity[i],  sum_i x[j,i] <= 1,  x >= 0
    dual:   min sum capacity[i] u[i] + sum v[j]   u[i] + v[j] >= w[j,i],  u, v >= 0

(j: a mentee, i: a mentor, over the allowed pairs; u is a mentor's *price*, v a mentee's
*surplus*). For given prices the best surplus is v[j] = max(0, max_i w[j,i] - u[i]).

How it is solved, exactly and fast (realistic pools are dense: almost every pair is
allowed, millions of pairs):

1. *Encode.* People are sorted by id first, so the same input in any order gives the same
   arrays, hence the same answer. Every pair's score is computed at once with numpy into one
   dense matrix (mentees x mentors, int8 in practice), NOT_ALLOWED marking the pairs a hard
   constraint forbids.
2. *Column generation with a certificate.* A restricted problem keeps only candidate pairs
   (at first each mentee's best mentors and each mentor's best mentees by score) and is
   solved exactly by OR-Tools' min-cost flow (maximum flow at minimum cost, which is the
   lexicographic objective itself). From its solution, the largest prices u optimal for the
   restricted dual are computed (shortest paths, see _largest_prices). Then *every* allowed
   pair of the full matrix is priced out, vectorised: if no mentee j has a pair with
   w[j,i] - u[i] above its surplus v[j] in the restricted solution, then (u, v) is feasible
   for the full dual and its objective equals the restricted solution's value (complementary
   slackness), so by LP duality that solution is optimal for the full problem: this check,
   done on every pair, is the certificate every answer passes. Otherwise the violating pairs
   (each violated mentee's best few) join the candidates and the loop goes on. A violating
   pair is never a candidate already, so each round adds at least one pair and the loop
   ends; realistic pools take five to fifteen rounds of a few hundred thousand candidates.
3. *Shortcuts* (they change the time, never the answer's optimality). When only mentees
   already matched are violated, new prices for the same solution are first sought by
   continuing the shortest paths with the new pairs; if they exist, that solution is still
   optimal for the larger candidate set and no solve is needed. Else, when few mentees are
   violated, the restricted problem is first solved on the candidates that are nearly worth
   it (reduced cost at most PRUNE_SLACK) and kept only if prices consistent with every
   candidate exist for its solution.

Ties are broken deterministically (by the id order and a fixed pseudo-random tie-break on
the candidates, never by input order or time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from services.common.errors import Reason
from services.matching.scoring import Person, Rules, Weights, sorted_by_id

# Tuning (speed only: the answer is optimal whatever these are).
FIRST_CANDIDATES = 10  # each mentee's best mentors in the first restricted problem
MENTOR_CANDIDATES = 10  # and each mentor's best mentees
ADDED_CANDIDATES = 10  # most violating pairs added per violated mentee and round
PRUNE_WHEN_FEWER_THAN = 20  # a smaller restricted problem is tried when under 1/20 of the mentees are violated
PRUNE_SLACK = 1  # ... made of the candidates whose reduced cost is at most this
REPAIR_ROUNDS = 100  # Bellman-Ford rounds tried before giving up on a shortcut
THEME_TABLE_CELLS = 1 << 20  # largest (mentee lists x mentor lists) theme table; beyond, per chunk
CHUNK_CELLS = 1 << 22  # pairs handled at once by the vectorised passes (bounds temporary memory)
_TIE_SEED = 20240601  # fixed: the pseudo-random tie-break is part of the deterministic answer


@dataclass(frozen=True)
class PairProblem:
    mentors: Sequence[Person]
    capacity: Mapping[str, int]  # remaining capacity per mentor id (mentor_capacity minus active matches); 0 or missing = full
    mentees: Sequence[Person]
    rules: Rules
    weights: Weights
    n_themes: int  # number of themes the programme offers (for theme_points)


@dataclass(frozen=True)
class PairSolution:
    pairs: list[tuple[str, str, int]]  # (mentor id, mentee id, score), sorted by (mentor id, mentee id)
    unmatched: dict[str, Reason]  # mentee id -> why, a code with its params and the sentence a person understands
    matched: int
    total_score: int


def solve_pairs(problem: PairProblem) -> PairSolution:
    """The optimal pairs (most mentees matched, then highest total score), deterministic."""
    pool = encode(problem)
    mentor_of = max_weight_b_matching(pool.scores, pool.capacity, pool.not_allowed, pool.score_range)
    matched = np.flatnonzero(mentor_of >= 0)
    pair_scores = pool.scores[matched, mentor_of[matched]].astype(np.int64)
    pairs = sorted(
        (pool.mentors[i].id, pool.mentees[j].id, int(s)) for j, i, s in zip(matched.tolist(), mentor_of[matched].tolist(), pair_scores.tolist())
    )
    unmatched = _unmatched_reasons(pool, problem.rules, np.flatnonzero(mentor_of < 0))
    return PairSolution(pairs=pairs, unmatched=unmatched, matched=len(pairs), total_score=int(pair_scores.sum()))


# ---------------------------------------------------------------------------------------
# Encoding: the pool as arrays, every pair's score in one matrix
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodedPool:
    """The pool in canonical order (ids sorted) and the score of every pair.

    scores[j, i] is score(mentors[i], mentees[j]) when violations(...) is empty, else
    not_allowed (the smallest value of the matrix's integer type, below any score).
    """

    mentors: list[Person]
    mentees: list[Person]
    capacity: np.ndarray  # int64 per mentor
    scores: np.ndarray  # (len(mentees), len(mentors)), int8 (int16 or int32 for large weights)
    not_allowed: int
    score_range: tuple[int, int]  # bounds on any allowed pair's score
    # Attributes kept for the explanations of unmatched mentees:
    languages: tuple[np.ndarray, np.ndarray]  # (mentees, mentors) language bit sets (n, words)
    birth_years: tuple[np.ndarray, np.ndarray]


def encode(problem: PairProblem) -> EncodedPool:
    """Sort the people by id and compute every pair's score, vectorised in chunks of mentees."""
    mentors = sorted_by_id(problem.mentors, "mentor")
    mentees = sorted_by_id(problem.mentees, "mentee")
    capacity = np.array([problem.capacity.get(m.id, 0) for m in mentors], dtype=np.int64)
    if (capacity < 0).any():
        raise ValueError("a mentor's remaining capacity cannot be negative")
    weights, rules = problem.weights, problem.rules

    # Themes: the theme term depends only on the two ranked lists, of which a programme has
    # few distinct ones (at most 64 orders of four themes): one table over (mentee's list,
    # mentor's list); with unusually many distinct lists, computed per chunk of people.
    mentee_lists, mentee_list_of = _codes([p.themes for p in mentees])
    mentor_lists, mentor_list_of = _codes([p.themes for p in mentors])
    theme_ranks = _ThemeRanks(mentee_lists, mentor_lists, problem.n_themes)
    themes: np.ndarray | None = None
    if len(mentee_lists) * len(mentor_lists) <= THEME_TABLE_CELLS:
        themes = weights.theme * theme_ranks.points(np.arange(len(mentee_lists)), np.arange(len(mentor_lists)))
        theme_range = (int(themes.min(initial=0)), int(themes.max(initial=0)))
    else:
        longest = max(len(t) for t in (*mentee_lists, *mentor_lists))
        theme_bound = abs(weights.theme) * longest * 2 * (problem.n_themes + longest)
        theme_range = (-theme_bound, theme_bound)
    _, site_of = _codes([p.site for p in (*mentees, *mentors)], np.int32)
    _, department_of = _codes([p.department for p in (*mentees, *mentors)], np.int32)
    n_e = len(mentees)
    site_e, site_m = site_of[:n_e], site_of[n_e:]
    dept_e, dept_m = department_of[:n_e], department_of[n_e:]
    lang_e, lang_m = _bit_sets([p.languages for p in mentees], [p.languages for p in mentors])
    avail_e, avail_m = _bit_sets([p.availability for p in mentees], [p.availability for p in mentors])
    born_e = np.array([p.birth_year for p in mentees], dtype=np.int64)
    born_m = np.array([p.birth_year for p in mentors], dtype=np.int64)
    if np.abs(np.concatenate([born_e, born_m])).max(initial=0) + abs(rules.min_age_gap or 0) < 1 << 30:
        born_e, born_m = born_e.astype(np.int32), born_m.astype(np.int32)  # compared faster

    # The narrowest integer type holding every score, with its minimum (below them) for
    # NOT_ALLOWED; the partial sums are computed in a type holding the sum of the terms' sizes.
    shared_slots = min(max((len(p.availability) for p in mentees), default=0), max((len(p.availability) for p in mentors), default=0))
    terms = [
        theme_range,
        (min(0, weights.same_site), max(0, weights.same_site)),
        (min(0, weights.cross_department), max(0, weights.cross_department)),
        (min(0, weights.availability * shared_slots), max(0, weights.availability * shared_slots)),
    ]
    low, high = sum(t[0] for t in terms), sum(t[1] for t in terms)
    size = sum(max(-t[0], t[1]) for t in terms)
    dtype = next((t for t in (np.int8, np.int16, np.int32) if np.iinfo(t).min < low and high <= np.iinfo(t).max), None)
    work: type[np.signedinteger] | None = next((t for t in (np.int16, np.int32, np.int64) if size <= np.iinfo(t).max), None)
    if dtype is None or work is None:
        raise ValueError("the score weights are too large")
    not_allowed = int(np.iinfo(dtype).min)
    if themes is not None:
        themes = themes.astype(work)

    scores = np.empty((len(mentees), len(mentors)), dtype=dtype)
    step = max(1, CHUNK_CELLS // max(1, len(mentors)))
    for a in range(0, len(mentees), step):
        b = min(len(mentees), a + step)
        if themes is not None:
            s = themes[mentee_list_of[a:b]][:, mentor_list_of]
        else:
            s = (weights.theme * theme_ranks.points(mentee_list_of[a:b], mentor_list_of)).astype(work)
        if weights.same_site:
            s += (site_e[a:b, None] == site_m[None, :]).astype(work) * work(weights.same_site)
        if weights.cross_department:
            s += (dept_e[a:b, None] != dept_m[None, :]).astype(work) * work(weights.cross_department)
        if weights.availability:
            s += _shared_bits(avail_e[a:b], avail_m).astype(work) * work(weights.availability)
        blocked = _disjoint(lang_e[a:b], lang_m)
        if rules.min_age_gap is not None:
            blocked |= born_m[None, :] < born_e[a:b, None] + rules.min_age_gap
        out = scores[a:b]
        out[...] = s
        np.putmask(out, blocked, not_allowed)

    # The sparse constraints: managers and pairs declined or matched before.
    for j, i in _manager_pairs(mentees, mentors):
        scores[j, i] = not_allowed
    mentor_index = {p.id: i for i, p in enumerate(mentors)}
    mentee_index = {p.id: j for j, p in enumerate(mentees)}
    for mentor_id, mentee_id in rules.forbidden:
        if mentor_id in mentor_index and mentee_id in mentee_index:
            scores[mentee_index[mentee_id], mentor_index[mentor_id]] = not_allowed
    return EncodedPool(mentors, mentees, capacity, scores, not_allowed, (low, high), (lang_e, lang_m), (born_e, born_m))



def _codes(values: list, dtype: type = np.int64) -> tuple[list, np.ndarray]:
    """Distinct values (in order of first appearance) and each value's index among them."""
    index: dict = {}
    codes: np.ndarray = np.array([index.setdefault(v, len(index)) for v in values], dtype=dtype)
    return list(index), codes


class _ThemeRanks:
    """theme_points() summed over shared_themes(), vectorised over ranked theme lists.

    shared_themes() walks the mentee's list (a theme listed twice counts twice) and
    theme_points() uses each theme's first position in both lists; so per theme: how often
    the mentee lists it, and its first rank in each list (-1: not listed)."""

    def __init__(self, mentee_lists: list[tuple[str, ...]], mentor_lists: list[tuple[str, ...]], n_themes: int) -> None:
        names = sorted(set().union(*mentee_lists, *mentor_lists))
        self.n_themes = n_themes
        self.mentee_rank = np.full((len(mentee_lists), len(names)), -1, dtype=np.int64)
        self.mentee_count = np.zeros((len(mentee_lists), len(names)), dtype=np.int64)
        self.mentor_rank = np.full((len(mentor_lists), len(names)), -1, dtype=np.int64)
        column = {t: k for k, t in enumerate(names)}
        for row, themes in enumerate(mentee_lists):
            for t in themes:
                self.mentee_count[row, column[t]] += 1
            for rank, t in reversed(list(enumerate(themes))):
                self.mentee_rank[row, column[t]] = rank
        for row, themes in enumerate(mentor_lists):
            for rank, t in reversed(list(enumerate(themes))):
                self.mentor_rank[row, column[t]] = rank

    def points(self, mentee_rows: np.ndarray, mentor_rows: np.ndarray) -> np.ndarray:
        """(len(mentee_rows), len(mentor_rows)) unweighted theme points."""
        n = self.n_themes
        total = np.zeros((len(mentee_rows), len(mentor_rows)), dtype=np.int64)
        for t in range(self.mentee_rank.shape[1]):
            count, rank_e = self.mentee_count[mentee_rows, t], self.mentee_rank[mentee_rows, t]
            rank_m = self.mentor_rank[mentor_rows, t]
            if not count.any() or (rank_m < 0).all():
                continue
            both = (count[:, None] > 0) & (rank_m[None, :] >= 0)
            total += np.where(both, count[:, None] * ((n - rank_e[:, None]) + (n - rank_m[None, :])), 0)
        return total


def _bit_sets(left: list[frozenset[str]], right: list[frozenset[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Each set as bits, one per distinct element of both sides: (n, words) of the narrowest
    unsigned type that holds them (uint16 for the ten weekly half-days)."""
    index = {x: k for k, x in enumerate(sorted(set().union(*left, *right)))}
    bits = next((b for b in (8, 16, 32) if len(index) <= b), 64)
    dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[bits]
    words = max(1, -(-len(index) // bits))

    def encode_side(sets: list[frozenset[str]]) -> np.ndarray:
        values = [[0] * words for _ in sets]
        for n, items in enumerate(sets):
            for x in items:
                values[n][index[x] // bits] |= 1 << (index[x] % bits)
        return np.array(values, dtype=dtype).reshape(len(sets), words)

    return encode_side(left), encode_side(right)


def _shared_bits(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows), len(cols)) counts of common bits."""
    count = np.bitwise_count(rows[:, None, 0] & cols[None, :, 0])
    for w in range(1, rows.shape[1]):
        count = count + np.bitwise_count(rows[:, None, w] & cols[None, :, w])
    return count


def _disjoint(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows), len(cols)) True where two bit sets have no common bit."""
    disjoint = (rows[:, None, 0] & cols[None, :, 0]) == 0
    for w in range(1, rows.shape[1]):
        disjoint &= (rows[:, None, w] & cols[None, :, w]) == 0
    return disjoint


def _manager_pairs(mentees: list[Person], mentors: list[Person]) -> list[tuple[int, int]]:
    """(mentee index, mentor index) where one manages the other (emails are case-folded)."""
    mentors_by_email: dict[str, list[int]] = {}
    for i, m in enumerate(mentors):
        mentors_by_email.setdefault(m.email, []).append(i)
    mentees_by_email: dict[str, list[int]] = {}
    for j, e in enumerate(mentees):
        mentees_by_email.setdefault(e.email, []).append(j)
    pairs = [(j, i) for j, e in enumerate(mentees) if e.manager_email for i in mentors_by_email.get(e.manager_email, ())]
    pairs += [(j, i) for i, m in enumerate(mentors) if m.manager_email for j in mentees_by_email.get(m.manager_email, ())]
    return pairs


# ---------------------------------------------------------------------------------------
# The exact solver
# ---------------------------------------------------------------------------------------


def max_weight_b_matching(scores: np.ndarray, capacity: np.ndarray, not_allowed: int, score_range: tuple[int, int] | None = None) -> np.ndarray:
    """The mentor index of every mentee (-1: unmatched) in an optimal solution.

    scores: (mentees, mentors) integer matrix, not_allowed where a pair is forbidden;
    score_range: bounds on the allowed scores (default: the matrix type's range).
    Optimal: most mentees matched, then the highest sum of scores; see the module docstring.
    """
    if scores.dtype not in (np.int8, np.int16, np.int32):
        raise TypeError("scores must be int8, int16 or int32")
    n_e, n_m = scores.shape
    if not scores.size or not capacity.any():
        return np.full(n_e, -1, dtype=np.int64)
    low, high = score_range or (not_allowed + 1, int(np.iinfo(scores.dtype).max))
    # One more mentee matched is worth more than any difference of total scores.
    big = (high - low) * min(n_e, int(capacity.sum())) + max(1, 1 - low)
    if big + 4 * max(abs(low), abs(high)) >= 1 << 60:
        raise ValueError("the score weights are too large to be compared exactly")
    solver = _ColumnGeneration(scores, capacity.astype(np.int64), not_allowed, big)
    return solver.run()


class _ColumnGeneration:
    """One solve: candidate pairs, the restricted solution, the prices. See the module docstring."""

    def __init__(self, scores: np.ndarray, capacity: np.ndarray, not_allowed: int, big: int) -> None:
        self.scores, self.capacity, self.not_allowed, self.big = scores, capacity, not_allowed, big
        self.n_e, self.n_m = scores.shape
        # Values w - u of the pairs are exact in int64; but most prices lie within a window
        # below BIG + max score, where w - u = score + (BIG - u) is small: the pass over every
        # pair computes those in the next integer type after the scores' (int16 for int8
        # scores, four times less memory traffic), and the few other mentors apart in int64.
        self.narrow_type = _NEXT_WIDER[scores.dtype]
        score_size = int(np.iinfo(scores.dtype).max) - not_allowed  # above any |score|
        self.window = int(np.iinfo(self.narrow_type).max) // 2 - 2 * score_size  # BIG - u up to this is narrow
        self.left_out = self.window + 4 * score_size  # BIG - u for the mentors done apart: below any narrow value
        self.masked = int(np.iinfo(self.narrow_type).min)  # the narrow value of a pair not allowed
        self.exact_type = np.int32 if big + 4 * score_size < 1 << 29 else np.int64  # holds every w - u
        self.exact_masked = int(np.iinfo(self.exact_type).min) // 2  # the exact value of a pair not allowed
        self.rows_per_chunk = max(1, CHUNK_CELLS // max(1, self.n_m))
        rng = np.random.default_rng(_TIE_SEED)
        self.tie_mentee = rng.integers(0, 1 << 16, size=(self.n_e,), dtype=np.uint16)
        self.tie_mentor = rng.integers(0, 1 << 16, size=(self.n_m,), dtype=np.uint16)
        self.candidates = np.zeros(0, dtype=np.int64)  # sorted keys mentee * n_m + mentor
        self.arcs: tuple[np.ndarray, np.ndarray, np.ndarray] = _NO_ARCS  # price arcs of the candidates for the current solution (see _price_arcs)

    def run(self) -> np.ndarray:
        no_one = np.full(self.n_e, -1, dtype=np.int64)
        prices = np.zeros(self.n_m, dtype=np.int64)
        new = _union(self._price_out(prices, None, no_one, FIRST_CANDIDATES), self._mentors_best(MENTOR_CANDIDATES))
        mentor_of = no_one
        solved = False
        while len(new):
            self.candidates = _union(self.candidates, new)
            violated = _union(new // self.n_m)
            if not solved or (mentor_of[violated] < 0).any():
                mentor_of, prices = self._solve(self.candidates)
                solved = True
            else:
                # Only matched mentees are violated: the change is usually small. First try new
                # prices for the same solution (Bellman-Ford from the current ones, with the new
                # pairs); then a solve on the pairs that are nearly worth it, kept if prices
                # consistent with every candidate exist; else the solve on every candidate.
                (tail, head, weight), (new_tail, new_head, new_weight) = self.arcs, self._price_arcs(mentor_of, new)
                arcs = (np.concatenate((tail, new_tail)), np.concatenate((head, new_head)), np.concatenate((weight, new_weight)))
                trial = prices.copy()
                if self._settle(trial, *arcs, max_rounds=REPAIR_ROUNDS) and self._feasible(trial, mentor_of):
                    prices, self.arcs = trial, arcs
                else:
                    attempt = None
                    if len(violated) * PRUNE_WHEN_FEWER_THAN < self.n_e:
                        attempt = self._try_solve(self._nearly_worth_it(prices, mentor_of))
                    mentor_of, prices = attempt or self._solve(self.candidates)
            surplus = self._surplus(prices, mentor_of)
            new = self._price_out(prices, surplus, mentor_of, ADDED_CANDIDATES)
        return mentor_of

    # -- the restricted problem ------------------------------------------------------------

    def _solve(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Optimal solution on the candidate pairs `keys` and the largest prices consistent with it."""
        mentor_of = self._min_cost_flow(keys)
        prices = self._largest_prices(mentor_of, max_rounds=self.n_m + 1)  # enough when there is no negative cycle
        if prices is None:
            raise RuntimeError("no prices consistent with the restricted solution: it is not optimal")
        return mentor_of, prices

    def _try_solve(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Optimal solution on a subset `keys` of the candidates, with the largest prices
        consistent with it on every candidate; None when there are none (found quickly): then
        the solution is not optimal for all the candidates."""
        mentor_of = self._min_cost_flow(keys)
        prices = self._largest_prices(mentor_of, max_rounds=REPAIR_ROUNDS)
        return None if prices is None else (mentor_of, prices)

    def _min_cost_flow(self, keys: np.ndarray) -> np.ndarray:
        """Maximum flow (mentees matched) at minimum cost (-score) on the pairs `keys`."""
        n_e, n_m = self.n_e, self.n_m
        mentee, mentor = keys // n_m, keys % n_m
        flow = min_cost_flow.SimpleMinCostFlow()
        source, sink = n_m + n_e, n_m + n_e + 1
        ones = np.ones(len(keys), dtype=np.int64)
        flow.add_arcs_with_capacity_and_unit_cost(mentor, n_m + mentee, ones, -self.scores[mentee, mentor].astype(np.int64))
        flow.add_arcs_with_capacity_and_unit_cost(np.full(n_m, source), np.arange(n_m), self.capacity, np.zeros(n_m, dtype=np.int64))
        flow.add_arcs_with_capacity_and_unit_cost(n_m + np.arange(n_e), np.full(n_e, sink), np.ones(n_e, dtype=np.int64), np.zeros(n_e, dtype=np.int64))
        supplies = np.zeros(n_m + n_e + 2, dtype=np.int64)
        supplies[source], supplies[sink] = n_e, -n_e
        flow.set_nodes_supplies(np.arange(n_m + n_e + 2), supplies)
        status = flow.solve_max_flow_with_min_cost()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed: {status}")
        used = flow.flows(np.arange(len(keys))) > 0
        mentor_of = np.full(n_e, -1, dtype=np.int64)
        mentor_of[mentee[used]] = mentor[used]
        return mentor_of

    def _nearly_worth_it(self, prices: np.ndarray, mentor_of: np.ndarray) -> np.ndarray:
        """The candidates whose reduced cost u[i] + v[j] - w[j, i] is at most PRUNE_SLACK
        (negative for the new ones), and the current pairs: a smaller restricted problem."""
        mentee, mentor = self.candidates // self.n_m, self.candidates % self.n_m
        surplus = self._surplus(prices, mentor_of)
        reduced = prices[mentor] + surplus[mentee] - (self.big + self.scores[mentee, mentor].astype(np.int64))
        return self.candidates[(reduced <= PRUNE_SLACK) | (mentor_of[mentee] == mentor)]

    # -- prices (the dual) -----------------------------------------------------------------

    def _largest_prices(self, mentor_of: np.ndarray, max_rounds: int) -> np.ndarray | None:
        """The largest prices u consistent with the solution on every candidate pair, or None.

        Complementary slackness, with v[j] = w[j, m(j)] - u[m(j)] for a matched mentee j,
        turns the dual constraints into difference constraints between mentors' prices:
        u[m(j)] <= u[i] + score[j, m(j)] - score[j, i] for each candidate mentor i of j,
        u[m] <= w[j, m] (v >= 0) and u[i] <= 0 when i has capacity left; plus the lower
        bounds u >= 0 and u[i] >= w[j, i] for a candidate pair of an unmatched mentee j.
        The largest solution of the upper bounds is a shortest-path distance, found by
        Bellman-Ford from the bounds; if it meets the lower bounds it is optimal for the
        restricted dual, and the solution optimal for the restricted primal. None when the
        relaxation does not settle within max_rounds (a negative cycle: an improving exchange
        exists) or misses a lower bound. Largest prices make the fewest full-problem pairs
        look worth adding.
        """
        matched = np.flatnonzero(mentor_of >= 0)
        prices = np.full(self.n_m, self.big * 4, dtype=np.int64)  # a mentor without capacity stays unreachable
        np.minimum.at(prices, mentor_of[matched], self.big + self.scores[matched, mentor_of[matched]].astype(np.int64))
        load = np.bincount(mentor_of[matched], minlength=self.n_m)
        prices[load < self.capacity] = 0
        self.arcs = self._price_arcs(mentor_of, self.candidates)
        if not self._settle(prices, *self.arcs, max_rounds=max_rounds) or not self._feasible(prices, mentor_of):
            return None
        return prices

    def _price_arcs(self, mentor_of: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arcs i -> m(j) of weight score[j, m(j)] - score[j, i], for pairs (j, i) of matched j."""
        mentee, mentor = keys // self.n_m, keys % self.n_m
        holder = mentor_of[mentee]
        keep = (holder >= 0) & (holder != mentor)
        mentee, tail, head = mentee[keep], mentor[keep], holder[keep]
        weight = self.scores[mentee, head].astype(np.int64) - self.scores[mentee, tail]
        return tail, head, weight

    @staticmethod
    def _settle(prices: np.ndarray, tail: np.ndarray, head: np.ndarray, weight: np.ndarray, max_rounds: int) -> bool:
        """Bellman-Ford relaxation of prices[head] <= prices[tail] + weight, in place, vectorised.
        False if it has not settled within max_rounds."""
        if not len(head):
            return True
        order = np.argsort(head, kind="stable")
        tail, head, weight = tail[order], head[order], weight[order]
        starts = np.flatnonzero(np.r_[True, head[1:] != head[:-1]])
        heads = head[starts]
        for _ in range(max_rounds):
            best = np.minimum.reduceat(prices[tail] + weight, starts)
            lower = best < prices[heads]
            if not lower.any():
                return True
            prices[heads[lower]] = best[lower]
        return False

    def _feasible(self, prices: np.ndarray, mentor_of: np.ndarray) -> bool:
        """The lower bounds: u >= 0, and u[i] >= w[j, i] for candidate pairs of unmatched mentees."""
        if (prices < 0).any():
            return False
        mentee, mentor = self.candidates // self.n_m, self.candidates % self.n_m
        free = mentor_of[mentee] < 0
        return bool((prices[mentor[free]] >= self.big + self.scores[mentee[free], mentor[free]].astype(np.int64)).all())

    def _surplus(self, prices: np.ndarray, mentor_of: np.ndarray) -> np.ndarray:
        """v[j] in the restricted solution: w[j, m(j)] - u[m(j)] when matched, else 0."""
        surplus = np.zeros(self.n_e, dtype=np.int64)
        matched = np.flatnonzero(mentor_of >= 0)
        surplus[matched] = self.big + self.scores[matched, mentor_of[matched]].astype(np.int64) - prices[mentor_of[matched]]
        return surplus

    # -- pricing out the full problem ------------------------------------------------------

    def _price_out(self, prices: np.ndarray, surplus: np.ndarray | None, mentor_of: np.ndarray, per_mentee: int) -> np.ndarray:
        """Every allowed pair with w[j, i] - u[i] > v[j] (surplus None: every allowed pair),
        about per_mentee per mentee (its best); while an unmatched mentee is among them, a
        matched mentee gets only its best one (prices are far from final then, and more pairs
        would only make the next solves slower). Sorted keys."""
        active = self.capacity > 0
        offset = self.big - prices  # w - u = score + offset
        narrow = active & (offset <= self.window)
        apart = np.flatnonzero(active & ~narrow)  # mentors with much capacity left (u = 0, say)
        narrow_offset = np.where(narrow, offset, -self.left_out).astype(self.narrow_type)
        exact_offset = np.where(active, offset, self.exact_masked // 2).astype(self.exact_type)  # no capacity: never a candidate
        thresholds = np.zeros(self.n_e, dtype=np.int64) if surplus is None else surplus  # w - u > 0 for any allowed pair at u = 0
        found, tops, free = [], [], []
        step = self.rows_per_chunk
        for a in range(0, self.n_e, step):
            block = self.scores[a : a + step]
            value = np.add(block, narrow_offset, dtype=self.narrow_type)
            np.putmask(value, block == self.not_allowed, self.masked)
            best = value.max(axis=1).astype(np.int64)
            if len(apart):
                others = block[:, apart]
                best = np.maximum(best, np.where(others == self.not_allowed, self.exact_masked, others + exact_offset[apart]).max(axis=1))
            threshold = thresholds[a : a + step]
            rows = np.flatnonzero(best > threshold)
            if not len(rows):
                continue
            sub = block[rows]
            exact = np.add(sub, exact_offset, dtype=self.exact_type)
            np.putmask(exact, sub == self.not_allowed, self.exact_masked)
            r, c, top = self._best_in_rows(exact, best[rows], self.tie_mentee[a + rows], self.tie_mentor, per_mentee)
            keep = exact[r, c] > threshold[rows[r]]
            found.append(((a + rows[r]) * self.n_m + c)[keep])
            tops.append(top[keep])
            free.append((mentor_of[a + rows[r]] < 0)[keep])
        if not found:
            return np.zeros(0, dtype=np.int64)
        keys, top, unmatched = np.concatenate(found), np.concatenate(tops), np.concatenate(free)
        if surplus is not None and unmatched.any():
            keys = keys[unmatched | top]
        return _union(keys)

    def _mentors_best(self, k: int) -> np.ndarray:
        """About k best mentees by score of each mentor: with the mentees' own best mentors
        only, popular mentors would take all the candidates and the first restricted problem
        would leave many mentees out that the full problem matches."""
        found = []
        width = max(1, CHUNK_CELLS // max(1, self.n_e))
        active = np.flatnonzero(self.capacity > 0)
        for a in range(0, len(active), width):
            cols = active[a : a + width]
            block = np.ascontiguousarray(self.scores[:, cols].T)
            value = block.astype(self.exact_type)
            np.putmask(value, block == self.not_allowed, self.exact_masked)
            r, c, _ = self._best_in_rows(value, value.max(axis=1), self.tie_mentor[cols], self.tie_mentee, k)
            keep = block[r, c] != self.not_allowed
            found.append((c * self.n_m + cols[r])[keep])
        return _union(*found) if found else np.zeros(0, dtype=np.int64)

    @staticmethod
    def _best_in_rows(
        value: np.ndarray, best: np.ndarray, row_tie: np.ndarray, col_tie: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, is the row's best) of each row's k largest values (a few more when the
        k-th is tied); among equal values a fixed pseudo-random order decides, so that ties do
        not all go to the same people. A partition of 32-bit keys: 16 bits of closeness to the
        row's best, 16 of tie-break."""
        n_rows, n_cols = value.shape
        k = min(k, n_cols)
        if k <= 0 or not n_rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=bool)
        closeness = np.subtract(value, best[:, None], dtype=value.dtype)  # <= 0; value and best are exact
        closeness += 0xFFFF
        np.maximum(closeness, 0, out=closeness)
        closeness = closeness.astype(np.uint32)
        key = (closeness << 16) | (row_tie[:, None] + col_tie[None, :])  # uint16 sums wrap
        kth = np.partition(key, n_cols - k, axis=1)[:, n_cols - k]
        flat = np.flatnonzero(key >= kth[:, None])
        rows, cols = flat // n_cols, flat % n_cols
        chosen = key.ravel()[flat]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # flat indices come row by row
        top = chosen == np.repeat(np.maximum.reduceat(chosen, starts), np.diff(np.r_[starts, len(rows)]))
        return rows, cols, top


_NEXT_WIDER: dict[np.dtype, type[np.signedinteger]] = {np.dtype(np.int8): np.int16, np.dtype(np.int16): np.int32, np.dtype(np.int32): np.int64}
_NO_ARCS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _union(*arrays: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort: faster here than numpy's hash-based unique)."""
    values = np.sort(np.concatenate(arrays))
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


# ---------------------------------------------------------------------------------------
# Why a mentee is left out
# ---------------------------------------------------------------------------------------


# The codes of the reasons a mentee is left out (their params: counts, never a person's data).
NO_MENTOR = "no_mentor_available"
MENTORS_FULL = "allowed_mentors_full"  # {allowed}
EVERY_MENTOR = {
    "language": "no_mentor_shares_language",
    "age": "every_mentor_too_close_in_age",  # {min_age_gap}
    "manager": "every_mentor_manager_or_managed",
    "declined": "every_mentor_declined_before",
}
NO_MENTOR_ALLOWED = "no_mentor_allowed"  # {mentors, no_language, too_close_in_age, manager, declined, min_age_gap}


def _unmatched_reasons(pool: EncodedPool, rules: Rules, left_out: np.ndarray) -> dict[str, Reason]:
    """The reason given to each mentee left out. In an optimal solution every mentor allowed with an
    unmatched mentee is full (else adding the pair would match one more), so the reason is
    either that the allowed mentors are full, or that no mentor is allowed at all, said with
    the constraints that excluded the mentors, the one excluding the most first."""
    n = len(pool.mentors)
    if n == 0:
        return {pool.mentees[j].id: Reason(NO_MENTOR, "no mentor is available") for j in left_out.tolist()}
    step = max(1, CHUNK_CELLS // n)
    allowed = np.concatenate(
        [(pool.scores[left_out[a : a + step]] != pool.not_allowed).sum(axis=1) for a in range(0, len(left_out), step)] or [np.zeros(0, dtype=np.int64)]
    )
    by_email: dict[str, set[int]] = {}
    by_manager: dict[str, set[int]] = {}
    for i, m in enumerate(pool.mentors):
        by_email.setdefault(m.email, set()).add(i)
        if m.manager_email:
            by_manager.setdefault(m.manager_email, set()).add(i)
    mentor_ids = {m.id for m in pool.mentors}
    declined: dict[str, int] = {}
    for mentor_id, mentee_id in rules.forbidden:
        if mentor_id in mentor_ids:
            declined[mentee_id] = declined.get(mentee_id, 0) + 1
    lang_e, lang_m = pool.languages
    born_e, born_m = pool.birth_years
    gap = rules.min_age_gap
    every = {
        "language": "no mentor shares a language",
        "age": f"every mentor is too close in age (min_age_gap {gap}: mentors must be at least {gap} years younger)",
        "manager": "every mentor is their manager or managed by them",
        "declined": "every mentor was declined or matched before",
    }
    some = {
        "language": "{k} of {n} mentors share no language",
        "age": f"{{k}} of {{n}} mentors are too close in age (min_age_gap {gap})",
        "manager": "{k} of {n} mentors are their manager or managed by them",
        "declined": "{k} of {n} mentors were declined or matched before",
    }
    reasons = {}
    for j, count in zip(left_out.tolist(), allowed.tolist()):
        mentee = pool.mentees[j]
        if count:
            reasons[mentee.id] = Reason(
                MENTORS_FULL,
                "no capacity left: the only mentor allowed for them is full" if count == 1 else f"no capacity left: the {count} mentors allowed for them are full",
                {"allowed": count},
            )
            continue
        managers = by_email.get(mentee.manager_email, set()) if mentee.manager_email else set()
        counts = {  # mentors excluded by each constraint (a mentor may be excluded by several)
            "language": int(_disjoint(lang_e[j : j + 1], lang_m)[0].sum()),
            "age": 0 if gap is None else int((born_m < born_e[j] + gap).sum()),
            "manager": len(managers | by_manager.get(mentee.email, set())),
            "declined": declined.get(mentee.id, 0),
        }
        ranked = sorted((c for c in counts if counts[c]), key=lambda c: -counts[c])  # stable: ties keep the order above
        if counts[ranked[0]] == n:
            reasons[mentee.id] = Reason(EVERY_MENTOR[ranked[0]], every[ranked[0]], {"min_age_gap": gap} if ranked[0] == "age" else {})
        else:
            reasons[mentee.id] = Reason(
                NO_MENTOR_ALLOWED,
                "no mentor is allowed: " + "; ".join(some[c].format(k=counts[c], n=n) for c in ranked),
                excluded_counts(n, counts["language"], counts["age"], counts["manager"], counts["declined"], gap),
            )
    return reasons


def excluded_counts(mentors: int, language: int, age: int, manager: int, declined: int, gap: int | None) -> dict[str, int | None]:
    """The params of NO_MENTOR_ALLOWED: of how many mentors, how many each constraint excludes."""
    return {"mentors": mentors, "no_language": language, "too_close_in_age": age, "manager": manager, "declined": declined, "min_age_gap": gap}
