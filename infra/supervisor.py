"""What `tandem up` does once everything is up: it watches the processes it started and
brings back any that dies, with a growing pause between attempts, saying so as it goes."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Child", "Supervisor", "backoff", "describe_exit"]

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# A child up this long is well again: its next crash is restarted after FIRST_DELAY.
STABLE_SECONDS = 60.0
TICK = 0.2


def backoff(failures: int, first: float = FIRST_DELAY) -> float:
    """The pause before the next start after ``failures`` deaths in a row: 1, 2, 4 ... 30 s."""
    return min(max(MAX_DELAY, first), first * 2 ** failures)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"exited with signal {-code} ({name})"
    return f"exited with code {code}"


@dataclass
class Child:
    """One process `tandem up` started. ``start`` starts it again and returns once it is
    ready (or raises); ``exit_code`` polls it, which also reaps it (no zombie is left),
    and is None while it runs; ``stop`` clears up whatever is left of it."""

    name: str
    start: Callable[[], None]
    exit_code: Callable[[], int | None]
    stop: Callable[[], None]
    restarts: int = 0
    failures: int = 0  # deaths since it last stayed up STABLE_SECONDS
    started_at: float = field(default_factory=time.monotonic)
    restart_at: float | None = None  # set while it is down


class Supervisor:
    def __init__(self, children: list[Child], say: Callable[[str], None], first_delay: float = FIRST_DELAY) -> None:
        self.children = children
        self.say = say
        self.first_delay = first_delay

    def run(self, stop: threading.Event) -> None:
        """Watch until ``stop`` is set (Ctrl-C, SIGTERM)."""
        while not stop.wait(TICK):
            for child in self.children:
                if stop.is_set():
                    return
                self.tend(child)

    def tend(self, child: Child) -> None:
        now = time.monotonic()
        if child.restart_at is None:
            code = child.exit_code()
            if code is None:
                if child.failures and now - child.started_at >= STABLE_SECONDS:
                    child.failures = 0
                return
            self._schedule(child, describe_exit(code))
        elif now >= child.restart_at:
            try:
                child.start()
            except Exception as exc:  # noqa: BLE001 - it is tried again, later
                child.stop()  # a half-started process must not hold the port for the next try
                self._schedule(child, f"did not start again ({exc})")
            else:
                child.restarts += 1
                child.restart_at = None
                child.started_at = time.monotonic()
                self.say(f"{child.name} is back (restart {child.restarts})")

    def _schedule(self, child: Child, what: str) -> None:
        delay = backoff(child.failures, self.first_delay)
        child.failures += 1
        child.restart_at = time.monotonic() + delay
        self.say(f"{child.name} {what}; restarting in {delay:g} s")
