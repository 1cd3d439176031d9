"""Browser fixtures for the storefront: headless Chromium against the live server.

Chromium is Debian's (``/usr/bin/chromium``, or ``CHROMIUM``); Playwright only drives it, so
nothing is downloaded. Tests that use ``page`` run with a transactional database, because the
live server answers from another thread.
"""

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Page, sync_playwright
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Muted autoplay is allowed anyway; this also covers a page that calls play() on its own.
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def page(transactional_db: None, live_server: LiveServer, settings: Settings) -> Iterator[Page]:
    """A fresh headless Chromium page; the live server sees the test's media files.

    Function-scoped and set up after the database fixtures, so Playwright's event loop is gone
    again before pytest-django flushes the database (Django refuses ORM calls on a thread with
    a running asyncio loop). Uncaught JavaScript errors on the page fail the test.
    """
    if not Path(CHROMIUM).is_file():
        message = f"No Chromium at {CHROMIUM} (set CHROMIUM to its path)."
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        # A fixed zone, so tests can check what the component sends.
        page = browser.new_page(
            viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin"
        )
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
        finally:
            browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def in_thread(work: Callable[[], object]) -> None:
    """Run ORM work off the test thread.

    While a Playwright page is open this thread has a running asyncio loop, and Django refuses
    ORM calls from it (SynchronousOnlyOperation).
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the ORM work did not finish in 60 s"
    if failure:
        raise failure[0]
