"""`tandem up`'s supervisor on real child processes: a dead one is reaped and started again,
with a pause that grows while it keeps dying and starts over once it stayed up."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from infra import supervisor
from infra.supervisor import Child, Supervisor, backoff, describe_exit
from support import wait_for


def test_the_pause_doubles_up_to_a_cap():
    assert [backoff(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff(0, first=6) == 6 and backoff(9, first=6) == 30
    assert describe_exit(-9) == "exited with signal 9 (SIGKILL)"
    assert describe_exit(3) == "exited with code 3"


class Sleeper:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process else None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_a_killed_child_is_reaped_and_started_again_and_its_backoff_resets_once_it_stayed_up(monkeypatch):
    monkeypatch.setattr(supervisor, "STABLE_SECONDS", 0.5)
    sleeper = Sleeper()
    sleeper.start()
    lines: list[str] = []
    said = threading.Condition()

    def say(line: str) -> None:
        with said:
            lines.append(line)
            said.notify_all()

    def wait_for_lines(count: int) -> None:
        with said:
            assert said.wait_for(lambda: len(lines) >= count, timeout=30), lines

    child = Child("sleeper", sleeper.start, sleeper.exit_code, sleeper.stop)
    stop = threading.Event()
    watcher = threading.Thread(target=Supervisor([child], say, first_delay=0.1).run, args=(stop,))
    watcher.start()
    try:
        first = sleeper.process.pid
        os.kill(first, signal.SIGKILL)
        wait_for_lines(2)
        assert lines == ["sleeper exited with signal 9 (SIGKILL); restarting in 0.1 s", "sleeper is back (restart 1)"]
        assert not Path(f"/proc/{first}").exists()  # reaped
        assert sleeper.exit_code() is None and sleeper.process.pid != first

        os.kill(sleeper.process.pid, signal.SIGKILL)  # again at once: a longer pause
        wait_for_lines(4)
        assert lines[2:] == ["sleeper exited with signal 9 (SIGKILL); restarting in 0.2 s", "sleeper is back (restart 2)"]

        wait_for(lambda: child.failures == 0)  # up longer than STABLE_SECONDS: well again
        os.kill(sleeper.process.pid, signal.SIGKILL)
        wait_for_lines(6)
        assert lines[4:] == ["sleeper exited with signal 9 (SIGKILL); restarting in 0.1 s", "sleeper is back (restart 3)"]
    finally:
        stop.set()
        watcher.join(10)
        sleeper.stop()
