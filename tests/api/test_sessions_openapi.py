"""Sessions' OpenAPI document: every endpoint, its body, its security and its errors."""

import pytest

from services.sessions.api.main import create_app
from services.sessions.settings import SessionsSettings

S, R = "/subsidiaries/{subsidiary_id}/sessions", "/subsidiaries/{subsidiary_id}/relationships"
EXPECTED = {
    ("GET", R): None,
    ("GET", R + "/{relationship_id}"): None,
    ("POST", R + "/{relationship_id}/close"): "application/json",
    ("POST", R + "/{relationship_id}/notes"): "application/json",
    ("POST", S): "application/json",
    ("GET", S): None,
    ("GET", S + "/{session_id}"): None,
    ("GET", S + "/{session_id}.ics"): None,
    ("POST", S + "/{session_id}/reschedule"): "application/json",
    ("POST", S + "/{session_id}/cancel"): "application/json",
    ("POST", S + "/{session_id}/attendance"): "application/json",
    ("POST", S + "/{session_id}/feedback"): "application/json",
    ("POST", S + "/{session_id}/complete"): None,
    ("GET", "/subsidiaries/{subsidiary_id}/dashboard"): None,
    ("GET", "/dashboard"): None,
    ("GET", "/healthz"): None,
    ("GET", "/subsidiaries/{subsidiary_id}/audit/events"): None,
    ("GET", "/subsidiaries/{subsidiary_id}/audit/head"): None,
    ("GET", "/audit/replay"): None,
}
COMMANDS = [(m, p) for m, p in EXPECTED if m == "POST"]


@pytest.fixture(scope="module")
def openapi() -> dict:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TANDEM_SECRET", "openapi-" + "s" * 40)
        return create_app(SessionsSettings()).openapi()


def operation(doc: dict, method: str, path: str) -> dict:
    return doc["paths"][path][method.lower()]


def test_the_document_lists_exactly_the_endpoints_of_the_service(openapi):
    listed = {(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops}
    assert listed == set(EXPECTED)
    assert openapi["info"]["title"] == "Tandem sessions"


@pytest.mark.parametrize(("method", "path"), list(EXPECTED), ids=[f"{m} {p}" for m, p in EXPECTED])
def test_each_endpoint_documents_its_body_its_security_and_the_errors_to_handle(openapi, method, path):
    op = operation(openapi, method, path)
    assert op.get("summary")
    media = EXPECTED[(method, path)]
    assert (list(op["requestBody"]["content"]) if "requestBody" in op else None) == ([media] if media else None)
    if path == "/healthz":
        assert "security" not in op
        return
    assert op["security"] == [{"HTTPBearer": []}]
    assert "401" in op["responses"]
    if "{subsidiary_id}" in path:
        assert "404" in op["responses"]
    if (method, path) in COMMANDS:
        assert {"409", "422"} <= set(op["responses"])


def test_the_invitation_is_documented_as_a_calendar_file(openapi):
    op = operation(openapi, "GET", S + "/{session_id}.ics")
    assert list(op["responses"]["200"]["content"]) == ["text/calendar"]


def test_lists_document_their_filters_and_paging(openapi):
    for path, filters in [
        (R, {"status", "format", "participant_id", "stalled"}),
        (S, {"status", "relationship_id", "participant_id", "theme", "starts_after", "starts_before"}),
    ]:
        params = {p["name"] for p in operation(openapi, "GET", path)["parameters"] if p["in"] == "query"}
        assert params == filters | {"limit", "offset"}, path
