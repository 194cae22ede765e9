"""The committed JSON Schemas of the integration events: in step with the models, valid, compatible."""

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID, uuid4

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel, Field, create_model

from contracts import encode
from contracts import enrolment
from contracts.envelope import PERSONAL_DATA_MARK, IntegrationEvent
from contracts.registry import EVENT_TYPES
from contracts.schemas import (
    IncompatibleSchemaChange,
    check,
    current_schema,
    incompatibilities,
    main,
    schema_path,
    write,
)
from services.common.personal_data import MemoryKeyStore, PersonalDataKeys

ALL_EVENTS = pytest.mark.parametrize("event_cls", EVENT_TYPES.values(), ids=EVENT_TYPES.keys())


def committed(event_cls: type[IntegrationEvent]) -> dict[str, Any]:
    return json.loads(schema_path(event_cls).read_text(encoding="utf-8"))


# --- the committed schemas ---------------------------------------------------------------


def test_committed_schemas_match_the_models() -> None:
    assert check() == []
    assert main(["--check"]) == 0


@ALL_EVENTS
def test_committed_schema_is_valid_json_schema(event_cls: type[IntegrationEvent]) -> None:
    schema = committed(event_cls)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


PARTICIPANT = {
    "role": "mentor",
    "personal_data": {"name": "Ada Lovelace", "email": "ada@example.com", "birth_year": 1990, "manager_email": None},
    "department": "IT",
    "site": "Paris",
    "languages": ["fr", "en"],
    "themes": ["networking"],
    "availability": ["mon-am"],
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "SubsidiaryOnboarded": {"name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"},
    "ProgrammeConfigured": {
        "themes": ["networking"],
        "mentor_capacity": 2,
        "mini_session_max": 3,
        "target_sessions": 6,
        "session_minutes": 60,
        "min_age_gap": None,
    },
    "ParticipantEnrolled": {**PARTICIPANT, "participant_id": str(uuid4())},
    "MentorCertified": {"participant_id": str(uuid4())},
    "ParticipantProfileUpdated": {**PARTICIPANT, "participant_id": str(uuid4()), "changed": ["site"]},
    "ParticipantWithdrawn": {"participant_id": str(uuid4()), "role": "mentee", "reason": "moved to another role"},
    "ParticipantErased": {"participant_id": str(uuid4())},
    "MatchConfirmed": {
        "match_id": str(uuid4()),
        "run_id": str(uuid4()),
        "format": "pair",
        "mentor_id": str(uuid4()),
        "mentee_ids": [str(uuid4())],
        "theme": "networking",
        "shared_themes": ["networking"],
        "language": "fr",
        "score": 12,
    },
    "MatchDeclined": {"match_id": str(uuid4()), "mentor_id": str(uuid4()), "mentee_ids": [str(uuid4())], "by": "admin", "reason": "same team"},
    "MatchEnded": {"match_id": str(uuid4()), "mentor_id": str(uuid4()), "mentee_ids": [str(uuid4())], "reason": "the mentee withdrew"},
    "MatchMemberLeft": {
        "match_id": str(uuid4()), "mentor_id": str(uuid4()), "participant_id": str(uuid4()), "mentee_ids": [str(uuid4())], "reason": "a mentee withdrew: retired",
    },
    "RelationshipMemberLeft": {"relationship_id": str(uuid4()), "participant_id": str(uuid4()), "reason": "a mentee withdrew: retired"},
    "RelationshipOpened": {
        "relationship_id": str(uuid4()),
        "match_id": str(uuid4()),
        "format": "mini-session",
        "mentor_id": str(uuid4()),
        "mentee_ids": [str(uuid4()), str(uuid4())],
        "theme": "networking",
        "target_sessions": 5,
        "session_minutes": 90,
        "matched_at": "2026-03-02T09:00:00+00:00",
    },
    "RelationshipCompleted": {"relationship_id": str(uuid4()), "match_id": str(uuid4()), "sessions_held": 5},
    "RelationshipClosed": {"relationship_id": str(uuid4()), "match_id": str(uuid4()), "reason": "a mentee withdrew: retired", "sessions_held": 2},
    "FollowUpNoteAdded": {"relationship_id": str(uuid4()), "author_id": str(uuid4()), "note": "Tried the course you suggested."},
    "SessionScheduled": {
        "session_id": str(uuid4()),
        "relationship_id": str(uuid4()),
        "format": "pair",
        "theme": "networking",
        "starts_at": "2026-03-10T14:00:00+01:00",
        "duration_minutes": 90,
        "location": "Room 4.12",
        "video_link": None,
        "participant_ids": [str(uuid4()), str(uuid4())],
    },
    "SessionRescheduled": {
        "session_id": str(uuid4()),
        "relationship_id": str(uuid4()),
        "starts_at": "2026-03-11T14:00:00+01:00",
        "duration_minutes": 120,
        "location": None,
        "video_link": "https://meet.example.com/abc",
        "sequence": 1,
    },
    "SessionCancelled": {"session_id": str(uuid4()), "relationship_id": str(uuid4()), "reason": "the mentor is ill"},
    "AttendanceRecorded": {"session_id": str(uuid4()), "relationship_id": str(uuid4()), "participant_id": str(uuid4()), "present": False},
    "FeedbackGiven": {
        "session_id": str(uuid4()),
        "relationship_id": str(uuid4()),
        "participant_id": str(uuid4()),
        "role": "mentee",
        "rating": 5,
        "comment": "Clear and patient.",
    },
    "SessionHeld": {"session_id": str(uuid4()), "relationship_id": str(uuid4()), "format": "pair", "theme": "networking", "sessions_held": 1},
}


def sample(event_cls: type[IntegrationEvent]) -> IntegrationEvent:
    return event_cls.model_validate(
        {
            "event_id": str(uuid4()),
            "subsidiary_id": "axa-france",
            "occurred_at": datetime.now(UTC),
            "producer": event_cls.PRODUCER,
            "actor": {"subject": "alice", "role": "subsidiary-admin"},
            "correlation_id": "request-1",
            "payload": PAYLOADS[event_cls.type_name()],  # a new event type needs a sample here
        }
    )


@ALL_EVENTS
def test_an_event_on_the_wire_validates_against_its_committed_schema(event_cls: type[IntegrationEvent]) -> None:
    validator = Draft202012Validator(committed(event_cls), format_checker=Draft202012Validator.FORMAT_CHECKER)
    wire = json.loads(encode(sample(event_cls), PersonalDataKeys(MemoryKeyStore()))[1])
    validator.validate(wire)

    with pytest.raises(ValidationError):  # and the schema does constrain
        validator.validate({**wire, "subsidiary_id": "Not A Slug"})


# --- personal data -----------------------------------------------------------------------


def marked_paths(node: dict[str, Any], root: dict[str, Any], path: str = "") -> set[str]:
    """The dotted paths of every schema node marked as personal data, $refs resolved."""
    if "$ref" in node:
        node = {**root["$defs"][node["$ref"].rsplit("/", 1)[1]], **node}
    found = {path} if node.get(PERSONAL_DATA_MARK) else set()
    for name, child in node.get("properties", {}).items():
        found |= marked_paths(child, root, f"{path}.{name}" if path else name)
    for child in [*node.get("anyOf", []), *([node["items"]] if "items" in node else [])]:
        found |= marked_paths(child, root, path)
    return found


# The events that carry a participant's PersonalData; every other event carries none.
PARTICIPANT_EVENTS = {"ParticipantEnrolled", "ParticipantProfileUpdated"}
# Free text written by participants is personal data too.
FREE_TEXT = {
    "FeedbackGiven": {"payload.comment"},
    "FollowUpNoteAdded": {"payload.note"},
    # Free text that can name a person (since schema version 2).
    "ParticipantWithdrawn": {"payload.reason"},
    "MatchDeclined": {"payload.reason"},
    "MatchEnded": {"payload.reason"},
    "MatchMemberLeft": {"payload.reason"},
    "RelationshipClosed": {"payload.reason"},
    "RelationshipMemberLeft": {"payload.reason"},
    "SessionCancelled": {"payload.reason"},
    "SessionScheduled": {"payload.location", "payload.video_link"},
    "SessionRescheduled": {"payload.location", "payload.video_link"},
}
# Whose key seals each piece of free text: the participant's own words their key; what is
# about a match or a relationship (and may quote or name any member) the match's or the
# relationship's key, destroyed when any member is erased.
FREE_TEXT_SUBJECTS = {
    "ParticipantWithdrawn": "payload.participant_id",
    "MatchDeclined": "payload.match_id",
    "MatchEnded": "payload.match_id",
    "MatchMemberLeft": "payload.participant_id",
    "RelationshipClosed": "payload.relationship_id",
    "RelationshipMemberLeft": "payload.participant_id",
    "SessionCancelled": "payload.relationship_id",
    "SessionScheduled": "payload.relationship_id",
    "SessionRescheduled": "payload.relationship_id",
}


@ALL_EVENTS
def test_no_free_text_travels_unsealed(event_cls: type[IntegrationEvent]) -> None:
    """Every free-text string of a payload (not an id, a name of the programme's, an enum or
    a time) is declared personal: it may name a person."""
    free = {
        f"payload.{name}"
        for name, field in event_cls.model_fields["payload"].annotation.model_fields.items()
        if name in ("reason", "location", "video_link", "note", "comment")
    }
    assert free <= set(event_cls.PERSONAL), f"{event_cls.__name__}: {sorted(free - set(event_cls.PERSONAL))} travel in plaintext"
    if event_cls.type_name() in FREE_TEXT_SUBJECTS:
        assert set(event_cls.PERSONAL.values()) == {FREE_TEXT_SUBJECTS[event_cls.type_name()]}
        assert event_cls.version() == 2 and 1 in event_cls.UPCASTERS


@ALL_EVENTS
def test_personal_data_and_only_it_is_marked(event_cls: type[IntegrationEvent]) -> None:
    schema = committed(event_cls)
    expected = (
        {f"payload.personal_data{field}" for field in ("", ".name", ".email", ".birth_year", ".manager_email")}
        if event_cls.type_name() in PARTICIPANT_EVENTS
        else FREE_TEXT.get(event_cls.type_name(), set())
    )
    assert marked_paths(schema, schema) == expected
    # Every marked value is declared with whose it is, so that it is sealed with their key.
    assert set(event_cls.PERSONAL) == {path for path in expected if path != "payload.personal_data"}
    for name, field in schema["properties"].items():
        resolved = schema["$defs"][field["$ref"].rsplit("/", 1)[1]] if "$ref" in field else field
        assert PERSONAL_DATA_MARK not in resolved, f"envelope field {name} is marked as personal data"


# --- compatibility rules -----------------------------------------------------------------


class ParticipantWithdrawnPayload(BaseModel):
    """The compatibility rules' specimen: ParticipantWithdrawn as it was at version 1 (a plain
    string reason; version 2 seals it)."""

    participant_id: UUID
    role: enrolment.Role
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ParticipantWithdrawn(enrolment.ParticipantWithdrawn):
    PERSONAL: ClassVar[dict[str, str]] = {}
    UPCASTERS: ClassVar[dict[int, Any]] = {}
    schema_version: Literal[1] = 1  # type: ignore[assignment]
    payload: ParticipantWithdrawnPayload  # type: ignore[assignment]


class NarrowerRole(StrEnum):
    MENTEE = "mentee"


class WiderRole(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    OBSERVER = "observer"


def withdrawn(drop: tuple[str, ...] = (), **fields: Any) -> type[IntegrationEvent]:
    """ParticipantWithdrawn with its payload changed: fields dropped, replaced or added."""
    base = ParticipantWithdrawnPayload
    kept = {name: (info.annotation, info) for name, info in base.model_fields.items() if name not in drop}
    payload = create_model(base.__name__, __base__=BaseModel, **{**kept, **fields})
    return create_model(ParticipantWithdrawn.__name__, __base__=ParticipantWithdrawn, payload=(payload, ...))


def reason(**constraints: Any) -> Any:
    return (Annotated[str, Field(**{"min_length": 1, "max_length": 500, **constraints})], ...)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        pytest.param(lambda: withdrawn(drop=("reason",)), "payload.reason: property removed", id="removed field"),
        pytest.param(lambda: withdrawn(urgent=(bool, ...)), "payload.urgent: new required property", id="new required"),
        pytest.param(lambda: withdrawn(reason=(int, ...)), "payload.reason: type changed", id="type change"),
        pytest.param(
            lambda: withdrawn(reason=reason(max_length=200)),
            "payload.reason: maxLength tightened from 500 to 200",
            id="tightened maxLength",
        ),
        pytest.param(
            lambda: withdrawn(reason=reason(pattern=r"^\w")), "payload.reason: pattern '^\\\\w' added", id="pattern"
        ),
        pytest.param(
            lambda: withdrawn(role=(NarrowerRole, ...)),
            "payload.role: enum values ['mentor'] removed",
            id="enum value removed",
        ),
        pytest.param(
            lambda: withdrawn(role=(WiderRole, ...)),
            "payload.role: enum values ['observer'] added",
            id="enum value added",
        ),
        pytest.param(
            lambda: withdrawn(participant_id=(str, ...)), "payload.participant_id: format 'uuid' removed", id="format"
        ),
    ],
)
def test_breaking_changes_are_flagged(variant: Any, expected: str) -> None:
    problems = incompatibilities(current_schema(ParticipantWithdrawn), current_schema(variant()))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_changed_const_is_flagged() -> None:
    renamed = create_model("Withdrawn", __base__=ParticipantWithdrawn, type=(Literal["Withdrawn"], "Withdrawn"))
    assert incompatibilities(current_schema(ParticipantWithdrawn), current_schema(renamed)) == [
        "type: const changed from 'ParticipantWithdrawn' to 'Withdrawn'"
    ]


def test_an_optional_field_becoming_required_is_flagged() -> None:
    optional = withdrawn(note=(str | None, None))
    required = withdrawn(note=(str | None, ...))
    assert incompatibilities(current_schema(optional), current_schema(required)) == [
        "payload.note: became required (old producers may omit it)"
    ]


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda: withdrawn(note=(str | None, Field(default=None, max_length=100))), id="optional field"),
        pytest.param(lambda: withdrawn(reason=reason(description="Why, in a sentence")), id="description"),
        pytest.param(lambda: withdrawn(reason=reason(examples=["moved"], title="Why")), id="title and examples"),
    ],
)
def test_compatible_changes_are_not_flagged(variant: Any) -> None:
    old, new = current_schema(ParticipantWithdrawn), current_schema(variant())
    assert old != new
    assert incompatibilities(old, new) == []


# --- regenerating ------------------------------------------------------------------------


def test_write_refuses_a_breaking_change_to_a_committed_version(tmp_path: Path) -> None:
    path = schema_path(ParticipantWithdrawn, root=tmp_path)
    assert write([ParticipantWithdrawn], root=tmp_path) == [path]
    assert write([ParticipantWithdrawn], root=tmp_path) == []
    before = path.read_text(encoding="utf-8")

    breaking = withdrawn(drop=("reason",))
    other = EVENT_TYPES["MentorCertified"]
    with pytest.raises(IncompatibleSchemaChange, match="payload.reason: property removed"):
        write([other, breaking], root=tmp_path)
    assert path.read_text(encoding="utf-8") == before
    assert not schema_path(other, root=tmp_path).exists()  # refusing writes nothing at all

    [problem] = check([breaking], root=tmp_path)
    assert "needs schema_version 2" in problem and "payload.reason: property removed" in problem


def test_write_applies_a_compatible_change(tmp_path: Path) -> None:
    write([ParticipantWithdrawn], root=tmp_path)
    compatible = withdrawn(note=(str | None, None))
    [problem] = check([compatible], root=tmp_path)
    assert "make schemas" in problem
    assert write([compatible], root=tmp_path) == [schema_path(ParticipantWithdrawn, root=tmp_path)]
    assert check([compatible], root=tmp_path) == []


def test_a_new_version_keeps_the_history(tmp_path: Path) -> None:
    write([ParticipantWithdrawn], root=tmp_path)
    v1 = schema_path(ParticipantWithdrawn, root=tmp_path)
    v2_event = create_model(
        ParticipantWithdrawn.__name__, __base__=withdrawn(drop=("reason",)), schema_version=(Literal[2], 2)
    )
    assert check([v2_event], root=tmp_path) == [
        f"ParticipantWithdrawn v2: schema {tmp_path / 'enrolment/ParticipantWithdrawn.v2.json'} is missing: "
        "run `make schemas` (python -m contracts.schemas)"
    ]
    assert write([v2_event], root=tmp_path) == [schema_path(v2_event, root=tmp_path)]
    assert v1.exists()
    assert check([v2_event], root=tmp_path) == []

    v1.unlink()
    [problem] = check([v2_event], root=tmp_path)
    assert problem.startswith("ParticipantWithdrawn v1:") and "earlier version is missing" in problem
