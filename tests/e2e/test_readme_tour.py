"""The README's first tour, run as written against `tandem up`: every shell block of
"### A first tour" (up to the next "## " heading), in order, in one shell as a user pastes
them, each of its steps succeeding; then what the tour says it did is there."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from launcher import TandemUp

pytestmark = [pytest.mark.integration, pytest.mark.sqlite, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
# The tour's addresses are `tandem up`'s default ports; the test's platform runs on free ones.
PORTS = {"8000": "console", "8001": "enrolment", "8002": "matching", "8003": "sessions"}


def tour_blocks(readme: str) -> list[str]:
    """The shell code blocks from "### A first tour" up to the next level-2 heading."""
    start = readme.index("\n### A first tour")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    return [m.group(1) for m in re.finditer(r"^```(?:sh|bash|shell)\n(.*?)^```", section, re.S | re.M)]


def test_the_tour_is_its_shell_blocks_and_each_block_can_fail(tmp_path):
    blocks = tour_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 3 and "tandem token" in blocks[0]
    assert not any(re.search(r"<[a-z][a-z ]*>", block) for block in blocks), "a placeholder a user would have to replace"
    # The runner stops at the first failing command and names its block.
    result = run_blocks(["true", "false\necho never", "echo nor this"], tmp_path, dict(os.environ))
    assert result.failed == 2 and "never" not in result.output


class Ran:
    def __init__(self, failed: int | None, output: str) -> None:
        self.failed, self.output = failed, output


def run_blocks(blocks: list[str], workdir: Path, env: dict[str, str], timeout: float = 360) -> Ran:
    """One bash, as one terminal: the blocks' variables and functions carry on; `set -e` and
    curl's --fail-with-body (a ~/.curlrc) make a failing step fail its block."""
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    (home / ".curlrc").write_text("fail-with-body\nshow-error\n")
    script = ["set -eo pipefail"]
    for number, block in enumerate(blocks, 1):
        path = workdir / f"block-{number}.sh"
        path.write_text(block)
        script += [f"echo {number} > {workdir / 'started'}", f"source {path}"]
    script.append(f"echo done > {workdir / 'started'}")
    (workdir / "started").unlink(missing_ok=True)
    ran = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=workdir, env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=timeout
    )
    started = (workdir / "started").read_text().strip() if (workdir / "started").exists() else "0"
    failed = None if ran.returncode == 0 and started == "done" else int(started) if started.isdigit() else 0
    return Ran(failed, ran.stdout + ran.stderr)


@pytest.fixture
def platform(tmp_path: Path):
    up = TandemUp(tmp_path / "home", "e2e-tour")
    try:
        up.start()
        yield up
    finally:
        up.stop()


def test_the_readme_tour_runs_from_top_to_bottom_as_written(platform: TandemUp, tmp_path: Path):
    # A fresh clone's directory, as the tour expects it: .venv (make up's) and examples/.
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / ".venv").symlink_to(Path(sys.executable).parent.parent)  # the virtualenv running the tests
    (clone / "examples").symlink_to(ROOT / "examples")
    blocks = [
        re.sub(r"(localhost|127\.0\.0\.1):(800[0-3])", lambda m: platform.urls[PORTS[m.group(2)]].removeprefix("http://"), block)
        for block in tour_blocks((ROOT / "README.md").read_text())
    ]
    ran = run_blocks(blocks, clone, platform.env)
    assert ran.failed is None, f"block {ran.failed} of the tour failed:\n{blocks[(ran.failed or 1) - 1]}\n--- output:\n{ran.output}"

    # What the tour says it did.
    token = platform.run("token", "--role", "group-admin").stdout.strip()
    api = {name: httpx.Client(base_url=platform.urls[name], headers={"Authorization": f"Bearer {token}"}, timeout=30) for name in PORTS.values()}
    base = "/subsidiaries/axa-france"
    subsidiary = api["enrolment"].get(base).json()
    assert subsidiary["programme"]["mentor_capacity"] == 4 and subsidiary["programme"]["min_age_gap"] == 5
    people = api["enrolment"].get(f"{base}/participants", params={"limit": 1000}).json()
    in_the_file = (ROOT / "examples" / "people.csv").read_text().splitlines()[1:]
    assert len(people) >= 1 + len(in_the_file)  # Zoé Martin, then the file
    assert {p["email"] for p in people} >= {line.split(",")[2] for line in in_the_file} | {"zoe.martin@axa.example"}
    assert all(p["status"] == "certified" for p in people if p["role"] == "mentor")

    runs_matches = api["matching"].get(f"{base}/matches").json()
    assert runs_matches and all(m["status"] == "active" for m in runs_matches)

    dashboard = api["sessions"].get(f"{base}/dashboard").json()
    assert dashboard["sessions"]["held"] >= 1 and dashboard["sessions"]["scheduled"] >= 1, dashboard
    assert dashboard["relationships"]["active"] + dashboard["relationships"]["completed"] == len(runs_matches)
    assert (clone / "invitation.ics").read_text().startswith("BEGIN:VCALENDAR")
