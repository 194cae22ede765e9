"""How an integration event is laid out in a Kafka message.

Key: the subsidiary id (keeps each subsidiary's events in order on one partition).
Headers: type, schema_version, event_id, subsidiary_id; never personal data.
Value: the event as UTF-8 JSON, its personal values sealed with their participant's key
(contracts/personal.py): only whoever reaches the key store reads them, and nobody once the
participant is erased.
"""

import json

from pydantic import ValidationError

from contracts.envelope import IntegrationEvent
from contracts.personal import Keys, has_personal_values, open_fields, seal_fields
from contracts.registry import event_type

Headers = list[tuple[str, bytes]]


def encode(event: IntegrationEvent, keys: Keys | None = None) -> tuple[bytes, bytes, Headers]:
    """The message for an event. An event with personal values needs the keys to seal them:
    personal data never goes out in plaintext. Tokens go out as they are: what a relay
    publishes is what its own store sealed."""
    headers = [
        ("type", event.type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("event_id", str(event.event_id).encode()),
        ("subsidiary_id", event.subsidiary_id.encode()),
    ]
    fields = type(event).PERSONAL
    if not fields:
        return event.subsidiary_id.encode(), event.model_dump_json().encode(), headers
    data = event.model_dump(mode="json")
    if keys is None:
        if has_personal_values(data, fields):
            raise ValueError(f"{event.type} carries personal data: encode it with the participants' keys")
    else:
        seal_fields(data, fields, keys, event.subsidiary_id, pass_tokens=True)
    value = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return event.subsidiary_id.encode(), value, headers


def decode(value: bytes, keys: Keys | None = None) -> IntegrationEvent:
    """Parse a message value into its event model, upcasting an earlier schema version;
    raises ValueError on anything malformed, naming where, never quoting a value. The message
    is validated as it came, sealed, before anything in it is opened. Personal values read as
    they are now: the plaintext, or None once erased, if they do not open where they are,
    and without keys."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("an event must be a JSON object")
    cls = event_type(str(data.get("type")))
    version = data.get("schema_version")
    if isinstance(version, int) and version > cls.version():
        # Its producer is newer than this reader: guessing what its fields mean could be wrong.
        raise ValueError(f"{cls.__name__} schema version {version} is newer than the {cls.version()} this service reads")
    while isinstance(version, int) and version in cls.UPCASTERS and version < cls.version():
        data = cls.UPCASTERS[version](data)
        version = data.get("schema_version")
    event = _validated(cls, data)
    if not cls.PERSONAL:
        return event
    open_fields(data, cls.PERSONAL, keys, event.subsidiary_id)
    return _validated(cls, data)  # an opened value must keep the contract too


def _validated(cls: type[IntegrationEvent], data: dict) -> IntegrationEvent:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        # pydantic's own text quotes the input: a reason may be kept (dead letters) and logged.
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(event)'}: {e['type']}" for e in exc.errors(include_url=False))
        raise ValueError(f"{cls.__name__} breaks its contract at {problems}") from None
