"""Browser tests: Playwright (sync API) driving Debian's chromium, never a downloaded browser.

TANDEM_TEST_CHROMIUM names the executable (default /usr/bin/chromium). Where it is missing the
tests are skipped, except under CI (the CI variable set), where that is a failure: CI installs
it (.ci/run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from launcher import TandemUp

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("TANDEM_TEST_CHROMIUM", "/usr/bin/chromium")
# Playwright adds --headless itself (headless=True). No sandbox: the tests run as root here.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/browser is an integration test (a real browser process)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """One headless chromium for the session, launched from Debian's package."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"no chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies or storage shared between tests)."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TandemUp]:
    """One `tandem up` (broker, services, console) for every browser test: each test file
    works in subsidiaries of its own, so none sees another's participants."""
    up = TandemUp(tmp_path_factory.mktemp("browser-home"), "browser")
    up.start()
    try:
        yield up
    finally:
        up.stop()
