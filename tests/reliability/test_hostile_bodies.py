"""Hostile bodies: oversized, deeply nested, not UTF-8, spreadsheet formulas in a CSV file.
Each is refused with a 4xx that says why, records nothing, and the service goes on serving."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from apitools import GROUP_ADMIN, SUB_A, bearer, csv_file, csv_row, participant, subsidiary

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def admin(start_service) -> TestClient:
    client = start_service(TANDEM_MAX_BODY_BYTES=str(256 * 1024))
    client.headers.update(GROUP_ADMIN)
    assert client.post("/subsidiaries", json=subsidiary(SUB_A)).status_code == 201
    return client


def head(client: TestClient) -> int:
    return client.app.state.application.recorder.max_notification_id() or 0


def still_serving(client: TestClient) -> None:
    assert client.get(f"/subsidiaries/{SUB_A}").status_code == 200


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_refused(admin: TestClient, depth: int):
    before = head(admin)
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = admin.post(f"/subsidiaries/{SUB_A}/participants", content=body, headers={"Content-Type": "application/json"})
        # FastAPI refuses what its JSON parser cannot read (RecursionError included) with 400;
        # past TANDEM_MAX_BODY_BYTES it is not even read (413).
        assert (response.status_code, response.json()) in ((400, {"detail": "There was an error parsing the body"}), (413, response.json()))
    assert head(admin) == before
    still_serving(admin)


def test_a_body_far_over_the_limit_is_refused_before_it_is_read_whole(admin: TestClient):
    before = head(admin)
    response = admin.post(f"/subsidiaries/{SUB_A}/participants/import", content=b"a" * (5 * 1024 * 1024), headers={"Content-Type": "text/csv"})
    assert response.status_code == 413 and "detail" in response.json()
    assert head(admin) == before
    still_serving(admin)


@pytest.mark.parametrize("body", [b'{"role": "mentee", "name": "\xff\xfe"}', b"\xc3\x28", b'{"id": "caf\xe9"}'])
def test_json_that_is_not_utf8_is_refused(admin: TestClient, body: bytes):
    before = head(admin)
    for path in ("/subsidiaries", f"/subsidiaries/{SUB_A}/participants"):
        response = admin.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.json() == {"detail": "There was an error parsing the body"}
    assert head(admin) == before


def test_a_csv_file_that_is_not_utf8_is_refused_naming_where(admin: TestClient):
    body = csv_file(csv_row("ann@example.com")).encode() + b"mentee,Bad \xff Name,b@example.com\n"
    response = admin.post(f"/subsidiaries/{SUB_A}/participants/import", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422
    assert "not UTF-8" in response.json()["detail"][0]["message"]


@pytest.mark.parametrize("formula", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", " =HYPERLINK(\"http://x\")"])
def test_spreadsheet_formulas_in_a_csv_file_are_refused_with_their_row_and_column(admin: TestClient, formula: str):
    before = head(admin)
    body = csv_file(csv_row("ann@example.com"), csv_row("bob@example.com", department=formula), csv_row("cy@example.com", themes=f"networking;{formula}"))
    response = admin.post(f"/subsidiaries/{SUB_A}/participants/import", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    errors = {(e["row"], e["column"]) for e in response.json()["detail"] if "formula" in e["message"]}
    assert errors == {(3, "department"), (4, "themes")}
    assert head(admin) == before  # nothing recorded, not even the good row


def test_formula_like_text_typed_in_a_form_is_stored_as_text_and_shown_escaped(admin: TestClient):
    """Outside CSV files nothing runs it; the console escapes what it shows. (Names such as
    "-Ann" stay possible one by one.)"""
    response = admin.post(f"/subsidiaries/{SUB_A}/participants", json=participant("dash@example.com", name="-Ann <b>"))
    assert response.status_code == 201
    shown = admin.get(f"/subsidiaries/{SUB_A}/participants/{response.json()['id']}").json()
    assert shown["name"] == "-Ann <b>"


def test_a_token_for_another_secret_or_algorithm_gets_nothing(admin: TestClient):
    admin.headers.update(bearer("group-admin", secret="another-secret-" + "y" * 32))
    assert admin.get("/subsidiaries").status_code == 401
