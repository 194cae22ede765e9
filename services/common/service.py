"""A service, declared once: what sets it apart from the others. Everything built around it
(its API app, its runtime: store, relay, consumer, checkpoints, /healthz, the audit and
replay routes, the relay run alone) is built from this declaration, the same way for each
(`create_service_app` and `ServiceRuntime` in services/common/runtime.py).

Each service declares `SERVICE = Service(...)` in its `api/main.py`."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import APIRouter, Request

from services.common.application import ServiceApplication
from services.common.consuming import ConsumingApplication
from services.common.relay import Translate
from services.common.settings import ServiceSettings

A = TypeVar("A", bound=ServiceApplication)
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Service(Generic[A, S]):
    application: type[A]  # its eventsourcing Application; its `name` names the service
    settings: type[S]  # read from the environment when none are given
    translate: Translate  # a stored domain event -> the contract event published, or None
    routers: tuple[APIRouter, ...]  # its own routes; the audit, replay and health ones are added
    title: str
    description: str
    version: str = "1.0.0"
    # The producers whose topics it reads (contracts.topics.CONSUMES), and the consumer
    # group it reads them in, from its settings: a service that consumes has both.
    consumes: tuple[str, ...] = ()
    consumer_group: Callable[[S], str] | None = None

    def __post_init__(self) -> None:
        if self.consumes and (self.consumer_group is None or not issubclass(self.application, ConsumingApplication)):
            raise TypeError(f"{self.name} consumes {self.consumes}: its application must be a ConsumingApplication, and it needs a consumer group")

    @property
    def name(self) -> str:
        """Also the prefix of its event store's settings, its topic's name and the key of its
        dead-letter topic."""
        return self.application.name


def current_application(request: Request) -> ServiceApplication:
    """The service's application, put on the app's state by its runtime at start. Each
    service types it: `Enrolment = Annotated[EnrolmentApplication, Depends(current_application)]`."""
    application: ServiceApplication = request.app.state.application
    return application
