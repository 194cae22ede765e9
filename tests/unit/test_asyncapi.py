"""The AsyncAPI document (contracts/asyncapi.json): up to date, accepted by the AsyncAPI project's
own parser (`@asyncapi/parser`, pinned in infra/asyncapi/), and true to the code: every event
class and version, every topic, who sends and who receives what, the key and the headers.

The parser runs under Node: `npm ci` installs it into infra/asyncapi/node_modules (git-ignored)
when it is not there yet. Without node or npm these tests skip, except under CI, where they fail.
"""

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from contracts import asyncapi
from contracts.provenance import HEADERS
from contracts.registry import EVENT_TYPES
from contracts.schemas import SCHEMAS_DIR, check_document, write_document
from contracts.topics import CONSUMES, DEFAULT_PREFIX, Topics
from contracts.types import SubsidiaryId
from infra.topics import TOPIC_CONFIGS
from services.common.checkpoints import Checkpoint, SigningKey
from services.common.consumer import EventConsumer

CHECKER = Path(__file__).resolve().parents[2] / "infra" / "asyncapi"
PINNED = json.loads((CHECKER / "package.json").read_text())["dependencies"]["@asyncapi/parser"]
CURRENT = {asyncapi.message_id(cls, cls.version()) for cls in EVENT_TYPES.values()}
ALL_VERSIONS = {asyncapi.message_id(cls, v) for cls in EVENT_TYPES.values() for v in range(1, cls.version() + 1)}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed: the AsyncAPI parser runs under Node (Debian: apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _installed_version() -> str | None:
    manifest = CHECKER / "node_modules" / "@asyncapi" / "parser" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


def parse(path: Path) -> tuple[int, dict[str, Any]]:
    """The parser's exit status and report (diagnostics, and what it read) for a document."""
    node = _tool("node")
    if _installed_version() != PINNED:
        # --ignore-scripts: nothing of the parser needs an install script (one dependency's is telemetry).
        subprocess.run(
            [_tool("npm"), "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CHECKER, check=True, timeout=240, env={**os.environ, "SCARF_ANALYTICS": "false"},
        )
    done = subprocess.run([node, str(CHECKER / "check.mjs"), str(path)], capture_output=True, text=True, timeout=120)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def parsed() -> dict[str, Any]:
    status, report = parse(asyncapi.DOCUMENT_PATH)
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert status == 0 and not errors, json.dumps(errors, indent=1)
    return report


# --- generated, committed, parsed -----------------------------------------------------------


def test_the_committed_document_is_up_to_date() -> None:
    assert check_document() == []


def test_a_stale_document_is_reported_and_rewritten(tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.json"
    assert check_document(stale) == [f"the AsyncAPI document {stale} is missing: run `make schemas` (python -m contracts.schemas)"]
    stale.write_text(asyncapi.DOCUMENT_PATH.read_text().replace('"3.0.0"', '"2.6.0"'))
    assert "out of date" in check_document(stale)[0]
    assert write_document(stale) is True
    assert check_document(stale) == [] and write_document(stale) is False


def test_the_parser_accepts_it_without_an_error(parsed: dict[str, Any]) -> None:
    assert parsed["parser"] == PINNED
    assert parsed["document"]["asyncapi"] == "3.0.0"
    # Anything above information (errors, warnings) would be news worth reading.
    assert [d for d in parsed["diagnostics"] if d["severity"] not in ("information", "hint")] == []


def test_the_parser_fails_a_broken_document(tmp_path: Path) -> None:
    """The check can fail: an operation sending a message of another channel is refused."""
    shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")  # the payloads' $refs are relative
    doc = asyncapi.document()
    doc["operations"]["enrolment.send.enrolment.events"]["messages"].append({"$ref": "#/channels/matching.events/messages/MatchConfirmed.v1"})
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(doc))
    status, report = parse(broken)
    assert status == 1
    assert [d["code"] for d in report["diagnostics"] if d["severity"] == "error"] == ["asyncapi3-operation-messages-from-referred-channel"]


# --- true to the code -----------------------------------------------------------------------


def test_every_event_class_and_version_is_a_message_with_its_schema(parsed: dict[str, Any]) -> None:
    messages = {m["id"]: m for m in parsed["document"]["messages"]}
    assert set(messages) == ALL_VERSIONS | {"DeadLetter", "AuditCheckpoint"}
    for cls in EVENT_TYPES.values():
        for version in range(1, cls.version() + 1):
            message = messages[asyncapi.message_id(cls, version)]
            committed = json.loads((SCHEMAS_DIR / cls.PRODUCER / f"{cls.type_name()}.v{version}.json").read_text())
            # The parser resolved the payload to the committed schema of that version.
            assert message["name"] == cls.type_name()
            assert message["payload"] == {"title": committed["title"], "properties": sorted(committed["properties"])}
            assert message["headers"] == sorted(HEADERS)


def test_every_topic_is_a_channel(parsed: dict[str, Any]) -> None:
    channels = parsed["document"]["channels"]
    for prefix in (DEFAULT_PREFIX, "acme-test"):
        addresses = [c["address"].replace("{prefix}", prefix) for c in channels]
        assert sorted(addresses) == sorted(Topics(prefix).all())


def test_each_producer_sends_its_current_events_and_each_consumer_receives_what_it_subscribes_to(parsed: dict[str, Any]) -> None:
    from services.enrolment.api.main import service_runtime as enrolment
    from services.matching.api.main import service_runtime as matching
    from services.sessions.api.main import service_runtime as sessions

    topics = Topics()
    address = {c["id"]: c["address"].replace("{prefix}", DEFAULT_PREFIX) for c in parsed["document"]["channels"]}
    channel_messages = {c["id"]: set(c["messages"]) for c in parsed["document"]["channels"]}
    sent: dict[str, set[str]] = {}
    received: dict[str, set[str]] = {}
    for op in parsed["document"]["operations"]:
        (by,), (channel,) = op["tags"], op["channels"]
        (sent if op["action"] == "send" else received).setdefault(by, set()).add(address[channel])
        if op["action"] == "send" and address[channel] == topics.of(by):
            assert set(op["messages"]) == {m for m in CURRENT if EVENT_TYPES[m.split(".")[0]].PRODUCER == by}
        else:  # a reader must be ready for every message the channel may hold
            assert set(op["messages"]) == channel_messages[channel]

    runtimes = {r.name: r for r in (enrolment(), matching(), sessions())}
    assert set(runtimes) == {cls.PRODUCER for cls in EVENT_TYPES.values()}
    for name, runtime in runtimes.items():
        parks = [topics.dead_letters(name)] if runtime.consumes else []
        assert sent[name] == {topics.of(name), topics.audit_checkpoints, *parks}
        assert received.get(name, set()) == set(runtime.consumes)
        assert sorted(runtime.consumes) == sorted(topics.of(s) for s in CONSUMES.get(name, ()))
    assert received[asyncapi.AUDIT_READER] == {topics.audit_checkpoints}


def test_the_key_is_the_subsidiary_id_and_topics_keep_everything(parsed: dict[str, Any]) -> None:
    subsidiary = TypeAdapter(SubsidiaryId).json_schema()
    for message in parsed["document"]["messages"]:
        if message["id"] != "DeadLetter":  # parked as it came: whatever key it had
            assert {k: v for k, v in message["key"].items() if k != "description"} == {k: v for k, v in subsidiary.items() if k != "description"}
    doc = asyncapi.document()
    for channel in doc["channels"].values():
        assert channel["bindings"]["kafka"]["topicConfiguration"] == {k: int(v) for k, v in TOPIC_CONFIGS.items()}


def test_the_checkpoint_schema_is_what_services_publish() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    checkpoint = SigningKey(Ed25519PrivateKey.generate()).sign("matching", "lyon", 7, "ab" * 32)
    assert set(asyncapi.CHECKPOINT_SCHEMA["properties"]) == {f.name for f in dataclasses.fields(Checkpoint)}
    Draft202012Validator(asyncapi.CHECKPOINT_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(checkpoint.as_json())


def test_the_dead_letter_headers_are_those_the_consumer_writes() -> None:
    sent: list[dict[str, Any]] = []

    class Acknowledged:
        def get(self, timeout: float) -> None:
            return None

    class Producer:
        def send(self, topic: str, **message: Any) -> Acknowledged:
            sent.append({"topic": topic, **message})
            return Acknowledged()

    @dataclasses.dataclass
    class Record:
        topic: str = "tandem.enrolment.events"
        partition: int = 2
        offset: int = 41
        key: bytes = b"lyon"
        value: bytes = b"not json"
        headers: tuple = (("type", b"ParticipantEnrolled"),)

    consumer = EventConsumer("unused:9092", [Record.topic], "tandem-matching", lambda events: None, dead_letter_topic="tandem.matching.dead-letters")
    consumer._producer = Producer()
    consumer._park([(Record(), "JSONDecodeError: Expecting value")])
    (message,) = sent
    added = [name for name, _ in message["headers"] if name.startswith("tandem-")]
    assert added == list(asyncapi.DEAD_LETTER_HEADERS)
    assert (message["key"], message["value"]) == (b"lyon", b"not json")


# Keywords whose meaning draft-07 does not share: the payloads are declared draft-07 (PAYLOAD_FORMAT).
_NOT_DRAFT_07 = {"prefixItems", "$dynamicRef", "$dynamicAnchor", "$anchor", "unevaluatedProperties", "unevaluatedItems",
                 "dependentRequired", "dependentSchemas", "contentSchema", "$vocabulary", "minContains", "maxContains"}


def _keywords(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*map(_keywords, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set(node) if not isinstance(node.get("items"), list) else {*node, "items[]"}
    for key, value in node.items():
        if key in ("properties", "$defs"):
            found |= set().union(*map(_keywords, value.values())) if value else set()
        elif key not in ("enum", "const", "examples", "default", "required"):
            found |= _keywords(value)
    return found


def test_the_committed_schemas_read_the_same_as_draft_07() -> None:
    used = set().union(*(_keywords(json.loads(path.read_text())) for path in SCHEMAS_DIR.rglob("*.json")))
    assert used & (_NOT_DRAFT_07 | {"items[]"}) == set()
