"""A connected shop sending webhooks over real HTTP to the live server, an image host its
products point at, and a real worker that applies the deliveries."""

import io
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image
from pytest_django.live_server_helper import LiveServer

from catalog.models import Merchant
from integrations.models import ShopifyWebhookReceipt
from integrations.shopify.connections import shopify_connection_set
from tests.support.factories import make_merchant
from tests.support.protocols.shopify import ShopifyShop

SECRET = "whsec-3f9c2a7e1b8d4c6a9e0f5b2d7c1a8e4f"


@pytest.fixture
def merchant(transactional_db: None) -> Merchant:
    return make_merchant(slug="northfold")


@pytest.fixture
def shop(merchant: Merchant, live_server: LiveServer) -> ShopifyShop:
    """northfold.myshopify.com, connected to the merchant ``northfold``."""
    shopify_connection_set(
        merchant=merchant, shop_domain="northfold.myshopify.com", webhook_secret=SECRET
    )
    return ShopifyShop(
        domain="northfold.myshopify.com",
        secret=SECRET,
        address=live_server.url + reverse("integrations:shopify-webhooks"),
    )


@pytest.fixture
def shopify_worker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A real worker that may fetch images from 127.0.0.1 (the image host), and only there."""
    monkeypatch.setenv("SCENECART_FETCH_ALLOWED_HOSTS", "127.0.0.1")
    settings.SCENECART_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    request.getfixturevalue("celery_worker")


def _wait_until_applied(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = ShopifyWebhookReceipt.objects.filter(outcome=ShopifyWebhookReceipt.Outcome.PENDING)
    while pending.exists():
        assert time.monotonic() < deadline, "the worker did not apply the webhooks"
        time.sleep(0.2)


@pytest.fixture
def wait_until_applied() -> Callable[[], None]:
    """Waits until the worker has applied (or skipped) every recorded delivery."""
    return _wait_until_applied


class _Photos(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        buffer = io.BytesIO()
        # A color of its own per address, so two photos of a product are two pictures.
        color = "#%06X" % (zlib.crc32(self.path.encode()) & 0xFFFFFF)
        Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
        body = buffer.getvalue()
        self.send_response(200 if self.path.endswith(".jpg") else 404)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def image_host() -> Iterator[str]:
    """A CDN stand-in on 127.0.0.1: a JPEG at any ``*.jpg``; yields ``http://127.0.0.1:port``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Photos)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
