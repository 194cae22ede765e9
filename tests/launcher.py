"""`tandem up` and the other commands as a user types them, for the end-to-end tests."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from support import free_ports

SERVICES = ("enrolment", "matching", "sessions")
WEB = (*SERVICES, "console")  # what answers HTTP once `tandem up` is up


def tandem(*args: str) -> list[str]:
    """The installed console script."""
    return [str(Path(sys.executable).with_name("tandem")), *args]


class TandemUp:
    """`tandem up` on free loopback ports, with its own home and topic prefix."""

    def __init__(self, home: Path, topic_prefix: str) -> None:
        names = ("broker", *WEB)
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.env = {
            **os.environ,
            "TANDEM_HOME": str(home),
            **{f"{name.upper()}_PORT": str(self.ports[name]) for name in WEB},
            "TANDEM_TOPIC_PREFIX": topic_prefix,
        }
        self.env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # `tandem up` launches its own broker
        self.env.pop("TANDEM_SECRET", None)  # generated into TANDEM_HOME, shared with `tandem token`
        self.urls = {name: f"http://127.0.0.1:{self.ports[name]}" for name in WEB}
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['broker']}"

    def start(self, timeout: float = 60.0) -> str:
        """Start it and wait for "Tandem is up"; returns what it printed until then. What it
        prints afterwards keeps being collected in `output` (see `wait_for_output`)."""
        self.process = subprocess.Popen(
            tandem("up", "--broker-port", str(self.ports["broker"])), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            self.output.append(line)
            if "Tandem is up" in line or self.process.poll() is not None:
                break
        text = "".join(self.output)
        assert "Tandem is up" in text, text
        self._reader = threading.Thread(target=self._read, name="tandem-up-output", daemon=True)
        self._reader.start()
        return text

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def wait_for_output(self, text: str, after: int = 0, timeout: float = 60.0) -> str:
        """Wait until a line printed after the first `after` lines holds `text`; returns that line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output[after:]:
                if text in line:
                    return line
            assert time.monotonic() < deadline, f"`tandem up` never printed {text!r}:\n" + "".join(self.output)
            time.sleep(0.1)

    def child_pid(self, name: str) -> int:
        """The pid of a process `tandem up` started: "broker", or a service's name."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as children:
            pids = [int(pid) for pid in children.read().split()]
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    argv = cmdline.read().decode().split("\0")
            except FileNotFoundError:
                continue
            if (name == "broker" and argv[1:2] == ["broker"]) or f"services.{name}" in argv:
                return pid
        raise AssertionError(f"`tandem up` runs no {name} process")

    def stop(self) -> str:
        """Ctrl-C; returns what it printed while stopping, once it has exited cleanly."""
        assert self.process is not None
        printed = len(self.output)
        self.process.send_signal(signal.SIGINT)
        if self._reader is None:  # it never came up: nobody reads its output yet
            self.output.append(self.process.communicate(timeout=30)[0])
        else:
            self.process.wait(timeout=30)
            self._reader.join(10)
        rest = "".join(self.output[printed:])
        assert self.process.returncode == 0, "".join(self.output)
        assert "Tandem stopped." in rest
        return rest

    def run(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Another `tandem` command with the same environment."""
        return subprocess.run(tandem(*args), env=self.env, capture_output=True, text=True, timeout=timeout)
