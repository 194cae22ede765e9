"""`tandem up` and `tandem token` as a user runs them: real broker, real service processes."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import TopicReader, events_of, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def tandem(*args: str) -> list[str]:
    """The installed console script, as a user types it."""
    return [str(Path(sys.executable).with_name("tandem")), *args]


def test_tandem_up_runs_the_platform_prints_a_token_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    broker_port, enrolment_port, matching_port, sessions_port = free_port(), free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "TANDEM_HOME": str(tmp_path / "home"),
        "ENROLMENT_PORT": str(enrolment_port),
        "MATCHING_PORT": str(matching_port),
        "SESSIONS_PORT": str(sessions_port),
        "TANDEM_TOPIC_PREFIX": "e2e",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # `tandem up` launches its own broker
    up = subprocess.Popen(tandem("up", "--broker-port", str(broker_port)), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert up.stdout is not None
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            output.append(line)
            if "Tandem is up" in line or up.poll() is not None:
                break
        text = "".join(output)
        assert "Tandem is up" in text, text
        for port in (enrolment_port, matching_port, sessions_port):
            assert f"http://127.0.0.1:{port}" in text
        token = re.search(r"^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$", text, re.MULTILINE).group(1)

        with TopicReader(f"127.0.0.1:{broker_port}", "e2e.enrolment.events") as topic:
            api = httpx.Client(base_url=f"http://127.0.0.1:{enrolment_port}", headers={"Authorization": f"Bearer {token}"})
            response = api.post("/subsidiaries", json={"id": "axa-fr", "name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"})
            assert response.status_code == 201
            assert [e.type for e in events_of(topic.read_count(2))] == ["SubsidiaryOnboarded", "ProgrammeConfigured"]

        # Matching and sessions, started by the same command, learn of the subsidiary from the topic.
        deadline = time.monotonic() + 30
        for url in (f"http://127.0.0.1:{matching_port}/subsidiaries/axa-fr/pool", f"http://127.0.0.1:{sessions_port}/subsidiaries/axa-fr/dashboard"):
            while httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code != 200:
                assert time.monotonic() < deadline, f"{url}: the service never learnt of the subsidiary"
                time.sleep(0.2)

        # `tandem token` signs with the same secret the running services use.
        admin = subprocess.run(
            tandem("token", "--role", "subsidiary-admin", "--subsidiary", "axa-fr"), env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        mine = httpx.get(f"http://127.0.0.1:{enrolment_port}/subsidiaries", headers={"Authorization": f"Bearer {admin}"})
        assert [s["id"] for s in mine.json()] == ["axa-fr"]
    finally:
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
    assert up.returncode == 0, "".join(output) + rest
    assert "Tandem stopped." in rest
    # Everything it started is gone: every port is free again.
    for port in (enrolment_port, matching_port, sessions_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", broker_port)) != 0


def test_tandem_token_refuses_inconsistent_requests(tmp_path: Path):
    env = {**os.environ, "TANDEM_HOME": str(tmp_path)}
    result = subprocess.run(tandem("token", "--role", "subsidiary-admin"), env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "needs a subsidiary" in result.stderr
