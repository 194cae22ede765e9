"""The platform's services as processes: how to start one, know it is up, and stop it."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_variable: str
    default_port: int


# Later services join this list; `tandem up` starts every one of them.
SERVICES = [
    ServiceSpec("enrolment", "services.enrolment", "ENROLMENT_PORT", 8001),
    ServiceSpec("matching", "services.matching", "MATCHING_PORT", 8002),
    ServiceSpec("sessions", "services.sessions", "SESSIONS_PORT", 8003),
]
# The web console: no store of its own, a client of the services above (started after them).
CONSOLE = ServiceSpec("console", "services.console", "CONSOLE_PORT", 8000)


def url_variable(spec: ServiceSpec) -> str:
    """Where the console finds a service: ENROLMENT_URL, ..."""
    return f"{spec.name.upper()}_URL"


class ServiceProcess:
    """One service running as its own operating-system process on 127.0.0.1."""

    def __init__(self, spec: ServiceSpec, port: int, env: dict[str, str], log: IO[bytes] | Path | None = None):
        self.spec = spec
        self.port = port
        self.env = {**env, spec.port_variable: str(port)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ServiceProcess":
        out: IO[bytes] | int | None
        if isinstance(self.log, Path):
            out = self.log.open("ab")
        else:
            out = self.log
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.spec.module],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
            )
        finally:
            if isinstance(self.log, Path) and out is not None and not isinstance(out, int):
                out.close()  # the child has its own copy; a restart must not leak one per start
        self.wait_until_healthy(timeout)
        return self

    def wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with code {self.process.returncode} while starting")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.spec.name} did not answer on {self.url} within {timeout:.0f}s")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_code(self) -> int | None:
        """How it ended (negative: the signal), reaping it; None while it runs."""
        return self.process.poll() if self.process is not None else None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: the service stops its relay and closes its store cleanly."""
        if not self.is_running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash."""
        if self.is_running():
            assert self.process is not None
            self.process.kill()
            self.process.wait()
