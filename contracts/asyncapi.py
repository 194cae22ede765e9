"""The AsyncAPI 3.0 document of the platform's events, for the teams that consume the topics.

`contracts/asyncapi.json` is generated from the contracts by the command that writes the JSON
Schemas (`python -m contracts.schemas`, `make schemas`) and checked with them (`--check`).
Channels are the topics (contracts/topics.py), with the topic prefix as a parameter; messages
are the events, one per schema version, whose payloads are the committed JSON Schemas
(`$ref` to contracts/schemas/, so the document reads beside them); Kafka bindings give the key.
tests/unit/test_asyncapi.py checks it with the AsyncAPI project's parser and against the code.
"""

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from contracts.envelope import PERSONAL_DATA_MARK, IntegrationEvent
from contracts.registry import EVENT_TYPES
from contracts.schemas import schema_path
from contracts.topics import CONSUMES, DEFAULT_PREFIX, Topics
from contracts.types import SubsidiaryId

DOCUMENT_PATH = Path(__file__).parent / "asyncapi.json"
SEALED_PATTERN = '"pattern": "^sealed:'  # how a sealed token's schema reads (contracts/personal.py)
ASYNCAPI_VERSION = "3.0.0"
# The version of the interface this document describes (the events keep their own schema_version).
DOCUMENT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
# The committed schemas declare JSON Schema 2020-12 but use only keywords that draft-07 reads
# the same way (`$defs` is reached by JSON pointer); draft-07 is the JSON Schema format
# AsyncAPI 3.0 defines, and the one its parser validates payloads with.
PAYLOAD_FORMAT = "application/schema+json;version=draft-07"
# Where the prefix goes in a channel's address: Topics builds the names, the parameter fills it.
PREFIX_PARAMETER = "prefix"
ADDRESSES = Topics("{" + PREFIX_PARAMETER + "}")
# Headers every event message carries (contracts/wire.py), checked by consumers (contracts/provenance.py).
EVENT_HEADERS = ("type", "schema_version", "event_id", "subsidiary_id")
# What a consumer adds to a message it parks (services/common/consumer.py), besides its own headers.
DEAD_LETTER_HEADERS = {
    "tandem-dead-letter-reason": "Why the consumer could not apply the message (at most 2,000 characters; never a value of the message)",
    "tandem-source-topic": "The topic the message came on",
    "tandem-source-partition": "Its partition there, in decimal",
    "tandem-source-offset": "Its offset there, in decimal",
    "tandem-consumer-group": "The consumer group that parked it",
}
# The signed checkpoint's fields (services/common/checkpoints.py, Checkpoint.as_json).
CHECKPOINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "AuditCheckpoint",
    "description": (
        "The head of one audit log (a service's chain of one subsidiary) signed with the platform's Ed25519 key "
        "over the other fields and the format `tandem.audit.checkpoint/1` (`tandem audit verify --public-key` checks it)."
    ),
    "properties": {
        "service": {"type": "string", "description": "The service whose chain this is"},
        "log": {"type": "string", "description": "The log: the subsidiary id (also the message key)"},
        "position": {"type": "integer", "minimum": 1, "description": "The head's position in the log"},
        "hash": {"type": "string", "description": "The head link's SHA-256, hex"},
        "at": {"type": "string", "format": "date-time", "description": "When it was signed (UTC)"},
        "key_id": {"type": "string", "description": "The first 16 hex digits of the SHA-256 of the raw public key"},
        "signature": {"type": "string", "pattern": "^[0-9a-f]+$", "description": "Ed25519 signature, hex"},
    },
    "required": ["service", "log", "position", "hash", "at", "key_id", "signature"],
    "additionalProperties": False,
}
AUDIT_READER = "tandem audit"  # export and verify --live read the checkpoints (infra/audit.py)

Document = dict[str, Any]


def _subsidiary_id(description: str) -> dict[str, Any]:
    # Inline, not a $ref: a draft-07 reader ignores the keywords beside a $ref, the description too.
    return {**TypeAdapter(SubsidiaryId).json_schema(mode="serialization"), "description": description}


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(path)}


def message_id(cls: type[IntegrationEvent], version: int) -> str:
    return f"{cls.type_name()}.v{version}"


def _versions(cls: type[IntegrationEvent]) -> range:
    # Every version ever published stays readable: topics keep their messages forever.
    return range(1, cls.version() + 1)


def _producers() -> list[str]:
    return sorted({cls.PRODUCER for cls in EVENT_TYPES.values()})


def _events_of(service: str) -> list[type[IntegrationEvent]]:
    return [cls for cls in EVENT_TYPES.values() if cls.PRODUCER == service]


def _channel_id(topic_template: str) -> str:
    return topic_template.removeprefix(ADDRESSES.prefix + ".")


def _kafka(**fields: Any) -> dict[str, Any]:
    return {"kafka": {**fields, "bindingVersion": KAFKA_BINDING_VERSION}}


def _event_message(cls: type[IntegrationEvent], version: int) -> dict[str, Any]:
    name = cls.type_name()
    if version == cls.version():
        status = f"The version {cls.PRODUCER} publishes now."
    else:
        read = (
            "Tandem's consumers upcast it to the current version before applying it."
            if version in cls.UPCASTERS
            else "Tandem's consumers cannot upcast it: they park it as a dead letter."
        )
        status = (
            f"An earlier version: no longer published, but messages of it may remain on the topic (unlimited "
            f"retention) for a consumer reading from the start. {read}"
        )
    schema_file = f"./schemas/{cls.PRODUCER}/{name}.v{version}.json"
    # What the committed schema of that version says of personal data (sealing came with a later version).
    committed = schema_path(cls, version=version).read_text(encoding="utf-8")
    if SEALED_PATTERN in committed:
        personal = f" Fields marked `{PERSONAL_DATA_MARK}` travel sealed (`sealed:<n>:...`) with a participant's key, null once erased."
    elif PERSONAL_DATA_MARK in committed:
        personal = f" Fields marked `{PERSONAL_DATA_MARK}` are personal data, in plaintext in this version."
    else:
        personal = ""
    return {
        "name": name,
        "title": f"{name} v{version}",
        "summary": f"{name}, schema version {version}, published by {cls.PRODUCER}.",
        "description": (
            f"{status} The value is the event as UTF-8 JSON ({schema_file}).{personal}"
        ),
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "description": "Kafka headers, UTF-8 text; never personal data. Each is there once and agrees with the body.",
            "properties": {
                "type": {"type": "string", "const": name, "description": "The body's `type`"},
                "schema_version": {"type": "string", "const": str(version), "description": "The body's `schema_version`, in decimal"},
                "event_id": {"type": "string", "format": "uuid", "description": "The body's `event_id`: deduplicate by it"},
                "subsidiary_id": _subsidiary_id("The body's `subsidiary_id`"),
            },
            "required": list(EVENT_HEADERS),
        },
        "payload": {"schemaFormat": PAYLOAD_FORMAT, "schema": {"$ref": schema_file}},
        "correlationId": {
            "description": "Shared by every event of one request or flow",
            "location": "$message.payload#/correlation_id",
        },
        "bindings": _kafka(key=_subsidiary_id("The subsidiary id: its events stay in order on one partition")),
    }


def _events_channel(service: str) -> dict[str, Any]:
    readers = sorted(reader for reader, producers in CONSUMES.items() if service in producers)
    return {
        "address": ADDRESSES.of(service),
        "title": f"{service} events",
        "description": (
            f"Every integration event the {service} service records, published by its relay after the event is stored "
            "(republished with the same `event_id` after a crash: deduplicate by it, not by offset). "
            f"Read in Tandem by {', '.join(readers) or 'no other service'}; other teams read it with their own consumer group."
        ),
        "parameters": {PREFIX_PARAMETER: _ref("components", "parameters", PREFIX_PARAMETER)},
        "messages": {message_id(cls, v): _ref("components", "messages", message_id(cls, v)) for cls in _events_of(service) for v in _versions(cls)},
        "bindings": _kafka(topicConfiguration={"retention.ms": -1}),
    }


def _dead_letters_channel(service: str) -> dict[str, Any]:
    return {
        "address": ADDRESSES.dead_letters(service),
        "title": f"{service} dead letters",
        "description": (
            f"Where {service} parks a message it cannot apply (not JSON, an unknown `type`, a `schema_version` newer than it "
            "reads, fields that break the contract, or one that does not agree with its topic, key or headers), "
            "before committing its offsets. Fix the producer, then replay the parked messages onto the source topic if they matter."
        ),
        "parameters": {PREFIX_PARAMETER: _ref("components", "parameters", PREFIX_PARAMETER)},
        "messages": {"DeadLetter": _ref("components", "messages", "DeadLetter")},
        "bindings": _kafka(topicConfiguration={"retention.ms": -1}),
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "A parked message",
        "summary": "A message a consumer could not apply, kept as it came with the reason.",
        "description": "The original key, value and headers, unchanged, plus the `tandem-` headers below.",
        "headers": {
            "type": "object",
            "properties": {name: {"type": "string", "description": text} for name, text in DEAD_LETTER_HEADERS.items()},
            "required": list(DEAD_LETTER_HEADERS),
            "additionalProperties": {"description": "The original message's own headers"},
        },
        "payload": {"schemaFormat": PAYLOAD_FORMAT, "schema": {"description": "The original value, byte for byte (possibly not JSON)"}},
        "bindings": _kafka(key={"type": "string", "description": "The original key, unchanged (possibly absent)"}),
    }


def _checkpoint_message() -> dict[str, Any]:
    return {
        "name": "AuditCheckpoint",
        "title": "A signed checkpoint of an audit chain",
        "summary": "The head of one subsidiary's audit log in one service, signed.",
        "contentType": "application/json",
        "payload": {"schemaFormat": PAYLOAD_FORMAT, "schema": CHECKPOINT_SCHEMA},
        "bindings": _kafka(key=_subsidiary_id("The log: the subsidiary id")),
    }


def _operation(action: str, channel: str, messages: list[str], *, by: str, title: str, description: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": _ref("channels", channel),
        "title": title,
        "description": description,
        "tags": [{"name": by}],
        "messages": [_ref("channels", channel, "messages", m) for m in messages],
    }


def document() -> Document:
    """The AsyncAPI document as the contracts define it now, as plain JSON data."""
    producers = _producers()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for service in producers:
        channel = _channel_id(ADDRESSES.of(service))
        channels[channel] = _events_channel(service)
        for cls in _events_of(service):
            for version in _versions(cls):
                messages[message_id(cls, version)] = _event_message(cls, version)
        operations[f"{service}.send.{channel}"] = _operation(
            "send",
            channel,
            [message_id(cls, cls.version()) for cls in _events_of(service)],
            by=service,
            title=f"{service} publishes its events",
            description=f"The {service} service's relay publishes each stored event (the current schema versions) and records its position only once the broker acknowledged it.",
        )
    for reader, sources in CONSUMES.items():
        for source in sources:
            channel = _channel_id(ADDRESSES.of(source))
            operations[f"{reader}.receive.{channel}"] = _operation(
                "receive",
                channel,
                list(channels[channel]["messages"]),
                by=reader,
                title=f"{reader} applies {source}'s events",
                description=(
                    f"The {reader} service applies each event at most once (by `event_id`), in the same transaction as its effects, "
                    "then commits its offsets; what it cannot read or what disagrees with its topic it parks on its dead-letter topic."
                ),
            )
        channel = _channel_id(ADDRESSES.dead_letters(reader))
        channels[channel] = _dead_letters_channel(reader)
        operations[f"{reader}.send.{channel}"] = _operation(
            "send",
            channel,
            ["DeadLetter"],
            by=reader,
            title=f"{reader} parks what it cannot apply",
            description=f"The {reader} service's consumer, for each message it cannot apply, waiting for the broker's acknowledgement.",
        )
    checkpoints = _channel_id(ADDRESSES.audit_checkpoints)
    channels[checkpoints] = {
        "address": ADDRESSES.audit_checkpoints,
        "title": "audit checkpoints",
        "description": (
            "Signed heads of every service's audit chains, published now and then where each service's relay runs: "
            "outside the databases, so that a rewritten or cut history shows (README, Audit)."
        ),
        "parameters": {PREFIX_PARAMETER: _ref("components", "parameters", PREFIX_PARAMETER)},
        "messages": {"AuditCheckpoint": _ref("components", "messages", "AuditCheckpoint")},
        "bindings": _kafka(topicConfiguration={"retention.ms": -1}),
    }
    for service in producers:
        operations[f"{service}.send.{checkpoints}"] = _operation(
            "send", checkpoints, ["AuditCheckpoint"], by=service, title=f"{service} signs its audit chains' heads",
            description="Every 100 events or 60 s (TANDEM_CHECKPOINT_EVERY_EVENTS, TANDEM_CHECKPOINT_SECONDS), and once more when it stops.",
        )
    operations[f"audit.receive.{checkpoints}"] = _operation(
        "receive", checkpoints, ["AuditCheckpoint"], by=AUDIT_READER, title="auditors read a subsidiary's checkpoints",
        description="`tandem audit export` carries them in an export; `tandem audit verify --live` checks a chain against them.",
    )
    messages["DeadLetter"] = _dead_letter_message()
    messages["AuditCheckpoint"] = _checkpoint_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Tandem events",
            "version": DOCUMENT_VERSION,
            "description": (
                "The integration events of Tandem's services on Kafka. One topic per producing service, keyed by "
                "subsidiary id (a subsidiary's events stay in order on one partition); headers `type`, `schema_version`, "
                "`event_id`, `subsidiary_id`; the value is the event as JSON in one envelope. Consumers deduplicate by "
                "`event_id` and refuse a `schema_version` newer than they know. A breaking change is a new "
                "`schema_version`; earlier versions stay described here. Generated from `contracts/` by "
                "`python -m contracts.schemas`."
            ),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "tags": [{"name": name} for name in [*producers, AUDIT_READER]],
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The platform's Kafka cluster (the embedded broker of `tandem up` by default).",
                "variables": {"bootstrap": {"default": "127.0.0.1:9092", "description": "KAFKA_BOOTSTRAP_SERVERS"}},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "parameters": {
                PREFIX_PARAMETER: {
                    "default": DEFAULT_PREFIX,
                    "description": "TANDEM_TOPIC_PREFIX: another prefix runs a second platform on the same cluster",
                }
            },
            "messages": messages,
        },
    }
