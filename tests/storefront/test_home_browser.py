"""The demo home page in a real browser: headless Chromium against the live server.

The other storefront tests read the HTML; these check what only a browser shows: that the page's
script finds the videos, that Chromium decodes the H.264 files the renderer writes, and that a
card showing "Rendering…" switches to the video once it is ready, without a reload.
"""

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Locator, Page, expect, sync_playwright
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from catalog.models import Product
from catalog.services import merchant_create
from personalization.context import ShopperContext
from rendering.models import Video
from rendering.services import segment_render, video_assemble, video_request
from tests.factories import make_product

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("small_videos")]


@pytest.fixture
def page(transactional_db: None, live_server: LiveServer, settings: Settings) -> Iterator[Page]:
    """A fresh headless Chromium page; the live server sees the test's media files.

    Function-scoped and set up after the database fixtures, so Playwright's event loop is gone
    again before pytest-django flushes the database (Django refuses ORM calls on a thread with
    a running asyncio loop).
    """
    if not Path(CHROMIUM).is_file():
        message = f"No Chromium at {CHROMIUM} (set CHROMIUM to its path)."
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    # DEBUG is False in the test settings, so serve MEDIA_ROOT through a test-only urlconf.
    settings.ROOT_URLCONF = "tests.storefront.media_urls"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
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


def render_generic(product: Product) -> None:
    """The product's generic 16:9 video, rendered and assembled in-process (no worker)."""
    request = video_request(product=product, context=ShopperContext(), aspect="16:9")
    for segment in request.segments:
        segment_render(segment=segment)
    video = video_assemble(video=request.video)
    assert video.status == Video.Status.READY, video.error


@pytest.fixture
def shop(settings: Settings) -> tuple[Product, Product]:
    """The demo shop with two products; neither has a video yet."""
    products: list[Product] = []

    def create() -> None:
        merchant = merchant_create(
            name="Northwind Outfitters", slug=settings.SCENECART_DEMO_MERCHANT
        )
        products.append(
            make_product(merchant, sku="JACKET", title="Stormline Rain Jacket", price="129.00")
        )
        products.append(
            make_product(
                merchant, sku="MUG", title="Campfire Enamel Mug", price="18.00", color="#2E86AB"
            )
        )

    in_thread(create)
    return products[0], products[1]


def card(page: Page, sku: str) -> Locator:
    return page.locator(f'article.product[data-sku="{sku}"]')


def test_home_page_plays_the_ready_video_and_shows_the_pending_one(
    page: Page, live_server: LiveServer, shop: tuple[Product, Product]
) -> None:
    jacket, _ = shop
    in_thread(lambda: render_generic(jacket))

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Stormline Rain Jacket")).to_be_visible()
    expect(page.get_by_role("heading", name="Campfire Enamel Mug")).to_be_visible()

    video = card(page, "JACKET").locator("video")
    expect(video).to_be_visible()
    expect(video).to_have_attribute("src", re.compile(r"\.mp4$"))
    video.evaluate("v => v.play()")
    # Playback advancing proves Chromium fetched and decoded the H.264 file.
    page.wait_for_function(
        "() => document.querySelector('article.product[data-sku=\"JACKET\"] video')"
        ".currentTime > 0.3",
        timeout=10_000,
    )

    pending = card(page, "MUG")
    expect(pending.locator("video")).to_be_hidden()
    expect(pending.locator(".status-text")).to_be_visible()
    # Nothing was ever requested for the mug: the card says so instead of waiting forever.
    expect(pending.locator(".status-text")).to_have_text("Not generated yet")
    page.screenshot(path="/tmp/home.png", full_page=True)

    # Picking a shopper whose variant was never made keeps the generic video playing and says so.
    jacket_card = card(page, "JACKET")
    jacket_card.get_by_role("tab", name="Rainy · minimalist").click()
    expect(jacket_card.locator(".variant-note")).to_have_text("Not generated yet (showing generic)")
    expect(video).to_be_visible()


def test_pending_card_switches_to_the_video_once_it_is_ready(
    page: Page, live_server: LiveServer, shop: tuple[Product, Product]
) -> None:
    _, mug = shop
    # The mug's video is queued (no worker runs here, so it stays pending until we render it).
    in_thread(lambda: video_request(product=mug, context=ShopperContext(), aspect="16:9"))
    page.goto(live_server.url + "/")
    pending = card(page, "MUG")
    expect(pending.locator(".status-text")).to_have_text("Rendering this variant…")
    expect(pending.locator("video")).to_be_hidden()

    in_thread(lambda: render_generic(mug))

    # The script polls with a backoff from 1.5 s, capped at 8 s.
    video = pending.locator("video")
    expect(video).to_be_visible(timeout=20_000)
    expect(video).to_have_attribute("src", re.compile(r"\.mp4$"))
    expect(pending.locator(".status")).to_be_hidden()
