"""Mini-sessions: groups of one certified mentor and up to `max_size` mentees besides the
mentor (the programme's `mini_session_max`: the mentor is not counted), around one theme. Pure: no I/O.

A mentee may join a group when they ranked its theme, the pair (the group's mentor, the
mentee) is allowed (scoring.violations() is empty), and they speak the group's language,
which the mentor and every other member speak too. Each mentor with capacity left leads at
most one group; a group holds at most `max_size` mentees, the mentor not counted. A group of a single mentee is
allowed: it is the best that can be done for someone whom no other group suits; when moving
people between groups of the same theme can avoid one at no cost, that is done.

The objective is lexicographic: first the number of mentees placed, then their total theme
preference (len(themes) - rank per member, rank 0 being the mentee's favourite). Both are
folded into one integer objective, sum over placed mentees of (A + preference), where A
exceeds any total preference, so that no preference is ever bought with a place.

How it is solved, exactly, with HiGHS (scipy.optimize.milp):

1. *Aggregated model.* Mentors are put in classes; mentees who rank the same themes in the
   same order, speak the same languages and may join the same classes form a *type*. A
   *bucket* is (class, theme, language), kept when some type could use it and no other
   language of the same class and theme suits a strict superset of its types (one can then
   always replace the other: same members, same preference). Variables: y[b] in 0..|class|
   groups opened by the bucket, x[type, b] in 0..|type| of its mentees placed there; with
   sum_b x[type, b] <= |type|, sum_{b of c} y[b] <= |c|, sum_type x[type, b] <= max_size y[b].
   When a class's mentors are allowed with exactly the same mentees (*exact* classes), this
   model is the problem itself. Coarser classes, with a type allowed with a class when it is
   allowed with one of its mentors, make it a relaxation: its optimum is an upper bound.
2. *Disaggregation.* Each class's mentors are assigned to its buckets' groups (an assignment
   problem avoiding the pairs not allowed), then the mentees to those mentors by a maximum
   weight b-matching (an integral transportation LP) over the allowed pairs only.
3. The classes go from coarse to exact (LEVELS): by languages (small even at 200 mentors x
   1,000 mentees), then also by birth year (which decides the age gap), then exact. As soon as
   a plan reaches the lowest bound so far, it is optimal (proven) and the search stops. The
   finer models are skipped when too big (MAX_TERMS) or out of time: the best plan found is
   returned, with `optimal` False.

Last, single-mentee groups are removed where that is free (_avoid_singles), and whoever
still fits somewhere is placed greedily (_complete: never anyone once the plan is optimal).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linear_sum_assignment, milp
from scipy.sparse import coo_matrix, csr_matrix

from services.common.errors import Reason
from services.matching.pairs import NO_MENTOR_ALLOWED, excluded_counts
from services.matching.scoring import (
    DECLINED_BEFORE,
    MENTEE_MANAGES_MENTOR,
    MENTOR_MANAGES_MENTEE,
    TOO_CLOSE_IN_AGE,
    Person,
    Rules,
    satisfied_constraints,
    sorted_by_id,
    violations,
)

DEFAULT_TIME_LIMIT = 10.0  # seconds, for the whole solve (HiGHS gets 80% of it)
DISAGGREGATION_SECONDS = 0.5  # a floor of the time to turn a model's plan into groups
MAX_TERMS = 50_000  # a finer model than the first is tried only up to this many x[type, bucket] variables

# Why a mentee is left out: a stable code and the sentence a person reads (params: counts).
NO_THEME = Reason("ranked_no_programme_theme", "ranked none of the programme's themes")
NO_CAPACITY = Reason("no_mentor_with_capacity", "no mentor has capacity left in this run")
NO_LANGUAGE = Reason("no_mentor_shares_language", "no mentor shares a language")
NO_THEME_GROUP = Reason("no_group_on_ranked_theme", "no group on a theme they ranked")
NO_LANGUAGE_GROUP = Reason("groups_in_another_language", "the groups on a theme they ranked are in a language they do not speak")
ALL_FULL = Reason("suitable_groups_full", "every suitable group is full")


@dataclass(frozen=True)
class GroupProblem:
    mentors: Sequence[Person]
    capacity: Mapping[str, int]  # remaining capacity per mentor id (missing: 0); >= 1: may lead one group in this run
    mentees: Sequence[Person]
    rules: Rules
    themes: Sequence[str]  # the programme's themes, in order
    max_size: int  # mentees per group besides the mentor, 2..10 (mini_session_max); 1 works too


@dataclass(frozen=True)
class Member:
    mentee_id: str
    theme_rank: int  # 0 = the mentee's favourite theme (among the programme's themes they ranked)
    reasons: tuple[str, ...]  # why this member fits


@dataclass(frozen=True)
class Group:
    mentor_id: str
    theme: str
    language: str  # a language every member and the mentor speak (the first in sorted order)
    members: tuple[Member, ...]  # sorted by mentee id
    preference: int  # sum over members of (len(themes) - theme_rank)


@dataclass(frozen=True)
class GroupSolution:
    groups: list[Group]  # sorted by mentor id
    unmatched: dict[str, Reason]  # mentee id -> why: a code, its params, the sentence a person understands
    placed: int
    total_preference: int
    optimal: bool = True  # False: the time limit (or the exact model's size) stopped the proof; best plan found


@dataclass
class _Data:
    """The problem in canonical order (ids sorted), with the allowed pairs precomputed."""

    leaders: list[Person]  # mentors with capacity, by id
    mentees: list[Person]  # by id
    themes: list[str]
    ranks: list[dict[str, int]]  # per mentee: theme -> rank among the programme's themes they ranked
    allowed: np.ndarray  # bool (leader, mentee): violations() == [] and the mentee ranked a theme
    max_size: int
    big: int  # A: the value of one mentee placed, above any total preference

    def pref(self, e: int, theme: str) -> int:
        return len(self.themes) - self.ranks[e][theme]


Plan = dict[int, tuple[str, list[int]]]  # leader index -> (theme, mentee indices)


def solve_groups(problem: GroupProblem, *, time_limit: float = DEFAULT_TIME_LIMIT) -> GroupSolution:
    # HiGHS gets 80% of the time (it may overrun a little), the first model at most half of it,
    # so that its plan can be disaggregated (fast: transportation LPs) and improved on.
    started = time.monotonic()
    deadline = started + 0.8 * time_limit
    data = _prepare(problem)
    best: Plan = {}
    bound = 0.0
    previous: list[list[int]] | None = None
    for level in LEVELS:
        classes = _classes(data, level)
        if classes == previous:  # no finer than the level before: already solved
            continue
        previous = classes
        first = level == LEVELS[0]
        plan, level_bound = _solve(data, classes, started + 0.5 * time_limit if first else deadline, first)
        bound = level_bound if level == LEVELS[0] else min(bound, level_bound)  # each is an upper bound
        if _value(data, plan) > _value(data, best):
            best = plan
        if _value(data, best) >= bound - 0.5:
            break
    optimal = _value(data, best) >= bound - 0.5
    _avoid_singles(data, best)
    while _complete(data, best):  # only when the plan is not optimal
        _avoid_singles(data, best)
    groups = _groups(data, best, problem.rules)
    return GroupSolution(
        groups=groups,
        unmatched=_unmatched(data, groups, problem.rules),
        placed=sum(len(g.members) for g in groups),
        total_preference=sum(g.preference for g in groups),
        optimal=optimal,
    )


# -- preparation -------------------------------------------------------------------------


def _prepare(problem: GroupProblem) -> _Data:
    if problem.max_size < 1:
        raise ValueError("max_size must be at least 1")
    # Everything is put in a canonical order first: the same input in any order gives the
    # same models, hence (HiGHS being deterministic) the same answer.
    mentors = sorted_by_id(problem.mentors, "mentor")
    mentees = sorted_by_id(problem.mentees, "mentee")
    themes = list(dict.fromkeys(problem.themes))
    ranks = [_ranks(e, themes) for e in mentees]
    leaders = [m for m in mentors if problem.capacity.get(m.id, 0) >= 1]
    allowed = np.zeros((len(leaders), len(mentees)), dtype=bool)
    candidates = [e for e, r in enumerate(ranks) if r]
    for i, mentor in enumerate(leaders):
        for e in candidates:
            allowed[i, e] = not violations(mentor, mentees[e], problem.rules)
    big = len(themes) * len(candidates) + 1
    return _Data(leaders, mentees, themes, ranks, allowed, problem.max_size, big)



def _ranks(mentee: Person, themes: list[str]) -> dict[str, int]:
    ranked = [t for t in dict.fromkeys(mentee.themes) if t in themes]
    return {t: r for r, t in enumerate(ranked)}


LEVELS = ("languages", "birth year", "exact")


def _classes(data: _Data, level: str) -> list[list[int]]:
    """Leaders (indices) grouped by languages; at the "birth year" level also by birth year
    (which decides the age gap); at the "exact" level by the mentees they are allowed with.
    Leaders allowed with nobody are left out. In order of their first leader."""
    by_key: dict[tuple, list[int]] = {}
    for i, mentor in enumerate(data.leaders):
        if data.allowed[i].any():
            finer = {"languages": None, "birth year": mentor.birth_year, "exact": data.allowed[i].tobytes()}[level]
            by_key.setdefault((tuple(sorted(mentor.languages)), finer), []).append(i)
    return sorted(by_key.values())


def _value(data: _Data, plan: Plan) -> int:
    return sum(data.big + data.pref(e, theme) for theme, members in plan.values() for e in members)


# -- 1. the aggregated model -------------------------------------------------------------


@dataclass(frozen=True)
class _Bucket:
    cls: int
    theme: str
    language: str
    types: tuple[int, ...]


def _solve(data: _Data, classes: list[list[int]], deadline: float, first: bool) -> tuple[Plan, float]:
    """The best plan found with these classes, and an upper bound of the problem's optimum
    (that plan's value when the classes are exact and HiGHS proved it optimal). The model is
    given until the deadline; the disaggregation at least DISAGGREGATION_SECONDS more."""
    if not classes:  # nobody may lead anybody
        return {}, 0.0
    class_allowed = np.array([data.allowed[rows].any(axis=0) for rows in classes])  # (class, mentee)
    by_key: dict[tuple, list[int]] = {}
    for e, mentee in enumerate(data.mentees):
        allowed_classes = tuple(np.flatnonzero(class_allowed[:, e]).tolist())
        if allowed_classes:
            ranked = tuple(sorted(data.ranks[e], key=data.ranks[e].__getitem__))
            by_key.setdefault((ranked, tuple(sorted(mentee.languages)), allowed_classes), []).append(e)
    keys = list(by_key)  # in order of their first mentee: canonical
    types = [by_key[k] for k in keys]

    type_class = class_allowed[:, [t[0] for t in types]].T if types else np.zeros((0, len(classes)), dtype=bool)
    type_ranked = {t: np.array([t in k[0] for k in keys], dtype=bool) for t in data.themes}
    type_speaks = {lang: np.array([lang in k[1] for k in keys], dtype=bool) for m in data.leaders for lang in m.languages}
    buckets: list[_Bucket] = []
    for c, leader_rows in enumerate(classes):
        for theme in data.themes:
            options: dict[str, frozenset[int]] = {}
            for language in sorted(data.leaders[leader_rows[0]].languages):
                suited = np.flatnonzero(type_class[:, c] & type_ranked[theme] & type_speaks[language])
                if suited.size:
                    options[language] = frozenset(suited.tolist())
            for language, suitable in options.items():
                beaten = any(
                    suitable < other or (suitable == other and lang < language) for lang, other in options.items() if lang != language
                )
                if not beaten:
                    buckets.append(_Bucket(c, theme, language, tuple(sorted(suitable))))
    if not buckets:
        return {}, 0.0

    terms = [(k, b) for b, bucket in enumerate(buckets) for k in bucket.types]
    nx, nb = len(terms), len(buckets)
    x_type = np.array([k for k, _ in terms])
    x_bucket = np.array([b for _, b in terms])
    if (nx > MAX_TERMS and not first) or time.monotonic() >= deadline:
        return {}, float("inf")
    weight = np.array([data.big + data.pref(types[k][0], buckets[b].theme) for k, b in terms], dtype=float)
    sizes = np.array([len(rows) for rows in classes], dtype=float)
    counts = np.array([len(t) for t in types], dtype=float)
    bucket_cls = np.array([b.cls for b in buckets])
    nt, nc = len(types), len(classes)
    # Variables: x (nx), then y (nb). Rows: types, classes, buckets.
    rows = np.concatenate([x_type, nt + bucket_cls, nt + nc + x_bucket, nt + nc + np.arange(nb)])
    cols = np.concatenate([np.arange(nx), nx + np.arange(nb), np.arange(nx), nx + np.arange(nb)])
    vals = np.concatenate([np.ones(nx), np.ones(nb), np.ones(nx), np.full(nb, -float(data.max_size))])
    matrix = coo_matrix((vals, (rows, cols)), shape=(nt + nc + nb, nx + nb)).tocsr()
    upper = np.concatenate([counts, sizes, np.zeros(nb)])
    result = _milp(
        np.concatenate([-weight, np.zeros(nb)]),
        matrix,
        upper,
        np.concatenate([counts[x_type], sizes[bucket_cls]]),
        deadline,
    )
    if result.x is None:
        return {}, float("inf")
    if result.status == 0:
        bound = -result.fun
    else:
        bound = float("inf") if result.mip_dual_bound is None else -result.mip_dual_bound
    placed = np.rint(result.x[:nx]).astype(int)
    demand: dict[int, dict[int, int]] = {}
    for (k, b), count in zip(terms, placed.tolist()):
        if count:
            demand.setdefault(b, {})[k] = count
    deadline = max(deadline, time.monotonic() + DISAGGREGATION_SECONDS)
    plan = _disaggregate(data, classes, buckets, types, demand, broad=False, deadline=deadline)
    if _value(data, plan) < bound - 0.5:
        wider = _disaggregate(data, classes, buckets, types, demand, broad=True, deadline=deadline)
        if _value(data, wider) > _value(data, plan):
            plan = wider
    return plan, bound


def _milp(cost: np.ndarray, matrix: csr_matrix, upper: np.ndarray, var_upper: np.ndarray, deadline: float) -> OptimizeResult:
    return milp(
        cost,
        integrality=np.ones(cost.size),
        bounds=Bounds(np.zeros(cost.size), var_upper),
        constraints=LinearConstraint(matrix, -np.inf, upper),
        # The objective is integral and large: only a zero gap proves the lexicographic optimum.
        options={"time_limit": max(0.05, deadline - time.monotonic()), "mip_rel_gap": 0.0, "disp": False},
    )


# -- 2. disaggregation -------------------------------------------------------------------


def _disaggregate(
    data: _Data,
    classes: list[list[int]],
    buckets: list[_Bucket],
    types: list[list[int]],
    demand: dict[int, dict[int, int]],
    broad: bool,
    deadline: float,
) -> Plan:
    """Mentors to the buckets' groups, then mentees to mentors (maximum weight b-matching).

    Narrow: each bucket gets as few groups as hold the mentees the model put there (the model
    opened at least as many), and only the types the model put there. Broad: every mentor of
    the class is given a group (the extra ones to the busiest buckets) and every type that
    suits the bucket may go there."""
    leader_bucket: dict[int, int] = {}
    for c, leader_rows in enumerate(classes):
        mine = [b for b in range(len(buckets)) if buckets[b].cls == c and b in demand]
        if not mine:
            continue
        need = {b: sum(demand[b].values()) for b in mine}
        slots = {b: -(-need[b] // data.max_size) for b in mine}  # as few groups as hold them
        if broad:
            for _ in range(len(leader_rows) - sum(slots.values())):
                b = max(mine, key=lambda b: (need[b] / (slots[b] * data.max_size), -b))
                slots[b] += 1
        order = [b for b in mine for _ in range(slots[b])]
        candidates = {b: _members(types, buckets[b].types if broad else demand[b]) for b in mine}
        # Cost of giving mentor i a group of bucket b: the bucket's mentees i is not allowed with.
        refused = {b: np.count_nonzero(~data.allowed[np.ix_(leader_rows, candidates[b])], axis=1) for b in mine}
        cost = np.column_stack([refused[b] for b in order])
        chosen_rows, chosen_cols = linear_sum_assignment(cost)
        for r, s in zip(chosen_rows.tolist(), chosen_cols.tolist()):
            leader_bucket[leader_rows[r]] = order[s]

    edges = []
    for i, b in sorted(leader_bucket.items()):
        kinds = buckets[b].types if broad else demand[b]
        for e in _members(types, kinds):
            if data.allowed[i, e]:
                edges.append((e, i))
    if not edges:
        return {}
    e_of = np.array([e for e, _ in edges])
    i_of = np.array([i for _, i in edges])
    weight = np.array([data.big + data.pref(e, buckets[leader_bucket[i]].theme) for e, i in edges], dtype=float)
    ne, nl = len(data.mentees), len(data.leaders)
    n = len(edges)
    rows = np.concatenate([e_of, ne + i_of])  # rows: mentees, then leaders
    matrix = coo_matrix((np.ones(2 * n), (rows, np.tile(np.arange(n), 2))), shape=(ne + nl, n)).tocsr()
    upper = np.concatenate([np.ones(ne), np.full(nl, float(data.max_size))])
    # A transportation problem: its LP optimum is integral; integrality only guards rounding.
    result = _milp(-weight, matrix, upper, np.ones(n), deadline)
    if result.x is None:
        return {}
    plan: Plan = {}
    for (e, i), value in zip(edges, result.x.tolist()):
        if value > 0.5:
            plan.setdefault(i, (buckets[leader_bucket[i]].theme, []))[1].append(e)
    return {i: (theme, sorted(members)) for i, (theme, members) in plan.items()}


def _members(types: list[list[int]], kinds: Iterable[int]) -> list[int]:
    return sorted(e for k in kinds for e in types[k])


# -- 3. finishing touches ----------------------------------------------------------------


def _common(data: _Data, i: int, members: list[int]) -> frozenset[str]:
    return data.leaders[i].languages.intersection(*(data.mentees[e].languages for e in members))


def _complete(data: _Data, plan: Plan) -> int:
    """Place, greedily, whoever still fits (none when the plan is optimal); how many."""
    placed = {e for _, members in plan.values() for e in members}
    added = 0
    for e in range(len(data.mentees)):
        if e in placed or not data.ranks[e]:
            continue
        speaks = data.mentees[e].languages
        options = []
        for i in np.flatnonzero(data.allowed[:, e]).tolist():
            if i in plan:
                theme, members = plan[i]
                if theme in data.ranks[e] and len(members) < data.max_size and _common(data, i, members) & speaks:
                    options.append((-data.pref(e, theme), 0, i, theme))
            else:
                favourite = min(data.ranks[e], key=data.ranks[e].__getitem__)
                options.append((-data.pref(e, favourite), 1, i, favourite))
        if options:
            _, _, i, theme = min(options)
            plan.setdefault(i, (theme, []))[1].append(e)
            plan[i][1].sort()
            placed.add(e)
            added += 1
    return added


def _avoid_singles(data: _Data, plan: Plan) -> None:
    """Remove single-mentee groups where it costs nothing: the lone mentee joins another group
    on the same theme that has room, or takes a member from a group of three or more on the
    same theme. Each move lowers the number of single groups, so this ends."""
    moved = True
    while moved:
        moved = False
        for i in sorted(i for i, (_, members) in plan.items() if len(members) == 1):
            theme, (e,) = plan[i]
            for j in sorted(plan):
                other_theme, others = plan[j]
                room = j != i and other_theme == theme and len(others) < data.max_size
                if room and data.allowed[j, e] and _common(data, j, others + [e]):
                    others.append(e)
                    others.sort()
                    del plan[i]
                    moved = True
                    break
            if moved:
                break
            for j in sorted(plan):
                other_theme, others = plan[j]
                if j == i or other_theme != theme or len(others) < 3:
                    continue
                f = next((f for f in others if data.allowed[i, f] and _common(data, i, [e, f])), None)
                if f is not None:
                    others.remove(f)
                    plan[i] = (theme, sorted([e, f]))
                    moved = True
                    break
            if moved:
                break


def _groups(data: _Data, plan: Plan, rules: Rules) -> list[Group]:
    allowed_because = "allowed with the mentor: " + ", ".join(satisfied_constraints(rules))
    groups = []
    for i, (theme, members) in plan.items():
        if not members:
            continue
        language = min(_common(data, i, members))
        group_members = tuple(
            Member(
                mentee_id=data.mentees[e].id,
                theme_rank=data.ranks[e][theme],
                reasons=(f"ranked {theme!r} {_ordinal(data.ranks[e][theme] + 1)}", f"speaks {language}", allowed_because),
            )
            for e in sorted(members)
        )
        preference = sum(data.pref(e, theme) for e in members)
        groups.append(Group(data.leaders[i].id, theme, language, group_members, preference))
    return sorted(groups, key=lambda g: g.mentor_id)


def _unmatched(data: _Data, groups: list[Group], rules: Rules) -> dict[str, Reason]:
    placed = {m.mentee_id for g in groups for m in g.members}
    index = {p.id: e for e, p in enumerate(data.mentees)}
    leader_index = {m.id: i for i, m in enumerate(data.leaders)}
    by_leader = {leader_index[g.mentor_id]: g for g in groups}
    common = {i: _common(data, i, [index[m.mentee_id] for m in g.members]) for i, g in by_leader.items()}
    unmatched = {}
    for e, mentee in enumerate(data.mentees):
        if mentee.id in placed:
            continue
        if not data.ranks[e]:
            reason = NO_THEME
        elif not data.leaders:
            reason = NO_CAPACITY
        elif not any(m.languages & mentee.languages for m in data.leaders):
            reason = NO_LANGUAGE
        elif not data.allowed[:, e].any():
            speaking = [m for m in data.leaders if m.languages & mentee.languages]
            broken = [r for m in speaking for r in violations(m, mentee, rules)]
            counts = Counter(r.message for r in broken)
            listed = "; ".join(r for r, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            codes = Counter(r.code for r in broken)
            params = excluded_counts(
                len(data.leaders), len(data.leaders) - len(speaking), codes[TOO_CLOSE_IN_AGE],
                codes[MENTOR_MANAGES_MENTEE] + codes[MENTEE_MANAGES_MENTOR], codes[DECLINED_BEFORE], rules.min_age_gap,
            )  # fmt: skip
            reason = Reason(NO_MENTOR_ALLOWED, f"no mentor with capacity is allowed ({listed})", params)
        else:
            # Every mentor allowed with them leads a group (else a group of their own would place
            # them: the plan is optimal or was completed), and every suitable group is full.
            allowed = np.flatnonzero(data.allowed[:, e]).tolist()
            on_theme = [i for i in allowed if i in by_leader and by_leader[i].theme in data.ranks[e]]
            if any(common[i] & mentee.languages for i in on_theme):
                reason = ALL_FULL
            elif not on_theme:
                reason = NO_THEME_GROUP
            else:
                reason = NO_LANGUAGE_GROUP
        unmatched[mentee.id] = reason
    return unmatched


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
