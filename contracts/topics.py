"""Topic names, in one place. One topic per producing service; the key is the subsidiary id.
Each consuming service also has a dead-letter topic, where it parks the messages it cannot
read (malformed, an unknown type, a schema version newer than it knows), with the reason.
The services also publish signed checkpoints of their audit chains to one topic, keyed by
subsidiary (services/common/checkpoints.py)."""

from dataclasses import dataclass

DEFAULT_PREFIX = "tandem"
# Which producers' topics each consuming service reads (the services' runtimes subscribe to
# these; tests/unit/test_asyncapi.py checks they agree). The AsyncAPI document says it too.
CONSUMES: dict[str, tuple[str, ...]] = {"matching": ("enrolment", "sessions"), "sessions": ("enrolment", "matching")}
CONSUMING_SERVICES = tuple(CONSUMES)
EVENTS_SUFFIX = ".events"


def producing_service(topic: str) -> str | None:
    """The service whose events topic this is (`<prefix>.<service>.events`, whatever the
    prefix), or None if the name is not an events topic's."""
    if not topic.endswith(EVENTS_SUFFIX):
        return None
    head, _, service = topic[: -len(EVENTS_SUFFIX)].rpartition(".")
    return service if head and service else None


@dataclass(frozen=True)
class Topics:
    # Tests and side-by-side deployments isolate themselves with another prefix.
    prefix: str = DEFAULT_PREFIX

    def of(self, service: str) -> str:
        return f"{self.prefix}.{service}.events"

    @property
    def enrolment(self) -> str:
        return self.of("enrolment")

    @property
    def matching(self) -> str:
        return self.of("matching")

    @property
    def sessions(self) -> str:
        return self.of("sessions")

    def dead_letters(self, service: str) -> str:
        return f"{self.prefix}.{service}.dead-letters"

    @property
    def audit_checkpoints(self) -> str:
        return f"{self.prefix}.audit.checkpoints"

    def all(self) -> list[str]:
        return [self.enrolment, self.matching, self.sessions, *(self.dead_letters(s) for s in CONSUMING_SERVICES), self.audit_checkpoints]
