"""Enrolment from a CSV file: all or nothing, every row error listed with its spreadsheet row."""

from __future__ import annotations

import time

import pytest

from apitools import ADMIN_A, CSV, GROUP_ADMIN, HEADER, SUB_A, csv_file, csv_row, many_rows, participant, row_errors, subsidiary

PARTICIPANTS = f"/subsidiaries/{SUB_A}/participants"
IMPORT = f"{PARTICIPANTS}/import"


@pytest.fixture
def onboarded(client):
    assert client.post("/subsidiaries", json=subsidiary(SUB_A), headers=GROUP_ADMIN).status_code == 201


@pytest.fixture
def post_csv(client):
    def post(body: str | bytes, headers: dict[str, str] | None = None):
        return client.post(IMPORT, content=body.encode() if isinstance(body, str) else body, headers={**GROUP_ADMIN, **CSV, **(headers or {})})

    return post


@pytest.fixture
def refused_csv(post_csv, client, events, still_serving):
    """Posts a file that must be refused with 422: checks the shape of the answer, that nothing
    was recorded and that the service keeps serving. Returns the (row, column) of each error."""

    def post(body: str | bytes) -> list[tuple[int, str]]:
        total = client.get(PARTICIPANTS, headers=GROUP_ADMIN).headers["X-Total-Count"]
        with events.nothing_recorded():
            response = post_csv(body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/json"
        detail = response.json()["detail"]
        assert detail and all(set(e) == {"row", "column", "message", "type", "ctx"} and e["message"] for e in detail)
        assert all(e["type"] != "value_error" for e in detail), detail  # each error has a code of its own
        assert client.get(PARTICIPANTS, headers=GROUP_ADMIN).headers["X-Total-Count"] == total
        still_serving()
        return row_errors(response)

    return post


def test_a_good_file_enrols_everyone_and_answers_the_count(post_csv, client, events, onboarded):
    body = csv_file(
        csv_row("jean@axa.fr", themes="Networking;ONLINE learning", availability="mon-am;fri-pm", manager_email="boss@axa.fr"),
        csv_row("zoe@axa.fr", "mentor", name='"Leroy, Zoé"', languages="fr;en;es", themes="information search"),
        csv_row("ali@axa.fr", availability=""),
    )
    with events.recorded(6):  # three participants, three email claims
        response = post_csv(body)
    assert response.status_code == 200, response.text
    assert response.json() == {"imported": 3}

    listed = client.get(PARTICIPANTS, headers=GROUP_ADMIN)
    assert listed.headers["X-Total-Count"] == "3"
    jean, zoe, ali = sorted(listed.json(), key=lambda p: ["jean@axa.fr", "zoe@axa.fr", "ali@axa.fr"].index(p["email"]))
    assert jean["themes"] == ["networking", "online learning"]  # the programme's spelling, in the file's order
    assert jean["availability"] == ["mon-am", "fri-pm"] and jean["manager_email"] == "boss@axa.fr"
    assert jean["birth_year"] == 1960 and jean["status"] == "enrolled" and jean["role"] == "mentee"
    assert zoe["name"] == "Leroy, Zoé" and zoe["role"] == "mentor" and zoe["languages"] == ["fr", "en", "es"]
    assert ali["availability"] == [] and ali["manager_email"] is None


def test_optional_columns_may_be_left_out_and_headers_are_read_loosely(post_csv, client, onboarded):
    body = " Role ,NAME,Email,birth_year,department,site,languages,themes\r\nmentor,Zoé,zoe@axa.fr,1999,IT,Lyon,fr,networking\r\n"
    response = post_csv("\ufeff" + body, headers={"Content-Type": "text/csv; charset=utf-8"})  # with a BOM, as Excel writes it
    assert response.status_code == 200, response.text
    [zoe] = client.get(PARTICIPANTS, headers=GROUP_ADMIN).json()
    assert (zoe["name"], zoe["email"], zoe["site"], zoe["availability"]) == ("Zoé", "zoe@axa.fr", "Lyon", [])


def test_blank_lines_are_ignored(post_csv, client, onboarded):
    response = post_csv(csv_file(csv_row("a@axa.fr"), "\n", ",,,,,,,,,\n", csv_row("b@axa.fr")))
    assert response.json() == {"imported": 2}


def test_a_subsidiary_admin_imports_and_the_imported_emails_are_then_taken(post_csv, client, onboarded):
    response = client.post(IMPORT, content=csv_file(csv_row("a@axa.fr")), headers={**ADMIN_A, **CSV})
    assert response.status_code == 200
    assert client.post(PARTICIPANTS, json=participant("A@axa.fr"), headers=ADMIN_A).status_code == 409


def test_importing_into_a_subsidiary_never_onboarded_answers_404(client, events):
    with events.nothing_recorded():
        response = client.post("/subsidiaries/axa-zz/participants/import", content=csv_file(csv_row("a@axa.fr")), headers={**GROUP_ADMIN, **CSV})
    assert response.status_code == 404


def test_ten_thousand_rows_import_in_one_request(post_csv, client, onboarded):
    started = time.monotonic()
    response = post_csv(many_rows(10_000))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[:2000]
    assert response.json() == {"imported": 10_000}

    listed = client.get(PARTICIPANTS, params={"limit": 10_000}, headers=GROUP_ADMIN)
    assert listed.headers["X-Total-Count"] == "10000"
    people = listed.json()
    assert len(people) == 10_000 and len({p["email"] for p in people}) == 10_000
    assert people[0]["themes"] == ["networking", "information search"]
    assert client.get(PARTICIPANTS, params={"limit": 5, "offset": 9_998}, headers=GROUP_ADMIN).json() == people[-2:]
    assert elapsed < 30, f"the import took {elapsed:.1f}s"


# -- refused files ------------------------------------------------------------------------


def test_errors_in_several_rows_are_all_listed_with_spreadsheet_row_numbers(refused_csv, onboarded):
    body = csv_file(
        csv_row("ok1@axa.fr"),  # row 2
        csv_row("not-an-email", role="boss"),  # row 3
        csv_row("ok2@axa.fr"),  # row 4
        csv_row("ok3@axa.fr", birth_year="old", languages="french;en", availability="sun-am"),  # row 5
        csv_row("ok4@axa.fr", manager_email="nobody"),  # row 6
    )
    assert refused_csv(body) == [
        (3, "email"),
        (3, "role"),
        (5, "availability"),
        (5, "birth_year"),
        (5, "languages"),
        (6, "manager_email"),
    ]


def test_unknown_and_repeated_themes_are_listed_with_their_rows(refused_csv, onboarded):
    body = csv_file(
        csv_row("a@axa.fr"),
        csv_row("b@axa.fr", themes="cooking;networking"),  # row 3
        csv_row("c@axa.fr", themes="networking;NETWORKING"),  # row 4
    )
    assert refused_csv(body) == [(3, "themes"), (4, "themes")]


def test_emails_repeated_inside_the_file_are_listed_on_each_of_their_rows(refused_csv, onboarded):
    body = csv_file(csv_row("dup@axa.fr"), csv_row("other@axa.fr"), csv_row("DUP@axa.fr", "mentor"), csv_row("dup@axa.fr"))
    assert refused_csv(body) == [(2, "email"), (4, "email"), (5, "email")]


def test_an_email_already_enrolled_is_listed_with_its_row(refused_csv, client, onboarded):
    client.post(PARTICIPANTS, json=participant("taken@axa.fr"), headers=GROUP_ADMIN)
    body = csv_file(csv_row("new@axa.fr"), csv_row("Taken@axa.fr"))
    assert refused_csv(body) == [(3, "email")]


def test_an_email_freed_by_a_withdrawal_may_be_imported(post_csv, client, onboarded):
    pid = client.post(PARTICIPANTS, json=participant("back@axa.fr"), headers=GROUP_ADMIN).json()["id"]
    client.post(f"{PARTICIPANTS}/{pid}/withdraw", json={"reason": "sabbatical"}, headers=GROUP_ADMIN)
    assert post_csv(csv_file(csv_row("back@axa.fr"))).json() == {"imported": 1}


def test_one_bad_row_among_many_records_nothing_and_the_fixed_file_then_imports(refused_csv, post_csv, onboarded):
    rows = many_rows(500).splitlines(keepends=True)
    rows[300] = rows[300].replace("fr;en", "fr;english")  # row 301 of the file
    assert refused_csv("".join(rows)) == [(301, "languages")]
    assert post_csv(many_rows(500)).json() == {"imported": 500}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"", [(1, "")], id="empty"),
        pytest.param(b"\n\n", [(1, "")], id="only-blank-lines"),
        pytest.param(HEADER.encode(), [(2, "")], id="header-only"),
        pytest.param(csv_file(csv_row("a@axa.fr")).encode("utf-16"), [(1, "")], id="utf-16"),
        pytest.param(csv_file(csv_row("a@axa.fr", name="Zoé")).encode("latin-1"), [(1, "")], id="latin-1"),
        pytest.param(csv_file(csv_row("a@axa.fr"), "mentee,too,few\n").encode(), [(3, "")], id="too-few-cells"),
        pytest.param(csv_file(csv_row("a@axa.fr").rstrip("\n") + ",extra\n").encode(), [(2, "")], id="too-many-cells"),
        pytest.param(b"role,name,mail\nmentee,a,b\n", [(1, c) for c in ["birth_year", "department", "email", "languages", "mail", "site", "themes"]], id="bad-header"),
        pytest.param(
            (HEADER.strip() + ",email\n").encode(), [(1, "email")], id="column-twice"
        ),
    ],
)
def test_malformed_files_are_refused_with_where_and_why(refused_csv, onboarded, body, expected):
    assert refused_csv(body) == expected


def test_a_non_utf8_file_says_so(post_csv, onboarded):
    response = post_csv(csv_file(csv_row("a@axa.fr", name="Zoé")).encode("latin-1"))
    assert response.status_code == 422 and "UTF-8" in response.json()["detail"][0]["message"]


def test_an_unterminated_quote_is_refused(refused_csv, onboarded):
    errors = refused_csv(csv_file(csv_row("a@axa.fr"), 'mentee,"Dupont, Jean,x@axa.fr,1960\n'))
    assert errors and all(column == "" for _, column in errors)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x", None])
def test_the_import_refuses_other_content_types_with_415(client, events, onboarded, content_type):
    headers = dict(GROUP_ADMIN)
    if content_type:
        headers["Content-Type"] = content_type
    with events.nothing_recorded():
        response = client.post(IMPORT, content=csv_file(csv_row("a@axa.fr")).encode(), headers=headers)
    assert response.status_code == 415
    assert "text/csv" in response.json()["detail"]


def test_the_row_of_an_unknown_theme_counts_blank_lines_like_a_spreadsheet(refused_csv, onboarded):
    body = csv_file(csv_row("a@axa.fr"), "\n", csv_row("b@axa.fr", themes="cooking"))  # rows 2, 3 (blank), 4
    assert refused_csv(body) == [(4, "themes")]


def test_row_errors_and_theme_errors_of_other_rows_are_listed_together(refused_csv, onboarded):
    body = csv_file(csv_row("not-an-email"), csv_row("b@axa.fr", themes="cooking"))
    assert refused_csv(body) == [(2, "email"), (3, "themes")]


def test_row_errors_carry_codes_and_parameters(post_csv, client, onboarded):
    client.post(PARTICIPANTS, json=participant("taken@axa.fr"), headers=GROUP_ADMIN)
    body = csv_file(
        csv_row("a@axa.fr", languages="fr;xx;zz"),  # row 2: codes no one can be matched on
        csv_row("b@axa.fr", themes="knitting"),  # row 3
        csv_row("taken@axa.fr"),  # row 4
        csv_row("c@axa.fr", site="=HYPERLINK(1)"),  # row 5
    )
    detail = post_csv(body).json()["detail"]
    found = {(e["row"], e["column"]): (e["type"], e["ctx"]) for e in detail}
    assert found[(2, "languages")] == ("unknown_language", {"codes": ["xx", "zz"], "suggestion": None})
    assert found[(3, "themes")][0] == "unknown_theme" and found[(3, "themes")][1]["theme"] == "knitting"
    assert found[(4, "email")] == ("already_enrolled", {"subsidiary_id": SUB_A})
    assert found[(5, "site")] == ("formula_cell", {"character": "="})
    assert "taken@axa.fr" not in str(detail)  # an answer carries no email


def test_file_errors_carry_codes(post_csv, onboarded):
    def codes(body: bytes) -> list[tuple[str, dict]]:
        return [(e["type"], e["ctx"]) for e in post_csv(body).json()["detail"]]

    assert codes(b"") == [("empty_file", {})]
    assert codes(HEADER.encode()) == [("no_participants", {})]
    assert codes(csv_file(csv_row("a@axa.fr"), "mentee,too,few\n").encode()) == [("wrong_cell_count", {"expected": len(HEADER.strip().split(",")), "found": 3})]
    assert ("not_utf8", {"byte": 45}) in codes(csv_file(csv_row("a@axa.fr", name="Zoé")).encode("latin-1")) or codes(
        csv_file(csv_row("a@axa.fr", name="Zoé")).encode("latin-1")
    )[0][0] == "not_utf8"
    header = codes(b"role,name,mail\nmentee,a,b\n")
    assert ("missing_column", {}) in header and header[-1][0] == "unknown_column" and "email" in header[-1][1]["columns"]
