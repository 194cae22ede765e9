"""The published language of Tandem: integration events, their envelope, topics and wire format.

Services share only this package. Everything here is pure data and pure functions.
"""

from contracts.envelope import Actor, IntegrationEvent
from contracts.registry import EVENT_TYPES, event_type
from contracts.topics import Topics
from contracts.wire import decode, encode

__all__ = ["Actor", "EVENT_TYPES", "IntegrationEvent", "Topics", "decode", "encode", "event_type"]
