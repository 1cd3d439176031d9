"""The embed component and the demo shop in a real browser: headless Chromium, live server.

What only a browser shows: that ``<scenecart-video>`` finds and plays the H.264 files the
renderer writes, swaps variants when the shopper changes or their variant finishes rendering,
reports playback to the events API, falls back to the generic video when something fails, and
that the iframe player may be framed by the merchant's own pages and no others.
"""

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db.models import Sum
from django.test import Client
from playwright.sync_api import Page, Route, expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from catalog.models import Merchant, Product
from catalog.services import (
    membership_grant,
    merchant_create,
    merchant_storefront_update,
    product_update,
    shopper_profile_upsert,
)
from personalization.context import ShopperContext
from personalization.services import bucket_policy_update
from rendering.freshness import videos_refresh
from rendering.models import Segment, Video
from rendering.services import segment_render, video_assemble, video_request
from storefront.models import VariantStats
from tests.storefront.conftest import in_thread
from tests.support.factories import make_product, make_ready_video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("small_videos")]

RAINY = "climate=rainy,aesthetic=minimalist"
# The demo's personas as the public product page offers them (place and taste, no profile id).
SEATTLE = "persona-us-wa"
BERLIN = "persona-de"
SUNNY = "climate=sunny,aesthetic=playful"
PLAYER = "document.getElementById('product-video')"
# The <video> in the component's shadow root, once exactly one is there (no swap under way).
SHOWN_SRC = f"""() => {{
  const videos = {PLAYER}.shadowRoot.querySelectorAll('video');
  return videos.length === 1 ? videos[0].getAttribute('src') : null;
}}"""


@dataclass
class DemoShop:
    merchant: Merchant
    jacket: Product
    mug: Product


def rendered(product: Product, context: str = "generic") -> Video:
    """``make_ready_video`` from the test thread while a Playwright page is open."""
    found: list[Video] = []
    in_thread(lambda: found.append(make_ready_video(product, context)))
    return found[0]


def counters(video: Video) -> dict[str, int]:
    totals: dict[str, int] = {}

    def read() -> None:
        fields = ["impressions", "plays", "progress_25", "progress_50", "progress_75"]
        fields += ["completes", "clicks"]
        sums = VariantStats.objects.filter(video=video).aggregate(**{f: Sum(f) for f in fields})
        totals.update({name: value or 0 for name, value in sums.items()})

    in_thread(read)
    return totals


def wait_until(page: Page, check: Callable[[], bool], *, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        page.wait_for_timeout(250)


@pytest.fixture
def demo(settings: Settings) -> DemoShop:
    """The demo shop: two products, a policy that renders two personalized variants and takes
    hints from the page, and three shoppers (one without consent). No videos yet."""
    made: list[DemoShop] = []

    def create() -> None:
        merchant = merchant_create(
            name="Northwind Outfitters", slug=settings.SCENECART_DEMO_MERCHANT
        )
        bucket_policy_update(
            merchant=merchant,
            dimensions=["climate", "aesthetic"],
            approved_buckets=[RAINY, SUNNY],
            allow_public_hints=True,
        )
        jacket = make_product(merchant, sku="JACKET", title="Stormline Rain Jacket")
        mug = make_product(
            merchant, sku="MUG", title="Campfire Enamel Mug", price="18.00", color="#2E86AB"
        )
        shopper_profile_upsert(
            merchant=merchant, external_id="shopper-seattle", country="US", region="WA",
            climate="rainy", aesthetic="minimalist", personalization_consent=True,
        )  # fmt: skip
        shopper_profile_upsert(
            merchant=merchant, external_id="shopper-berlin", country="DE", climate="overcast",
            aesthetic="luxury", personalization_consent=False,
        )  # fmt: skip
        made.append(DemoShop(merchant=merchant, jacket=jacket, mug=mug))

    in_thread(create)
    return made[0]


def expect_shown(page: Page, video: Video, *, timeout: float = 10_000) -> None:
    """The component shows ``video`` alone (no swap under way) and it is playing."""
    page.wait_for_function(
        f"(suffix) => {{ const src = ({SHOWN_SRC})(); return !!src && src.endsWith(suffix); }}",
        arg=video.file.url,
        timeout=timeout,
    )
    # Advancing playback proves Chromium fetched and decoded the H.264 file.
    page.wait_for_function(
        f"() => {PLAYER}.shadowRoot.querySelector('video').currentTime > 0.3", timeout=10_000
    )


def test_product_page_plays_the_video_and_reports_playback(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    with page.expect_request(re.compile(r"/api/v1/videos/demo/JACKET\?")) as lookup:
        page.goto(f"{live_server.url}/shop/demo/JACKET")
    # The browser's clock and a cohort kept for this browser go with the lookup.
    query = parse_qs(urlsplit(lookup.value.url).query)
    assert query["aspect"] == ["16:9"]
    assert query["tz"] == ["Europe/Berlin"]
    assert query["cohort"] == [page.evaluate("localStorage.getItem('scenecart:cohort')")]
    assert 0 <= int(query["cohort"][0]) <= 99
    expect(page.get_by_role("heading", name="Stormline Rain Jacket", level=1)).to_be_visible()
    expect(page.locator(".product-price")).to_have_text("$129.00")

    player = page.locator("#product-video")
    expect(player).to_have_attribute("data-status", "ready")
    expect(player).to_have_attribute("data-variant", "generic")
    expect_shown(page, generic)
    video = player.locator("video")  # Playwright's locators pierce the open shadow root
    expect(video).to_have_js_property("muted", True)
    expect(video).to_have_js_property("loop", True)
    expect(page.locator('[data-field="variant"]')).to_have_text("generic")
    expect(page.locator('[data-field="personalized"]')).to_have_text("no")

    player.click()
    # Impression, play and click arrive with the first batch; the video is 4 s long and loops,
    # so the quartiles and the completion (seen as the wrap-around) follow within seconds.
    wait_until(
        page,
        lambda: all(counters(generic)[name] >= 1 for name in ("impressions", "plays", "clicks")),
        timeout=8,
        message=f"impression, play and click not counted: {counters(generic)}",
    )
    wait_until(
        page,
        lambda: counters(generic)["completes"] >= 1,
        timeout=10,
        message=f"completion not counted: {counters(generic)}",
    )
    totals = counters(generic)
    assert totals["progress_25"] == totals["progress_50"] == totals["progress_75"] == 1, totals
    assert totals["impressions"] == totals["plays"] == totals["completes"] == 1, totals

    # Events still queued when the shopper leaves go out with the page (sendBeacon).
    player.click()
    page.goto(f"{live_server.url}/shop/demo/")
    wait_until(
        page,
        lambda: counters(generic)["clicks"] == 2,
        timeout=5,
        message=f"the click made just before leaving was lost: {counters(generic)}",
    )


def test_switching_the_shopper_swaps_the_variant(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    rainy = rendered(demo.jacket, RAINY)
    sunny = rendered(demo.jacket, SUNNY)
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    player = page.locator("#product-video")
    expect_shown(page, generic)

    shopper = page.locator("#shopper")
    expect(shopper.locator("option")).to_have_count(3)
    expect(shopper.locator(f'option[value="{BERLIN}"]')).to_contain_text(
        "no personalization consent"
    )
    # A demo persona plays as hints: no token on a public page.
    shopper.select_option(SEATTLE)
    expect(player).to_have_attribute("climate", "rainy")
    expect(player).not_to_have_attribute("token", re.compile(".*"))
    expect_shown(page, rainy)
    expect(player).to_have_attribute("data-status", "ready")
    expect(player).to_have_attribute("data-variant", RAINY)
    expect(page.locator('[data-field="personalized"]')).to_have_text("yes")
    # The hint selects are for anonymous visitors only.
    expect(page.locator("select[name=climate]")).to_be_disabled()

    # A shopper who did not consent gets the generic video: correct, not a failure.
    shopper.select_option(BERLIN)
    expect(player).to_have_attribute("consent", "0")
    expect_shown(page, generic)
    expect(player).to_have_attribute("data-variant", "generic")
    expect(page.locator('[data-field="personalized"]')).to_have_text("no")

    shopper.select_option(label="Anonymous visitor")
    expect(page.locator("select[name=climate]")).to_be_enabled()
    page.select_option("select[name=climate]", "sunny")
    page.select_option("select[name=aesthetic]", "playful")
    expect(player).to_have_attribute("climate", "sunny")
    expect_shown(page, sunny)
    expect(player).to_have_attribute("data-variant", SUNNY)
    expect(player).not_to_have_attribute("token", re.compile(".*"))
    page.screenshot(path="/tmp/shop-product.png", full_page=True)


def test_a_signed_in_member_previews_the_shops_own_shopper_by_token(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    rendered(demo.jacket)
    rainy = rendered(demo.jacket, RAINY)
    session: list[str] = []

    def sign_in() -> None:
        user = User.objects.create_user("clerk", password="x", is_staff=True)
        membership_grant(merchant=demo.merchant, user=user)
        client = Client()
        client.force_login(user)
        session.append(client.cookies[django_settings.SESSION_COOKIE_NAME].value)

    in_thread(sign_in)
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session[0], "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    expect(page.locator(".preview")).to_contain_text("Staff preview")
    player = page.locator("#product-video")
    with page.expect_request(lambda request: "st=" in request.url) as lookup:
        page.locator("#shopper").select_option("shopper-seattle")
    expect(player).to_have_attribute("token", re.compile(r".+"))
    expect_shown(page, rainy)
    assert "climate=" not in lookup.value.url, lookup.value.url


def test_a_rendering_variant_plays_the_fallback_then_swaps_in_without_a_reload(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    # Seattle's variant is queued; no worker runs here, so it renders when the test says so.
    in_thread(
        lambda: video_request(
            product=demo.jacket, context=ShopperContext.parse(RAINY), aspect="16:9"
        )
    )
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    player = page.locator("#product-video")
    expect_shown(page, generic)
    page.locator("#shopper").select_option(SEATTLE)
    expect(player).to_have_attribute("data-status", "fallback")
    expect(player).to_have_attribute("data-requested", "rendering")
    expect(page.locator('[data-field="note"]')).to_contain_text("rendering")
    expect_shown(page, generic)

    rainy = rendered(demo.jacket, RAINY)
    # The component polls with backoff from 2 s (×1.6); the swap keeps playback going.
    expect(player).to_have_attribute("data-status", "ready", timeout=15_000)
    expect_shown(page, rainy)
    expect(player).to_have_attribute("data-variant", RAINY)
    expect(page.locator('[data-field="note"]')).to_have_text("")


def test_a_failed_lookup_degrades_to_the_generic_video(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    rendered(demo.jacket, RAINY)
    failed: list[str] = []

    def first_shopper_lookup_fails(route: Route) -> None:
        if "climate=rainy" in route.request.url and not failed:
            failed.append(route.request.url)
            route.fulfill(status=500, content_type="application/json", body='{"error": "boom"}')
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/videos/"), first_shopper_lookup_fails)
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    expect_shown(page, generic)
    with page.expect_request(lambda request: "consent=0" in request.url) as retry:
        page.locator("#shopper").select_option(SEATTLE)
    assert failed, "the shopper's lookup was never made"
    # One more lookup, for the generic video: no hints, no consent.
    assert "climate=" not in retry.value.url, retry.value.url
    player = page.locator("#product-video")
    expect(player).to_have_attribute("data-status", "ready")
    expect(player).to_have_attribute("data-variant", "generic")
    expect_shown(page, generic)


def test_a_broken_personalized_video_degrades_to_the_generic_one(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    rainy = rendered(demo.jacket, RAINY)
    page.route(
        lambda url: url.endswith(rainy.file.url),
        lambda route: route.fulfill(status=404, body="gone"),
    )
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    expect_shown(page, generic)
    with (
        page.expect_request(lambda request: request.url.endswith(rainy.file.url)),
        page.expect_request(lambda request: "consent=0" in request.url),
    ):
        page.locator("#shopper").select_option(SEATTLE)
    player = page.locator("#product-video")
    expect(player).to_have_attribute("data-variant", "generic")
    # The generic video kept playing throughout: the broken one never replaced it.
    expect_shown(page, generic)


def test_the_shop_grid_loads_and_plays_videos_only_near_the_viewport(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    rendered(demo.jacket)

    def more_products() -> None:
        for n in range(8):
            make_product(demo.merchant, sku=f"EXTRA-{n}", title=f"Zz Trail Item {n}")

    in_thread(more_products)
    looked_up: list[str] = []
    page.on(
        "request",
        lambda request: (
            looked_up.append(request.url.split("/api/v1/videos/demo/")[1].split("?")[0])
            if "/api/v1/videos/" in request.url
            else None
        ),
    )
    page.set_viewport_size({"width": 700, "height": 600})
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/shop/demo/")
    jacket = page.locator('.product-card[data-sku="JACKET"] scenecart-video')
    mug = page.locator('.product-card[data-sku="MUG"] scenecart-video')
    expect(jacket).to_have_attribute("data-status", "ready")
    expect(page.locator('.product-card[data-sku="JACKET"] .price')).to_have_text("$129.00")
    # Nothing is ready for the mug: its photo stays in place of a video.
    expect(mug).to_have_attribute("data-status", "pending")
    expect(mug.locator("img")).to_be_visible()
    assert "EXTRA-7" not in looked_up, looked_up
    jacket_video = (
        "document.querySelector('.product-card[data-sku=\"JACKET\"] scenecart-video')"
        ".shadowRoot.querySelector('video')"
    )
    page.wait_for_function(f"() => {jacket_video}.currentTime > 0.3", timeout=10_000)

    page.locator('.product-card[data-sku="EXTRA-7"]').scroll_into_view_if_needed()
    expect(page.locator('.product-card[data-sku="EXTRA-7"] scenecart-video')).to_have_attribute(
        "data-status", "pending"
    )
    assert looked_up.count("EXTRA-7") == 1, looked_up
    # Scrolled out of sight, the jacket's video waits; back in sight, it plays on.
    page.wait_for_function(f"() => {jacket_video}.paused", timeout=5_000)
    jacket.scroll_into_view_if_needed()
    page.wait_for_function(f"() => !{jacket_video}.paused", timeout=5_000)


@contextmanager
def site_framing(player: str) -> Iterator[str]:
    """Another website on this machine, whose page frames ``player``; yields its origin.

    A real server on 127.0.0.1 rather than a Playwright route: Chrome's local network access
    checks refuse a page of unknown address space framing the live server on localhost.
    """
    body = (
        f'<!doctype html><title>Merchant</title><h1>Jacket</h1><iframe src="{player}" '
        'width="640" height="360" allow="autoplay"></iframe>'
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_iframe_player_plays_on_the_merchants_pages_and_nowhere_else(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    player = f"{live_server.url}/embed/demo/JACKET?aspect=16:9"
    with site_framing(player) as shop, site_framing(player) as elsewhere:
        in_thread(
            lambda: merchant_storefront_update(merchant=demo.merchant, storefront_origins=shop)
        )
        page.goto(f"{shop}/product")
        frame = page.frame_locator("iframe")
        expect(frame.locator("scenecart-video")).to_have_attribute("data-status", "ready")
        page.frames[1].wait_for_function(
            "(suffix) => { const v = document.querySelector('scenecart-video')"
            ".shadowRoot.querySelector('video');"
            " return v && v.getAttribute('src').endsWith(suffix) && v.currentTime > 0.3; }",
            arg=generic.file.url,
            timeout=10_000,
        )

        # frame-ancestors names only the merchant's origins: another site gets no player.
        with page.expect_response(player) as answer:
            page.goto(f"{elsewhere}/product")
        assert answer.value.headers["content-security-policy"] == f"frame-ancestors 'self' {shop}"
        # Chrome shows its error page in the frame instead.
        wait_until(
            page,
            lambda: page.frames[1].url.startswith("chrome-error://"),
            timeout=5,
            message=f"the player loaded on {elsewhere}: {page.frames[1].url}",
        )
        expect(frame.locator("scenecart-video")).to_have_count(0)


def test_a_price_change_shows_the_photo_until_the_new_video_then_plays_it(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    old = rendered(demo.jacket)
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    player = page.locator("#product-video")
    expect_shown(page, old)

    in_thread(lambda: product_update(product=demo.jacket, price="99.00"))
    # The next look (a shopper without consent: the generic video, the one made stale).
    page.locator("#shopper").select_option(BERLIN)
    # Nothing fresh yet: no video at all (the product photo shows), never the old price.
    expect(player).to_have_attribute("data-requested", "refreshing")
    expect(player).to_have_attribute("data-status", "pending")
    assert page.evaluate(f"{PLAYER}.shadowRoot.querySelectorAll('video').length") == 0

    def refresh() -> None:
        report = videos_refresh(merchant_id=demo.merchant.pk, product_ids=[demo.jacket.pk])
        for segment in Segment.objects.filter(pk__in=report.segments_queued):
            segment_render(segment=segment)
        video_assemble(video=Video.objects.get(pk=old.pk))

    in_thread(refresh)
    new = in_thread_value(lambda: Video.objects.get(pk=old.pk))
    assert new.file.name != old.file.name
    # The component polls while it refreshes and plays the new video once it is ready.
    expect(player).to_have_attribute("data-status", "ready", timeout=15_000)
    expect_shown(page, new)


def test_an_archived_product_hides_the_player(
    page: Page, live_server: LiveServer, demo: DemoShop
) -> None:
    generic = rendered(demo.jacket)
    page.goto(f"{live_server.url}/shop/demo/JACKET")
    player = page.locator("#product-video")
    expect_shown(page, generic)

    in_thread(lambda: product_update(product=demo.jacket, status=Product.Status.ARCHIVED))
    page.locator("#shopper").select_option(SEATTLE)

    expect(player).to_have_attribute("data-status", "gone")
    expect(player).to_be_hidden()
    assert page.evaluate(f"{PLAYER}.shadowRoot.querySelectorAll('video').length") == 0


def in_thread_value(read: Callable[[], Video]) -> Video:
    found: list[Video] = []
    in_thread(lambda: found.append(read()))
    return found[0]
