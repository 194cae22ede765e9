"""Every integration event type, by name: how consumers turn a message back into a model."""

from contracts import enrolment, matching, sessions
from contracts.envelope import IntegrationEvent

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {cls.type_name(): cls for cls in (*enrolment.EVENTS, *matching.EVENTS, *sessions.EVENTS)}


class UnknownEventType(ValueError):
    pass


def event_type(name: str) -> type[IntegrationEvent]:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise UnknownEventType(f"unknown event type {name!r}") from None
