"""Reading participants from CSV: every row error, with its row and column."""

from services.enrolment.api.csv_import import parse_participants

HEADER = "role,name,email,birth_year,department,site,languages,themes,manager_email,availability\n"
GOOD = "mentee,Jean Dupont,jean@example.com,1962,Finance,Paris,fr;en,networking;online learning,boss@example.com,mon-am;tue-pm\n"


def errors_of(text: str | bytes) -> list[tuple[int, str]]:
    body = text.encode() if isinstance(text, str) else text
    _, errors = parse_participants(body)
    return [(e.row, e.column) for e in errors]


def test_a_good_file_gives_its_participants_with_lists_split():
    rows, errors = parse_participants((HEADER + GOOD + "\n").encode())
    assert errors == []
    [row] = rows
    jean = row.participant
    assert row.number == 2
    assert jean.languages == ["fr", "en"] and jean.themes == ["networking", "online learning"]
    assert [str(s) for s in jean.availability] == ["mon-am", "tue-pm"]


def test_optional_columns_may_be_left_out_or_empty():
    header = "role,name,email,birth_year,department,site,languages,themes\n"
    rows, errors = parse_participants((header + "mentor,Zoé,zoe@example.com,2000,IT,Lyon,fr,networking\n").encode())
    assert errors == [] and rows[0].participant.manager_email is None and rows[0].participant.availability == []


def test_an_invalid_row_keeps_its_well_formed_themes_and_email_for_the_programme_checks():
    rows, errors = parse_participants((HEADER + "boss,Jean,jean@example.com,1960,Finance,Paris,fr,cooking,,\n\n" + GOOD.replace("jean@", "x@").replace(",fr;en,", ",french,")).encode())
    assert [(r.number, r.participant, r.themes, r.email) for r in rows] == [
        (2, None, ["cooking"], "jean@example.com"),
        (4, None, ["networking", "online learning"], "x@example.com"),
    ]
    assert [(e.row, e.column) for e in errors] == [(2, "role"), (4, "languages")]


def test_every_error_of_every_row_is_listed_with_row_and_column():
    text = HEADER + GOOD + "boss,Jean,not-an-email,old,Finance,Paris,french,networking,,sun-am\n" + GOOD.replace("mentee", "mentor")
    assert sorted(errors_of(text)) == [(3, "availability"), (3, "birth_year"), (3, "email"), (3, "languages"), (3, "role")]


def test_missing_and_unknown_columns_are_reported_on_the_header_row():
    assert sorted(errors_of("role,name,mail\nmentor,a,b\n")) == [
        (1, "birth_year"), (1, "department"), (1, "email"), (1, "languages"), (1, "mail"), (1, "site"), (1, "themes")
    ]


def test_malformed_files_are_refused_with_a_reason():
    assert errors_of("") == [(1, "")]
    assert errors_of(HEADER) == [(2, "")]
    assert errors_of(b"\xff\xfe\x00garbage") == [(1, "")]
    assert errors_of(HEADER + 'mentee,"unterminated,x\n') != []
    assert errors_of(HEADER + "mentee,too,few\n") == [(2, "")]


def test_an_email_met_again_in_the_file_reads_as_it_did_the_first_time():
    """The file's emails are checked once each (the managers repeat): the same value, the
    same normalised address, and an invalid one is refused on every row it is on."""
    jean = GOOD.replace("boss@example.com", "Boss@EXAMPLE.com")
    text = HEADER + jean + jean.replace("jean@", "anne@") + GOOD.replace("boss@example.com", "boss(at)example.com").replace("jean@", "x@") * 2
    rows, errors = parse_participants(text.encode())
    assert [r.participant.manager_email for r in rows[:2]] == ["Boss@example.com"] * 2  # the domain lower-cased, twice
    assert [(e.row, e.column, e.type) for e in errors] == [(4, "manager_email", "invalid_email"), (5, "manager_email", "invalid_email")]
