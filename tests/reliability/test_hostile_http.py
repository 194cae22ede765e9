"""Hostile HTTP input: every service's OpenAPI fuzzed by schemathesis, with valid tokens of
each role. No answer is a 5xx, none breaks the documented schema (body, status code,
content type). In process (FastAPI's ASGI app on its real event store), so that hundreds of
cases per endpoint fit in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.auth import issue_token
from world import create_app, in_process, published

SECRET = "fuzzing-secret-" + "x" * 32
SUBSIDIARY = "fuzz-a"
# Cases per endpoint (and per test: one per service). CI's default; raise it for a longer hunt.
EXAMPLES = int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "300"))
TOKENS = {
    "group-admin": issue_token(SECRET, "group-admin", subject="fuzz-group-admin"),
    "subsidiary-admin": issue_token(SECRET, "subsidiary-admin", SUBSIDIARY, subject="fuzz-subsidiary-admin"),
    "auditor": issue_token(SECRET, "auditor", SUBSIDIARY, subject="fuzz-auditor"),
}
CHECKS_ = (not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance)


def _enrolment_events(home: Path) -> list:
    """A subsidiary with its programme, mentors (one certified) and mentees, as enrolment
    publishes them: what matching and sessions would have consumed."""
    with pytest.MonkeyPatch.context() as env:
        in_process(env, home, SECRET)
        with TestClient(create_app("enrolment")) as client:
            headers = {"Authorization": f"Bearer {TOKENS['group-admin']}"}
            client.post("/subsidiaries", json={"id": SUBSIDIARY, "name": "Fuzz", "timezone": "Europe/Paris", "locale": "fr-FR"}, headers=headers).raise_for_status()
            for n, (role, year) in enumerate([("mentor", 2000), ("mentor", 1999), ("mentee", 1965), ("mentee", 1970), ("mentee", 1968)]):
                person = {"role": role, "name": f"Person {n}", "email": f"p{n}@example.com", "birth_year": year, "department": "IT",
                          "site": "Lyon", "languages": ["fr"], "themes": ["networking"], "availability": ["mon-am"]}  # fmt: skip
                enrolled = client.post(f"/subsidiaries/{SUBSIDIARY}/participants", json=person, headers=headers)
                enrolled.raise_for_status()
                if n == 0:
                    client.post(f"/subsidiaries/{SUBSIDIARY}/participants/{enrolled.json()['id']}/certify", headers=headers).raise_for_status()
            return published(client, "enrolment")


@pytest.fixture
def service_app(service: str, tmp_path: Path) -> Iterator[TestClient]:
    """The service on its real store, knowing one subsidiary and its people (so that half the
    cases reach real resources rather than a 404)."""
    seed = _enrolment_events(tmp_path / "seed") if service != "enrolment" else []
    with pytest.MonkeyPatch.context() as env:
        in_process(env, tmp_path / "home", SECRET)
        with TestClient(create_app(service)) as client:
            if service == "enrolment":
                headers = {"Authorization": f"Bearer {TOKENS['group-admin']}"}
                client.post("/subsidiaries", json={"id": SUBSIDIARY, "name": "Fuzz", "timezone": "Europe/Paris", "locale": "fr-FR"}, headers=headers)
            else:
                client.app.state.application.apply_events(seed)
            yield client


@pytest.mark.parametrize("service", ["enrolment", "matching", "sessions"])
def test_no_input_gets_a_server_error_or_an_answer_outside_the_documented_schema(service_app: TestClient, service: str):
    """Every operation of the service's OpenAPI, EXAMPLES generated cases each (valid and
    invalid), each with one of the roles' tokens; every failure of every operation listed."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", service_app.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy(), role=st.sampled_from(sorted(TOKENS)), known=st.booleans())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
        def fuzz(case, role, known):
            if known and "subsidiary_id" in (case.path_parameters or {}):
                case.path_parameters["subsidiary_id"] = SUBSIDIARY
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKENS[role]}"}
            response = case.call()
            case.validate_response(response, checks=CHECKS_)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - gathered, to report every operation's failure at once
            failures.append(f"{operation.label}: {str(exc)[:3000]}")
    assert not failures, "\n\n".join(failures)
