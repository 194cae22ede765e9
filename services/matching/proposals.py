"""From a match book to a solver's problem, and from its solution to explained proposals.
Pure: no I/O."""

from collections import Counter
from collections.abc import Mapping
from typing import Any

from services.common.errors import Reason
from services.matching.domain import MatchBook
from services.matching.groups import GroupProblem, GroupSolution, solve_groups
from services.matching.pairs import PairProblem, PairSolution, solve_pairs
from services.matching.scoring import Person, Rules, Weights, satisfied_constraints, score_terms, shared_themes

PAIR, MINI_SESSION = "pair", "mini-session"

# Why a mentor has no proposal in a run (a mentee's reasons come from the solvers).
MENTOR_FULL = Reason("mentor_full", "no capacity left")
NO_MENTEE_FOR_MENTOR = Reason("no_mentee_for_mentor", "no waiting mentee left who may be matched with them")


def person(participant_id: str, profile: Mapping[str, Any]) -> Person:
    personal = profile["personal_data"]
    return Person(
        id=participant_id,
        birth_year=int(personal["birth_year"]),
        site=profile["site"],
        department=profile["department"],
        languages=frozenset(profile["languages"]),
        themes=tuple(profile["themes"]),
        availability=frozenset(profile.get("availability") or ()),
        email=str(personal["email"]).casefold(),
        manager_email=str(personal["manager_email"]).casefold() if personal.get("manager_email") else None,
    )


def rules_of(book: MatchBook) -> Rules:
    forbidden = frozenset((mentor_id, mentee_id) for mentor_id, _, mentee_id in (key.partition(":") for key in book.forbidden))
    return Rules(min_age_gap=book.programme.get("min_age_gap", 1), forbidden=forbidden)


def run_matching(book: MatchBook, format: str, profiles: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:  # noqa: A002
    """Solve the book's pool and explain every proposal and every participant left out.
    `profiles`: the candidates' profiles, of every member of the pool at least."""
    mentors = {m["id"]: person(m["id"], profiles[m["id"]]) for m in book.eligible_mentors()}
    mentees = {e["id"]: person(e["id"], profiles[e["id"]]) for e in book.waiting_mentees()}
    names = {participant_id: profiles[participant_id]["personal_data"]["name"] for participant_id in (*mentors, *mentees)}
    capacity = {mentor_id: book.capacity_left(mentor_id) for mentor_id in mentors}
    rules = rules_of(book)
    themes = list(book.programme.get("themes", []))
    solution: PairSolution | GroupSolution
    load: Mapping[str, int]  # proposals per mentor
    if format == PAIR:
        weights = Weights.from_dict(book.weights)
        solution = solve_pairs(
            PairProblem(mentors=list(mentors.values()), capacity=capacity, mentees=list(mentees.values()), rules=rules, weights=weights, n_themes=max(1, len(themes)))
        )
        proposals = [
            _pair_proposal(mentors[m], mentees[e], score, weights, max(1, len(themes)), rules, names)
            for m, e, score in solution.pairs
        ]
        summary: dict[str, Any] = {"matched": solution.matched, "total_score": solution.total_score, "optimal": True}
        load = Counter(mentor_id for mentor_id, _, _ in solution.pairs)
    else:
        max_size = int(book.programme.get("mini_session_max", 10))  # mentees per group, the mentor not counted
        solution = solve_groups(
            GroupProblem(
                mentors=list(mentors.values()),
                capacity=capacity,
                mentees=list(mentees.values()),
                rules=rules,
                themes=themes,
                max_size=max_size,
            )
        )
        proposals = [_group_proposal(group, mentors, names, rules, max_size) for group in solution.groups]
        summary = {"matched": solution.placed, "total_preference": solution.total_preference, "optimal": solution.optimal}
        load = {g.mentor_id: 1 for g in solution.groups}
    unmatched = [_unmatched(mentee_id, "mentee", names, reason) for mentee_id, reason in sorted(solution.unmatched.items())]
    unmatched += [
        _unmatched(mentor_id, "mentor", names, MENTOR_FULL if capacity[mentor_id] == 0 else NO_MENTEE_FOR_MENTOR)
        for mentor_id in sorted(mentors)
        if load.get(mentor_id, 0) == 0
    ]
    summary.update(format=format, mentors=len(mentors), mentees=len(mentees))
    return {"proposals": proposals, "unmatched": unmatched, "summary": summary}


def _unmatched(participant_id: str, role: str, names: dict[str, str], reason: Reason) -> dict[str, Any]:
    """Who is left out and why: the English sentence, and its code and params for a console
    to say it in its own language."""
    return {
        "participant_id": participant_id, "role": role, "name": names.get(participant_id),
        "reason": reason.message, "reason_code": reason.code, "reason_params": dict(reason.params),
    }  # fmt: skip


def _pair_proposal(
    mentor: Person, mentee: Person, score: int, weights: Weights, n_themes: int, rules: Rules, names: dict[str, str]
) -> dict[str, Any]:
    themes = shared_themes(mentor, mentee)
    languages = sorted(mentor.languages & mentee.languages)
    return {
        "mentor_id": mentor.id,
        "mentee_ids": [mentee.id],
        "mentor_name": names.get(mentor.id),
        "mentee_names": [names.get(mentee.id)],
        "theme": themes[0] if themes else None,
        "shared_themes": themes,
        "language": languages[0] if languages else None,
        "score": score,
        "explanation": {
            "terms": score_terms(mentor, mentee, weights, n_themes),
            "shared_themes": [
                {"theme": t, "mentee_rank": mentee.themes.index(t) + 1, "mentor_rank": mentor.themes.index(t) + 1} for t in themes
            ],
            "same_site": mentor.site == mentee.site,
            "sites": {"mentor": mentor.site, "mentee": mentee.site},
            "departments": {"mentor": mentor.department, "mentee": mentee.department},
            "shared_languages": languages,
            "shared_availability": sorted(mentor.availability & mentee.availability),
            "constraints_satisfied": satisfied_constraints(rules),
        },
    }


def _group_proposal(group: Any, mentors: dict[str, Person], names: dict[str, str], rules: Rules, max_size: int) -> dict[str, Any]:
    return {
        "mentor_id": group.mentor_id,
        "mentee_ids": [m.mentee_id for m in group.members],
        "mentor_name": names.get(group.mentor_id),
        "mentee_names": [names.get(m.mentee_id) for m in group.members],
        "theme": group.theme,
        "shared_themes": [group.theme],
        "language": group.language,
        "score": group.preference,
        "explanation": {
            "theme": group.theme,
            "language": group.language,
            "mentor_rank_of_theme": mentors[group.mentor_id].themes.index(group.theme) + 1
            if group.theme in mentors[group.mentor_id].themes
            else None,
            "members": [
                {"mentee_id": m.mentee_id, "name": names.get(m.mentee_id), "theme_rank": m.theme_rank + 1, "reasons": list(m.reasons)}
                for m in group.members
            ],
            "constraints_satisfied": [
                *satisfied_constraints(rules), f"everyone speaks {group.language}", f"at most {max_size} mentees besides the mentor",
            ],
        },
    }
