"""The envelope every integration event travels in, and how personal data is marked."""

from collections.abc import Callable
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.types import SubsidiaryId

# Every field holding personal data carries this mark in its JSON Schema, so that tools can
# find it; events also declare whose it is (PERSONAL), to seal it with that person's key.
PERSONAL_DATA_MARK = "x-personal-data"


def personal(description: str, **kwargs: Any) -> Any:
    """A pydantic Field marked as personal data."""
    return Field(description=description, json_schema_extra={PERSONAL_DATA_MARK: True}, **kwargs)


def bound_tokens(data: dict[str, Any]) -> dict[str, Any]:
    """The upcaster to the version whose tokens may be `sealed:2:` (bound to their participant,
    field and subsidiary: contracts/personal.py): the same fields, the next version."""
    return {**data, "schema_version": data["schema_version"] + 1}


class Actor(BaseModel):
    """Who caused the event: the subject of the token and the role it acted in."""

    model_config = ConfigDict(frozen=True)

    subject: Annotated[str, Field(min_length=1, max_length=200)]
    role: Annotated[str, Field(description="group-admin, subsidiary-admin, auditor or system")]


class IntegrationEvent(BaseModel):
    """Base of every published event. Subclasses fix `type`, `schema_version` and `payload`."""

    model_config = ConfigDict(frozen=True)

    # The name of the service that publishes events of this type.
    PRODUCER: ClassVar[str] = ""
    # Personal values and whose they are: {dotted path: dotted path of the participant id}
    # (contracts/personal.py). On the wire they are sealed with that participant's key.
    PERSONAL: ClassVar[dict[str, str]] = {}
    # How a message of an earlier schema_version becomes one of the next: {version: function}.
    UPCASTERS: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}

    event_id: UUID = Field(description="Stable identity of the event: consumers deduplicate by it")
    type: str
    schema_version: int
    subsidiary_id: SubsidiaryId
    occurred_at: AwareDatetime = Field(description="When the event was recorded, in UTC")
    producer: str = Field(description="The service that recorded the event")
    actor: Actor
    correlation_id: str = Field(max_length=128, description="Shared by every event of one request or flow")
    causation_id: str | None = Field(default=None, max_length=128, description="The command or event that caused this one")
    payload: BaseModel

    @classmethod
    def type_name(cls) -> str:
        return cls.model_fields["type"].default

    @classmethod
    def version(cls) -> int:
        return cls.model_fields["schema_version"].default

