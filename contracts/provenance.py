"""Whether a decoded event may have come from where it arrived: the consumer's own check.

The event class and the tenant come from the message's body; nothing in the body proves who
wrote it. So before a consumer applies an event it checks that the message agrees with
itself and with the topic it came on:

- the topic is a service's events topic (`<prefix>.<service>.events`), and the event's type
  is one that service produces (contracts' registry: each class's PRODUCER);
- the body's `producer` is that service;
- the record's key is the body's `subsidiary_id` (the wire's key, contracts/wire.py);
- the headers `type`, `schema_version`, `event_id` and `subsidiary_id` are there, once each,
  and agree with the body (a header's `schema_version` may be an earlier version the type
  upcasts from: the body was upcast while decoding).

Anything else raises `ProvenanceError`, whose text names the check that failed and never a
value from the message (only the topic, the producing service, the type and the body's
subsidiary id, all validated or configured). This stops a message bent by mistake or by a
careless writer, not a forger who can write on the topic and knows the format: that takes
the broker's authentication and ACLs.
"""

from collections.abc import Iterable

from contracts.envelope import IntegrationEvent
from contracts.registry import EVENT_TYPES
from contracts.topics import producing_service

# The services that produce events: {service: the names of the types it produces}.
PRODUCED_BY: dict[str, frozenset[str]] = {
    service: frozenset(name for name, cls in EVENT_TYPES.items() if cls.PRODUCER == service)
    for service in {cls.PRODUCER for cls in EVENT_TYPES.values()}
}

HEADERS = ("type", "schema_version", "event_id", "subsidiary_id")


class ProvenanceError(ValueError):
    """The message does not agree with the topic it came on, or with itself."""


def check_provenance(
    event: IntegrationEvent, *, topic: str, key: bytes | None, headers: Iterable[tuple[str, bytes]] | None
) -> None:
    """Raise ProvenanceError unless `event` may be applied, having arrived on `topic` with
    this key and these headers."""
    service = producing_service(topic)
    if service not in PRODUCED_BY:
        raise ProvenanceError(f"topic {topic} is not the events topic of a producing service")
    if event.type not in PRODUCED_BY[service]:
        raise ProvenanceError(f"type {event.type} is not produced by {service} (topic {topic})")
    if event.producer != service:
        raise ProvenanceError(f"the producer in the body is not {service}, whose topic {topic} it came on")
    if key != event.subsidiary_id.encode():
        raise ProvenanceError(f"the key does not match the subsidiary in the body ({event.subsidiary_id})")

    found: dict[str, list[bytes]] = {name: [] for name in HEADERS}
    for name, value in headers or ():
        if name in found:
            found[name].append(value)
    expected = {"type": event.type, "event_id": str(event.event_id), "subsidiary_id": event.subsidiary_id}
    for name in HEADERS:
        values = found[name]
        if not values:
            raise ProvenanceError(f"the header {name} is missing")
        if len(values) > 1:
            raise ProvenanceError(f"the header {name} appears {len(values)} times")
        try:
            text = values[0].decode("utf-8") if isinstance(values[0], bytes | bytearray) else None
        except UnicodeDecodeError:
            text = None
        if name == "schema_version":
            agrees = text is not None and _version_agrees(text, event)
        else:
            agrees = text == expected[name]
        if not agrees:
            raise ProvenanceError(f"the header {name} does not match the body")


def _version_agrees(text: str, event: IntegrationEvent) -> bool:
    if not text.isascii() or not text.isdigit():
        return False
    version = int(text)
    cls = type(event)
    # Equal to the body's, or an earlier version the body was upcast from while decoding.
    return version == event.schema_version or (version < cls.version() and version in cls.UPCASTERS)
