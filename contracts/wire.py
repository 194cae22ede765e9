"""How an integration event is laid out in a Kafka message.

Key: the subsidiary id (keeps each subsidiary's events in order on one partition).
Headers: type, schema_version, event_id, subsidiary_id; never personal data.
Value: the event as UTF-8 JSON.
"""

import json

from contracts.envelope import IntegrationEvent
from contracts.registry import event_type

Headers = list[tuple[str, bytes]]


def encode(event: IntegrationEvent) -> tuple[bytes, bytes, Headers]:
    headers = [
        ("type", event.type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("event_id", str(event.event_id).encode()),
        ("subsidiary_id", event.subsidiary_id.encode()),
    ]
    return event.subsidiary_id.encode(), event.model_dump_json().encode(), headers


def decode(value: bytes) -> IntegrationEvent:
    """Parse a message value into its event model; raises ValueError on anything malformed."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("an event must be a JSON object")
    return event_type(str(data.get("type"))).model_validate(data)
