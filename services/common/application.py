"""What every service's eventsourcing Application has in common."""

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.application import Application, Cache, LRUCache, ProcessingEvent
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.utils import Environment, EnvType

from services.common.chain import UNPLACED, Placement
from services.common.errors import Conflict, Reason
from services.common.files import is_sqlite_file, private_sqlite_file
from services.common.personal_data import PersonalDataKeys, SealingMapper
from services.common.view import LogFollowingView

RETRIES = 5


class TrackingPOPOApplicationRecorder(POPOApplicationRecorder):
    """The library's in-memory recorder, keeping the ids of consumed events applied as the
    stores' recorders do (chain.py), for applications run in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.consumed: set[str] = set()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super().insert_events(stored_events, **kwargs)  # raises, and keeps nothing, on a conflict
        self.consumed.update(event_id for event_id, _ in kwargs.get("consumed") or [])
        return notification_ids

    def applied(self, event_ids: Collection[str]) -> set[str]:
        return self.consumed.intersection(event_ids)


class ServiceApplication(Application[UUID]):
    """An Application that tells whoever listens (its relay) when new events are stored, so
    they are published at once rather than at the relay's next poll."""

    # The personal fields of each stored event class, and whose they are: {event class:
    # {dotted path in the event: dotted path of the participant id}} (personal_data.py).
    personal_data: ClassVar[Mapping[type, Mapping[str, str]]] = {}
    # Aggregates its commands read through the repository's cache rather than through a view
    # (matching's MatchBook): replay folds them from the log and compares them with what the
    # cache serves.
    read_through_cache: ClassVar[tuple[type[Aggregate], ...]] = ()

    # Set by construct_mapper: the relay publishes, and the audit shows, values as sealed.
    mapper: SealingMapper
    keys: PersonalDataKeys

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_saved: Callable[[], None] = lambda: None

    def views(self) -> tuple[LogFollowingView, ...]:
        """The read models that follow this application's own log: caught up before the
        service answers its first request, and rebuilt and compared by replay."""
        return ()

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        # The SQLite event store file is made 0600 before the library's factory opens it.
        dbname = env.get("SQLITE_DBNAME")
        if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and dbname and is_sqlite_file(dbname):
            private_sqlite_file(dbname)
        return super().construct_factory(env)

    def construct_recorder(self) -> ApplicationRecorder:
        if isinstance(self.factory, POPOFactory):  # in memory (unit tests): consumed events tracked too
            return TrackingPOPOApplicationRecorder()
        return super().construct_recorder()

    def construct_mapper(self) -> SealingMapper:
        # Personal data is sealed with its participant's own key in the stored events; the
        # relay and the consumer use the same keys on Kafka.
        self.keys = PersonalDataKeys.from_env(self.env)
        return SealingMapper(
            self.construct_transcoder(),
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
            keys=self.keys,
            personal=self.personal_data,
        )

    def forget_participant(self, participant_id: str | UUID) -> None:
        """This process learnt that the participant is erased: their key is never used here
        again, and no aggregate kept in memory holds their data in plaintext any more."""
        self.keys.forget(participant_id)
        cache = self.repository.cache
        if cache is not None:  # a fresh one: aggregates are loaded again, as they read now
            self.repository.cache = LRUCache(cache.maxsize) if isinstance(cache, LRUCache) else Cache()

    def close(self) -> None:
        super().close()
        self.keys.close()

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        environment = super().construct_env(name, env)
        # Every event is stored with its link in its subsidiary's hash chain (chain.py).
        chained = {
            "eventsourcing.sqlite": "services.common.chain:ChainedSQLiteApplicationRecorder",
            "eventsourcing.postgres": "services.common.chain:ChainedPostgresApplicationRecorder",
        }.get(environment.get("PERSISTENCE_MODULE") or "")
        if chained and not environment.get("APPLICATION_RECORDER_TOPIC"):
            environment["APPLICATION_RECORDER_TOPIC"] = chained
        return environment

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Any]:  # the library's hook
        # Tell the recorder which subsidiary's chain each event joins, and when it happened.
        processing_event.saved_kwargs["placements"] = [
            Placement(self.subsidiary_of(e, processing_event.aggregates.get(e.originator_id)), cast(CanMutateAggregate[UUID], e).timestamp)
            for e in processing_event.events  # the library types them by a protocol without the timestamp they all have
        ]
        return super()._record(processing_event)

    @staticmethod
    def subsidiary_of(domain_event: Any, aggregate: Any) -> str:
        """Every event's context names its subsidiary; an aggregate without one knows it."""
        context = getattr(domain_event, "context", None)
        if isinstance(context, dict) and context.get("subsidiary_id"):
            return str(context["subsidiary_id"])
        return str(getattr(aggregate, "subsidiary_id", None) or UNPLACED)

    def _notify(self, recordings: list[Any]) -> None:  # the library's hook, called after each save
        super()._notify(recordings)
        self.on_saved()

    @staticmethod
    def retrying(command: Callable[[], Any]) -> Any:
        """Run a load-change-save command; if another change to the same aggregates came
        first (optimistic concurrency), run it again on the new state, where it may then be
        refused."""
        for attempt in range(RETRIES):
            try:
                return command()
            except IntegrityError:
                if attempt == RETRIES - 1:
                    raise Conflict(Reason("changed_meanwhile", "the records kept changing meanwhile; nothing was recorded, try again")) from None
        return None
