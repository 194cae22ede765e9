"""`tandem up` supervises what it starts: a broker or a service that dies is reaped, started
again, said so in its output, and shown in /healthz while it is away. Real processes, killed
with SIGKILL as in a crash."""

import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from launcher import TandemUp
from support import HEADER, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.sqlite, pytest.mark.timeout(240)]

SLUG = "supervised"


def mentee(n: int) -> str:
    return f"mentee,Mentee {n},mentee{n}@{SLUG}.com,1970,Finance,Lyon,fr,networking,,tue-pm\n"


def enrol(enrolment: httpx.Client, n: int) -> None:
    imported = enrolment.post(f"/subsidiaries/{SLUG}/participants/import", content=HEADER + mentee(n), headers={"Content-Type": "text/csv"})
    assert imported.json() == {"imported": 1}, imported.text


def waiting_mentees(matching: httpx.Client) -> set[str]:
    response = matching.get(f"/subsidiaries/{SLUG}/pool")
    return {m["name"] for m in response.json()["mentees"]} if response.status_code == 200 else set()


def health(url: str) -> dict:
    try:
        return httpx.get(f"{url}/healthz", timeout=10).json()
    except httpx.HTTPError:
        return {"status": "unreachable"}


def test_a_killed_broker_and_a_killed_service_come_back_and_health_says_so_meanwhile(tmp_path: Path):
    up = TandemUp(tmp_path / "home", "e2e-supervised")
    # A pause long enough for the outage to be seen in /healthz (the default is 1 s).
    up.env["TANDEM_RESTART_BACKOFF_SECONDS"] = "6"
    try:
        text = up.start()
        token = re.search(r"^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$", text, re.MULTILINE).group(1)
        headers = {"Authorization": f"Bearer {token}"}
        enrolment = httpx.Client(base_url=up.urls["enrolment"], headers=headers, timeout=30)
        matching = httpx.Client(base_url=up.urls["matching"], headers=headers, timeout=30)
        assert enrolment.post("/subsidiaries", json={"id": SLUG, "name": SLUG, "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
        assert enrolment.put(f"/subsidiaries/{SLUG}/programme", json={"mentor_capacity": 2}).status_code == 200
        enrol(enrolment, 1)
        wait_for(lambda: waiting_mentees(matching) == {"Mentee 1"}, timeout=60)
        assert health(up.urls["enrolment"])["status"] == "ok"

        # The broker crashes.
        printed = len(up.output)
        broker = up.child_pid("broker")
        os.kill(broker, signal.SIGKILL)
        assert "signal 9" in up.wait_for_output("broker exited", printed)
        assert not Path(f"/proc/{broker}").exists()  # reaped: no zombie left behind

        # Health tells the truth while it is away, in each service and in the console.
        report = wait_for(lambda: (r := health(up.urls["enrolment"]))["status"] == "degraded" and r, timeout=30)
        assert report["broker"]["ok"] is False and report["broker"]["last_error"]
        console = wait_for(lambda: (r := health(up.urls["console"]))["status"] == "degraded" and r, timeout=30)
        assert console["services"]["enrolment"]["status"] == "degraded"

        # A participant enrolled while the broker is down is stored, and published later.
        enrol(enrolment, 2)

        assert "restart 1" in up.wait_for_output("broker is back", printed)
        for service in ("enrolment", "matching", "sessions", "console"):
            wait_for(lambda s=service: health(up.urls[s])["status"] == "ok", timeout=90)
        assert health(up.urls["enrolment"])["broker"]["outages"] == 1

        # And one enrolled after it is back: the new (empty) broker got its topics again and
        # the relays published their logs again; matching knows everyone, nobody twice.
        enrol(enrolment, 3)
        wait_for(lambda: waiting_mentees(matching) == {"Mentee 1", "Mentee 2", "Mentee 3"}, timeout=90)
        assert len(matching.get(f"/subsidiaries/{SLUG}/pool").json()["mentees"]) == 3

        # A service crashes: it comes back and answers, with what it knew.
        printed = len(up.output)
        os.kill(up.child_pid("matching"), signal.SIGKILL)
        assert "signal 9" in up.wait_for_output("matching exited", printed)
        assert "restart 1" in up.wait_for_output("matching is back", printed, timeout=90)
        assert waiting_mentees(matching) == {"Mentee 1", "Mentee 2", "Mentee 3"}
        enrol(enrolment, 4)
        wait_for(lambda: "Mentee 4" in waiting_mentees(matching), timeout=60)
    finally:
        up.stop()
