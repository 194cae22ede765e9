"""Helpers for enrolment's API tests: tokens for every role, request bodies, CSV files.

Imported by the test modules as ``from apitools import ...`` (pytest puts this directory on
``sys.path``, as it does for ``tests/support.py``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from services.common.auth import issue_token

SECRET = "api-tests-secret-" + "k" * 40
OTHER_SECRET = "not-the-service-secret-" + "q" * 40

SUB_A, SUB_B = "axa-fr", "axa-be"
NOWHERE = "axa-zz"  # a well-formed slug that is never onboarded

DEFAULT_THEMES = [
    "information search",
    "networking",
    "managing one's data on social networks",
    "online learning",
]
DEFAULT_PROGRAMME = {
    "themes": DEFAULT_THEMES,
    "mentor_capacity": 5,
    "mini_session_max": 10,
    "target_sessions": 5,
    "session_minutes": 90,
    "min_age_gap": 1,
}

CSV = {"Content-Type": "text/csv"}
HEADER = "role,name,email,birth_year,department,site,languages,themes,manager_email,availability\n"


def bearer(role: str, subsidiary: str | None = None, *, secret: str = SECRET, ttl: timedelta = timedelta(hours=1)) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, role, subsidiary, subject=f'tester-{role}', ttl=ttl)}"}


# Who calls: the principals of the access matrix, by a short name used in test ids.
PRINCIPALS: dict[str, dict[str, str]] = {
    "group-admin": bearer("group-admin"),
    "admin-A": bearer("subsidiary-admin", SUB_A),
    "admin-B": bearer("subsidiary-admin", SUB_B),
    "auditor-A": bearer("auditor", SUB_A),
    "auditor-all": bearer("auditor"),
    "no-token": {},
    "expired": bearer("group-admin", ttl=timedelta(seconds=-30)),
    "other-secret": bearer("group-admin", secret=OTHER_SECRET),
}
GROUP_ADMIN = PRINCIPALS["group-admin"]
ADMIN_A = PRINCIPALS["admin-A"]
ADMIN_B = PRINCIPALS["admin-B"]
AUDITOR_A = PRINCIPALS["auditor-A"]
AUDITOR_ALL = PRINCIPALS["auditor-all"]


def subsidiary(slug: str, **extra: Any) -> dict[str, Any]:
    return {"id": slug, "name": f"AXA {slug[-2:].upper()}", "timezone": "Europe/Paris", "locale": "fr-FR", **extra}


def participant(email: str, role: str = "mentee", **extra: Any) -> dict[str, Any]:
    return {
        "role": role,
        "name": "Jeanne Martin",
        "email": email,
        "birth_year": 1962 if role == "mentee" else 1998,
        "department": "Finance",
        "site": "Paris",
        "languages": ["fr", "en"],
        "themes": ["networking", "online learning"],
        **extra,
    }


def csv_row(email: str, role: str = "mentee", themes: str = "networking;online learning", **cells: str) -> str:
    values = {
        "role": role,
        "name": "Jean Dupont",
        "email": email,
        "birth_year": "1960" if role == "mentee" else "1999",
        "department": "Finance",
        "site": "Paris",
        "languages": "fr;en",
        "themes": themes,
        "manager_email": "",
        "availability": "mon-am;thu-pm",
        **cells,
    }
    return ",".join(values[name] for name in HEADER.strip().split(",")) + "\n"


def csv_file(*rows: str, header: str = HEADER) -> str:
    return header + "".join(rows)


def many_rows(count: int, domain: str = "example.com") -> str:
    return HEADER + "".join(
        f"mentee,Person {i},person{i}@{domain},{1950 + i % 20},Dept {i % 7},Site {i % 3},fr;en,"
        f"networking;Information Search,,mon-am\n"
        for i in range(count)
    )


def locs(response: Any) -> list[tuple[Any, ...]]:
    """The locations of every problem of a FastAPI-shaped 422, sorted."""
    return sorted((tuple(p["loc"]) for p in response.json()["detail"]), key=repr)


def row_errors(response: Any) -> list[tuple[int, str]]:
    """(row, column) of every error of a CSV import's 422, sorted."""
    return sorted((e["row"], e["column"]) for e in response.json()["detail"])


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VOLATILE_HEADERS = {"x-request-id", "x-correlation-id", "content-length", "date"}


def as_seen(response: Any, *names: str) -> tuple[int, dict[str, str], str]:
    """What a caller sees of a response, with the given names and any uuid blanked out and
    the per-request headers left out: two answers that look alike compare equal."""
    text = _UUID.sub("<uuid>", response.text)
    for name in names:
        text = text.replace(name, "<name>")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _VOLATILE_HEADERS}
    return response.status_code, headers, text
