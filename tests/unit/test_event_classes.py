"""The aggregates' events are declared as classes (so that mypy knows them) and named in
`@event(TheClass)`: each must have its method's parameters as its fields, in order and with
the same types, and keep the name and topic its stored events have."""

import inspect

import pytest
from eventsourcing.domain import BaseAggregate, CommandMethodDecorator
from eventsourcing.utils import get_topic

import services.enrolment.domain
import services.matching.domain
import services.sessions.domain

MODULES = (services.enrolment.domain, services.matching.domain, services.sessions.domain)
AGGREGATES = [
    value
    for module in MODULES
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, BaseAggregate) and value.__module__ == module.__name__
]
COMMANDS = [
    pytest.param(aggregate, command, id=f"{aggregate.__name__}.{name}")
    for aggregate in AGGREGATES
    for name, command in vars(aggregate).items()
    if isinstance(command, CommandMethodDecorator)
]


def test_every_domain_module_has_aggregates_with_events() -> None:
    assert {a.__module__ for a in AGGREGATES} == {m.__name__ for m in MODULES}
    assert len(COMMANDS) >= 50


@pytest.mark.parametrize(("aggregate", "command"), COMMANDS)
def test_an_event_is_declared_with_its_methods_parameters(aggregate: type, command: CommandMethodDecorator) -> None:
    declared = command.given_event_cls
    assert declared is not None, "name the event's class in @event, not its name: mypy cannot see a class made from a string"
    method = command.decorated_func
    parameters = list(inspect.signature(method).parameters.values())[1:]  # not self
    if method.__name__ == "__init__":
        parameters = [p for p in parameters if p.name != "id"]  # the aggregate's id, never a field
    fields = declared.__dict__.get("__annotations__", {})
    assert list(fields) == [p.name for p in parameters]
    assert fields == {p.name: p.annotation for p in parameters}


@pytest.mark.parametrize(("aggregate", "command"), COMMANDS)
def test_an_event_keeps_the_name_and_topic_of_its_stored_events(aggregate: type, command: CommandMethodDecorator) -> None:
    declared = command.given_event_cls
    assert declared is not None
    event = getattr(aggregate, declared.__name__)  # the library's subclass of the declared class
    assert issubclass(event, declared)
    assert event.__qualname__ == f"{aggregate.__name__}.{declared.__name__}"
    assert get_topic(event) == f"{aggregate.__module__}:{aggregate.__name__}.{declared.__name__}"
