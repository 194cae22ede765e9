"""The browser harness itself: Debian's chromium loads a page from a loopback server, runs its
script on a click, and the screenshot helper writes a PNG."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from artifacts import screenshot

PAGE = """<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Smoke</title></head>
<body>
  <h1 id="status">Waiting</h1>
  <form id="greet">
    <label for="name">Name</label> <input id="name" name="name">
    <button type="submit">Greet</button>
  </form>
  <script>
    document.getElementById("greet").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = document.getElementById("name").value;
      document.getElementById("status").textContent = `Hello, ${name} (${navigator.language})`;
    });
  </script>
</body>
</html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The page above, served on a free loopback port from a thread."""
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_click_runs_the_page_script_and_screenshot_is_saved(page: Page, site: str) -> None:
    page.goto(site)
    expect(page.locator("#status")).to_have_text("Waiting")

    page.fill("#name", "Ada")
    page.get_by_role("button", name="Greet").click()

    expect(page.locator("#status")).to_have_text("Hello, Ada (en-GB)")
    path = screenshot(page, "browser-smoke")
    assert path.is_file()
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000
