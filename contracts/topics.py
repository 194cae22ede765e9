"""Topic names, in one place. One topic per producing service; the key is the subsidiary id."""

from dataclasses import dataclass

DEFAULT_PREFIX = "tandem"


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

    def all(self) -> list[str]:
        return [self.enrolment, self.matching, self.sessions]
