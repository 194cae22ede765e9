"""Reading participants from a CSV file: every row error found, with its row and column, its
stable code and parameters (a field's are the ones the API answers for the same field)."""

import csv
import io
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.enrolment.api.schemas import EMAILS_CHECKED, ParticipantIn, RowError

REQUIRED = ["role", "name", "email", "birth_year", "department", "site", "languages", "themes"]
OPTIONAL = ["manager_email", "availability"]
LIST_COLUMNS = {"languages", "themes", "availability"}
LIST_SEPARATOR = ";"


@dataclass
class Row:
    """One participant row: its number, the participant when the row is valid, and the
    themes and email as written (when well-formed), so the programme's rules can be
    checked on every row and all errors listed at once."""

    number: int
    participant: ParticipantIn | None
    themes: list[str] | None
    email: str | None


def parse_participants(body: bytes) -> tuple[list[Row], list[RowError]]:
    """Every row, and every error found in them. Rows are numbered as in a spreadsheet:
    the header is row 1."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [
            RowError(row=1, column="", message=f"the file is not UTF-8 text: {exc.reason} at byte {exc.start}", type="not_utf8", ctx={"byte": exc.start})
        ]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    errors: list[RowError] = []
    emails_checked: dict[str, str] = {}  # this file's, for its rows' validation (schemas._email)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header or header == [""]:
            return [], [RowError(row=1, column="", message="the file is empty: expected a header row", type="empty_file")]
        errors = _header_errors(header)
        if errors:
            return [], errors
        for row_number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are harmless
            if len(cells) != len(header):
                errors.append(
                    RowError(
                        row=row_number,
                        column="",
                        message=f"expected {len(header)} cells, found {len(cells)}",
                        type="wrong_cell_count",
                        ctx={"expected": len(header), "found": len(cells)},
                    )
                )
                continue
            formulas = _formula_errors(row_number, header, cells)
            if formulas:
                errors.extend(formulas)
                rows.append(Row(row_number, None, None, None))
                continue
            data = _row(header, cells)
            try:
                rows.append(Row(row_number, ParticipantIn.model_validate(data, context={EMAILS_CHECKED: emails_checked}), data["themes"], data["email"]))
            except ValidationError as exc:
                row_errors = [_field_error(row_number, e) for e in exc.errors(include_url=False, include_input=False)]
                errors.extend(row_errors)
                wrong = {e.column for e in row_errors}
                rows.append(Row(row_number, None, None if "themes" in wrong else data["themes"], None if "email" in wrong else data["email"]))
    except csv.Error as exc:
        return [], [*errors, RowError(row=reader.line_num, column="", message=f"malformed CSV: {exc}", type="malformed_csv")]
    if not rows and not errors:
        errors.append(RowError(row=2, column="", message="the file has a header but no participants", type="no_participants"))
    return rows, errors


def _field_error(row_number: int, error: ErrorDetails) -> RowError:
    """A cell's error with pydantic's code and parameters; the parameters made JSON-safe (a
    value_error's holds the exception) and never the cell itself."""
    ctx = {key: value if isinstance(value, str | int | float | bool | list | None) else str(value) for key, value in (error.get("ctx") or {}).items()}
    column = str(error["loc"][0]) if error["loc"] else ""
    return RowError(row=row_number, column=column, message=error["msg"], type=error["type"], ctx=ctx)


# A cell a spreadsheet would run as a formula (CSV injection): the file is refused, so that
# nothing stored can later reach an admin's spreadsheet as one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formula_errors(row_number: int, header: list[str], cells: list[str]) -> list[RowError]:
    errors = []
    for name, cell in zip(header, cells):
        pieces = [cell.lstrip(" "), *(item.lstrip(" ") for item in cell.split(LIST_SEPARATOR))]
        formula = next((piece for piece in pieces if piece.startswith(FORMULA_STARTS)), None)
        if formula is not None:
            errors.append(
                RowError(
                    row=row_number,
                    column=name,
                    message=f"starts with {formula[0]!r}: a spreadsheet would run it as a formula",
                    type="formula_cell",
                    ctx={"character": formula[0]},
                )
            )
    return errors


def _header_errors(header: list[str]) -> list[RowError]:
    errors = [RowError(row=1, column=name, message="missing column", type="missing_column") for name in REQUIRED if name not in header]
    known = [*REQUIRED, *OPTIONAL]
    errors += [
        RowError(row=1, column=name, message="unknown column", type="unknown_column", ctx={"columns": known}) for name in header if name not in known
    ]
    errors += [
        RowError(row=1, column=name, message="column appears twice", type="duplicate_column")
        for name in sorted(set(header))
        if header.count(name) > 1
    ]
    return errors


def _row(header: list[str], cells: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, cell in zip(header, cells):
        cell = cell.strip()
        if name in LIST_COLUMNS:
            row[name] = [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]
        elif cell or name not in OPTIONAL:
            row[name] = cell
    return row
