"""Who may be matched with whom, and how good a match is. Pure: no I/O.

A pair (mentor, mentee) is *allowed* when every hard constraint holds; its *score* is a
sum of integer terms, so that optimal solutions can be compared exactly and explained
term by term.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.common.errors import Reason

SLOTS = ("mon-am", "mon-pm", "tue-am", "tue-pm", "wed-am", "wed-pm", "thu-am", "thu-pm", "fri-am", "fri-pm")


@dataclass(frozen=True)
class Person:
    """A participant as matching sees them."""

    id: str
    birth_year: int
    site: str
    department: str
    languages: frozenset[str]
    themes: tuple[str, ...]  # ranked: the first is the favourite
    availability: frozenset[str] = frozenset()
    email: str = ""  # case-folded; to recognise managers
    manager_email: str | None = None  # case-folded


@dataclass(frozen=True)
class Weights:
    """Integer weights of the score's terms (configurable per subsidiary)."""

    theme: int = 1  # per point of shared-theme preference, see theme_points()
    same_site: int = 3
    cross_department: int = 2
    availability: int = 1  # per weekly half-day both are available

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Weights":
        return cls(**(data or {}))


@dataclass(frozen=True)
class Rules:
    """The programme's hard constraints that have parameters."""

    min_age_gap: int | None = 1  # the mentor is younger than the mentee by at least this; None: off
    forbidden: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (mentor id, mentee id) declined or matched before


# The codes of the hard constraints a pair may break (violations()).
NO_SHARED_LANGUAGE = "pair_no_shared_language"
TOO_CLOSE_IN_AGE = "pair_too_close_in_age"
MENTOR_MANAGES_MENTEE = "pair_mentor_manages_mentee"
MENTEE_MANAGES_MENTOR = "pair_mentee_manages_mentor"
DECLINED_BEFORE = "pair_declined_before"


def theme_points(mentor: Person, mentee: Person, theme: str, n_themes: int) -> int:
    """Preference points of one shared theme: (n - mentee's rank) + (n - mentor's rank),
    ranks from 0; n is the number of themes the programme offers (at least 1)."""
    return (n_themes - mentee.themes.index(theme)) + (n_themes - mentor.themes.index(theme))


def shared_themes(mentor: Person, mentee: Person) -> list[str]:
    """In the mentee's order of preference."""
    return [t for t in mentee.themes if t in mentor.themes]


def score_terms(mentor: Person, mentee: Person, weights: Weights, n_themes: int) -> dict[str, int]:
    """Every term's contribution; the score is their sum."""
    return {
        "themes": weights.theme * sum(theme_points(mentor, mentee, t, n_themes) for t in shared_themes(mentor, mentee)),
        "same_site": weights.same_site * (mentor.site == mentee.site),
        "cross_department": weights.cross_department * (mentor.department != mentee.department),
        "availability": weights.availability * len(mentor.availability & mentee.availability),
    }


def score(mentor: Person, mentee: Person, weights: Weights, n_themes: int) -> int:
    return sum(score_terms(mentor, mentee, weights, n_themes).values())


def violations(mentor: Person, mentee: Person, rules: Rules) -> list[Reason]:
    """The hard constraints a pair breaks, each a stable code (see RULES) with the reason a
    person would read; [] when allowed."""
    broken = []
    if not mentor.languages & mentee.languages:
        broken.append(Reason(NO_SHARED_LANGUAGE, "no shared language"))
    if rules.min_age_gap is not None and mentee.birth_year + rules.min_age_gap > mentor.birth_year:
        broken.append(
            Reason(TOO_CLOSE_IN_AGE, f"the mentor is not younger than the mentee by at least {rules.min_age_gap} years", {"min_age_gap": rules.min_age_gap})
        )
    if mentee.manager_email and mentee.manager_email == mentor.email:
        broken.append(Reason(MENTOR_MANAGES_MENTEE, "the mentor is the mentee's manager"))
    if mentor.manager_email and mentor.manager_email == mentee.email:
        broken.append(Reason(MENTEE_MANAGES_MENTOR, "the mentee is the mentor's manager"))
    if (mentor.id, mentee.id) in rules.forbidden:
        broken.append(Reason(DECLINED_BEFORE, "declined or matched before"))
    return broken


def satisfied_constraints(rules: Rules) -> list[str]:
    """What every proposed pair satisfies, for the explanation."""
    constraints = ["at least one shared language", "neither manages the other", "not declined or matched before", "mentor capacity"]
    if rules.min_age_gap is not None:
        constraints.insert(1, f"mentor younger by at least {rules.min_age_gap} years")
    return constraints


def sorted_by_id(people: Sequence[Person], role: str) -> list[Person]:
    """The people in id order, so that solvers answer the same whatever the input order;
    an id given twice is refused."""
    ordered = sorted(people, key=lambda p: p.id)
    for a, b in zip(ordered, ordered[1:]):
        if a.id == b.id:
            raise ValueError(f"{role} {a.id!r} is given twice")
    return ordered
