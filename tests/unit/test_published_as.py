"""Each service's table of what it publishes: every field of a contract's payload comes from
the stored event, by name, or from what the table says the event names otherwise. A contract
field added without its source fails here, not as a message refused at publishing time."""

import typing
import uuid

import pytest

from services.common.publishing import PublishedAs
from services.matching.publishing import PUBLISHED_AS as MATCHING
from services.sessions.publishing import PUBLISHED_AS as SESSIONS

TABLES = {**{("matching", k): v for k, v in MATCHING.items()}, **{("sessions", k): v for k, v in SESSIONS.items()}}


class _Stored:
    """A stand-in stored event with every declared field, for `named_otherwise` to read."""

    def __init__(self, kind: type) -> None:
        self.__dict__.update(dict.fromkeys(typing.get_type_hints(kind)))
        self.originator_id = uuid.uuid4()
        self.proposal: dict[str, typing.Any] = {"mentor_id": None, "mentee_ids": [], "score": 0}


@pytest.mark.parametrize(("service", "kind"), list(TABLES), ids=lambda key: key if isinstance(key, str) else key.__qualname__)
def test_every_field_of_the_contract_has_a_source(service: str, kind: type) -> None:
    published: PublishedAs = TABLES[(service, kind)]
    payload = published.contract.model_fields["payload"].annotation
    assert isinstance(payload, type)
    wanted = set(payload.model_fields)  # type: ignore[attr-defined]
    named = set(typing.get_type_hints(kind)) | set(published.named_otherwise(_Stored(kind)))
    assert wanted <= named, f"{kind.__qualname__} -> {published.contract.__name__}: no source for {sorted(wanted - named)}"


def test_an_event_not_in_the_table_is_not_published() -> None:
    from services.sessions.domain import Agenda
    from services.sessions.publishing import to_integration_event

    booked = Agenda.Booked.__new__(Agenda.Booked)
    assert to_integration_event(booked) is None
