"""`tandem up` and `tandem token` as a user runs them: real broker, real service processes."""

import os
import re
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from launcher import TandemUp, tandem
from support import TopicReader, events_of

pytestmark = [pytest.mark.integration, pytest.mark.sqlite, pytest.mark.timeout(120)]  # the embedded default: SQLite


def test_tandem_up_runs_the_platform_prints_a_token_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    up = TandemUp(tmp_path / "home", "e2e")
    try:
        text = up.start()
        for url in up.urls.values():
            assert url in text
        token = re.search(r"^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$", text, re.MULTILINE).group(1)
        headers = {"Authorization": f"Bearer {token}"}

        with TopicReader(up.bootstrap, "e2e.enrolment.events") as topic:
            api = httpx.Client(base_url=up.urls["enrolment"], headers=headers)
            response = api.post("/subsidiaries", json={"id": "axa-fr", "name": "AXA France", "timezone": "Europe/Paris", "locale": "fr-FR"})
            assert response.status_code == 201
            assert [e.type for e in events_of(topic.read_count(2))] == ["SubsidiaryOnboarded", "ProgrammeConfigured"]

        # Matching and sessions, started by the same command, learn of the subsidiary from the topic.
        deadline = time.monotonic() + 30
        for url in (f"{up.urls['matching']}/subsidiaries/axa-fr/pool", f"{up.urls['sessions']}/subsidiaries/axa-fr/dashboard"):
            while httpx.get(url, headers=headers).status_code != 200:
                assert time.monotonic() < deadline, f"{url}: the service never learnt of the subsidiary"
                time.sleep(0.2)

        # `tandem token` signs with the same secret the running services use.
        admin = up.run("token", "--role", "subsidiary-admin", "--subsidiary", "axa-fr").stdout.strip()
        mine = httpx.get(f"{up.urls['enrolment']}/subsidiaries", headers={"Authorization": f"Bearer {admin}"})
        assert [s["id"] for s in mine.json()] == ["axa-fr"]

        # Only its owner may enter the home it made, or read the stores and secrets in it.
        home = tmp_path / "home"
        private = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir() if p.is_file() and not p.name.endswith(".log")}
        assert {"secret", "keys-wrapping-key", "keys.db", "enrolment.db", "matching.db", "sessions.db"} <= set(private)
        assert private == dict.fromkeys(private, 0o600)
        assert stat.S_IMODE(home.stat().st_mode) == stat.S_IMODE((home / "logs").stat().st_mode) == 0o700
    finally:
        up.stop()
    # Everything it started is gone: every port is free again.
    for url in up.urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", up.ports["broker"])) != 0


def test_tandem_token_refuses_inconsistent_requests(tmp_path: Path):
    env = {**os.environ, "TANDEM_HOME": str(tmp_path)}
    result = subprocess.run(tandem("token", "--role", "subsidiary-admin"), env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "needs a subsidiary" in result.stderr
