"""The OpenAPI document describes every endpoint, its body and its security."""

from __future__ import annotations

import pytest

EXPECTED = {
    ("POST", "/subsidiaries"): "application/json",
    ("GET", "/subsidiaries"): None,
    ("GET", "/subsidiaries/{subsidiary_id}"): None,
    ("GET", "/subsidiaries/{subsidiary_id}/programme"): None,
    ("PUT", "/subsidiaries/{subsidiary_id}/programme"): "application/json",
    ("POST", "/subsidiaries/{subsidiary_id}/participants"): "application/json",
    ("GET", "/subsidiaries/{subsidiary_id}/participants"): None,
    ("POST", "/subsidiaries/{subsidiary_id}/participants/import"): "text/csv",
    ("GET", "/subsidiaries/{subsidiary_id}/participants/{participant_id}"): None,
    ("PATCH", "/subsidiaries/{subsidiary_id}/participants/{participant_id}"): "application/json",
    ("POST", "/subsidiaries/{subsidiary_id}/participants/{participant_id}/certify"): None,
    ("POST", "/subsidiaries/{subsidiary_id}/participants/{participant_id}/withdraw"): "application/json",
    ("DELETE", "/subsidiaries/{subsidiary_id}/participants/{participant_id}/personal-data"): None,
    ("GET", "/healthz"): None,
    ("GET", "/subsidiaries/{subsidiary_id}/audit/events"): None,
    ("GET", "/subsidiaries/{subsidiary_id}/audit/head"): None,
    ("GET", "/audit/replay"): None,
}


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/openapi.json")  # no token needed
    assert response.status_code == 200
    return response.json()


def operation(doc: dict, method: str, path: str) -> dict:
    return doc["paths"][path][method.lower()]


def test_the_document_lists_exactly_the_endpoints_of_the_service(openapi):
    listed = {(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops}
    assert listed == set(EXPECTED)
    assert openapi["info"]["title"] == "Tandem enrolment" and openapi["info"]["version"]


@pytest.mark.parametrize(("method", "path"), list(EXPECTED), ids=[f"{m} {p}" for m, p in EXPECTED])
def test_each_endpoint_documents_its_request_body_and_a_summary(openapi, method, path):
    op = operation(openapi, method, path)
    assert op.get("summary")
    media = EXPECTED[(method, path)]
    if media is None:
        assert "requestBody" not in op
    else:
        assert list(op["requestBody"]["content"]) == [media]
        assert op["requestBody"].get("required") is True


def test_the_csv_import_documents_a_text_csv_body_its_columns_and_its_row_errors(openapi):
    op = operation(openapi, "POST", "/subsidiaries/{subsidiary_id}/participants/import")
    assert op["requestBody"]["content"]["text/csv"]["schema"] == {"type": "string"}
    for column in ("role", "email", "themes", "languages", "manager_email", "availability", ";"):
        assert column in op["description"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Imported"}
    row_error = openapi["components"]["schemas"]["RowError"]
    assert set(row_error["properties"]) == {"row", "column", "message", "type", "ctx"}
    assert "422" in op["responses"]


def test_every_endpoint_but_health_requires_a_bearer_token(openapi):
    assert openapi["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `tandem token`",
    }
    for method, path in EXPECTED:
        security = operation(openapi, method, path).get("security")
        assert security == (None if path == "/healthz" else [{"HTTPBearer": []}]), (method, path)


def test_creations_answer_201_and_conflicts_are_documented(openapi):
    assert "201" in operation(openapi, "POST", "/subsidiaries")["responses"]
    assert "201" in operation(openapi, "POST", "/subsidiaries/{subsidiary_id}/participants")["responses"]
    for method, path in [
        ("POST", "/subsidiaries"),
        ("POST", "/subsidiaries/{subsidiary_id}/participants"),
        ("POST", "/subsidiaries/{subsidiary_id}/participants/{participant_id}/certify"),
    ]:
        assert "409" in operation(openapi, method, path)["responses"], (method, path)


def test_the_list_documents_its_filters_and_paging(openapi):
    op = operation(openapi, "GET", "/subsidiaries/{subsidiary_id}/participants")
    params = {p["name"]: p for p in op["parameters"]}
    assert {"role", "status", "limit", "offset"} <= set(params)
    assert all(params[name]["in"] == "query" for name in ("role", "status", "limit", "offset"))


def test_the_participant_schemas_describe_the_published_fields(openapi):
    schemas = openapi["components"]["schemas"]
    assert set(schemas["ParticipantIn"]["required"]) == {
        "role", "name", "email", "birth_year", "department", "site", "languages", "themes"
    }
    assert {"manager_email", "availability"} <= set(schemas["ParticipantIn"]["properties"])
    assert schemas["ParticipantIn"].get("additionalProperties") is False
    assert "min_age_gap" in schemas["ProgrammeIn"]["properties"]


def test_the_error_answers_a_client_must_handle_are_documented(openapi):
    for method, path in EXPECTED:
        if path == "/healthz":
            continue
        responses = operation(openapi, method, path)["responses"]
        assert "401" in responses, (method, path)
        if "{subsidiary_id}" in path:
            assert "404" in responses, (method, path)
    for method, path in [
        ("PATCH", "/subsidiaries/{subsidiary_id}/participants/{participant_id}"),
        ("POST", "/subsidiaries/{subsidiary_id}/participants/{participant_id}/withdraw"),
    ]:
        assert "409" in operation(openapi, method, path)["responses"], (method, path)
