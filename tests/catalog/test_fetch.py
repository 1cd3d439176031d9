"""Fetching feed images: a local HTTP server plays the merchant's image host."""

import io
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from catalog.fetch import FetchRefused, _checked_address, image_fetch

PNG = io.BytesIO()
Image.new("RGB", (16, 16), "#D62828").save(PNG, "PNG")
PNG_BYTES = PNG.getvalue()


class ImageHost(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.failures_before_success = 0
        self.requests: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: ImageHost

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if "chunked" not in headers.values():
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        port = self.server.server_address[1]
        routes = {
            "/jacket.png": lambda: self.send(200, PNG_BYTES, "image/png"),
            "/page.html": lambda: self.send(200, b"<html></html>", "text/html"),
            "/liar.png": lambda: self.send(200, b"<html>not a png</html>", "image/png"),
            "/huge.png": lambda: self.send(200, PNG_BYTES + b"\0" * 4096, "image/png"),
            "/missing.png": lambda: self.send(404, b"", "text/plain"),
            "/moved": lambda: self.send(302, b"", "text/plain", Location="/jacket.png"),
            "/to-localhost": lambda: self.send(
                302, b"", "text/plain", Location=f"http://localhost:{port}/jacket.png"
            ),
            "/loop": lambda: self.send(302, b"", "text/plain", Location="/loop"),
        }
        if self.path == "/flaky.png":
            if self.server.failures_before_success > 0:
                self.server.failures_before_success -= 1
                self.send(503, b"busy", "text/plain", Retry_After="0")
            else:
                self.send(200, PNG_BYTES, "image/png")
        elif self.path == "/slow.png":
            time.sleep(1.5)
            self.send(200, PNG_BYTES, "image/png")
        elif self.path == "/chunked-huge.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG_BYTES + b"\0" * 8192)  # no Content-Length: read until close
            self.close_connection = True
        else:
            routes.get(self.path, lambda: self.send(HTTPStatus.NOT_FOUND, b"", "text/plain"))()


@pytest.fixture
def host(settings: Any) -> Iterator[ImageHost]:
    server = ImageHost()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.SCENECART_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SCENECART_FETCH_TIMEOUT = 0.5
    settings.SCENECART_FETCH_MAX_BYTES = 2048
    settings.SCENECART_FETCH_RETRIES = 2
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_an_image_on_an_allowed_host_is_fetched(host: ImageHost) -> None:
    fetched = image_fetch(f"{host.base}/jacket.png")
    assert fetched.content == PNG_BYTES and fetched.content_type == "image/png"


def test_redirects_are_followed_and_each_hop_checked(host: ImageHost) -> None:
    assert image_fetch(f"{host.base}/moved").url.endswith("/jacket.png")
    # localhost is the same machine, but not a host the settings allow: refused at the hop.
    with pytest.raises(FetchRefused, match=r"'localhost' resolves to 127\.0\.0\.1, a loopback"):
        image_fetch(f"{host.base}/to-localhost")
    with pytest.raises(FetchRefused, match="more than 5 redirects"):
        image_fetch(f"{host.base}/loop")


def test_busy_servers_are_retried_then_given_up(host: ImageHost) -> None:
    host.failures_before_success = 2
    assert image_fetch(f"{host.base}/flaky.png").content == PNG_BYTES
    host.failures_before_success = 5
    with pytest.raises(FetchRefused, match=r"HTTP 503 \(after 3 attempts\)"):
        image_fetch(f"{host.base}/flaky.png")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page.html", "the server sent text/html, not an image"),
        ("/liar.png", "the bytes are not an image"),
        ("/huge.png", "more than 2,048"),
        ("/chunked-huge.png", "more than 2,048 bytes"),
        ("/missing.png", "HTTP 404"),
        ("/slow.png", r"timed out after 0.5 s \(after 3 attempts\)"),
    ],
)
def test_what_is_not_a_reasonable_image_is_refused_with_the_reason(
    host: ImageHost, path: str, reason: str
) -> None:
    with pytest.raises(FetchRefused, match=reason):
        image_fetch(f"{host.base}{path}")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/x.png", "a loopback address"),
        ("http://localhost/x.png", "a loopback address"),
        ("http://[::1]/x.png", "a loopback address"),
        ("http://2130706433/x.png", "resolves to 127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://10.20.30.40/x.png", "a private address"),
        ("http://192.168.1.1/x.png", "a private address"),
        ("http://0.0.0.0/x.png", "resolves to 0.0.0.0"),
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/x.png", "only http and https"),
        ("http:///x.png", "has no host"),
    ],
)
def test_internal_addresses_are_refused_before_any_connection(url: str, reason: str) -> None:
    # No allowed hosts (the default): none of these is contacted, not even loopback.
    with pytest.raises(FetchRefused, match=reason):
        image_fetch(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # Alibaba Cloud's metadata service lives in carrier-grade NAT space.
        ("http://100.100.100.200/latest/meta-data/", "resolves to 100.100.100.200, a carrier"),
        ("http://100.64.0.1/x.png", "resolves to 100.64.0.1, a carrier-grade NAT address"),
        ("http://198.18.0.1/x.png", "resolves to 198.18.0.1, a private address"),
        ("http://192.0.0.1/x.png", "resolves to 192.0.0.1, a private address"),
        # IPv6 addresses that carry an IPv4 address inside them reach that IPv4 address.
        ("http://[2002:c0a8:0101::1]/x.png", r"resolves to 2002:c0a8:101::1, a 6to4 address"),
        ("http://[::ffff:10.0.0.1]/x.png", r"resolves to ::ffff:10\.0\.0\.1, a private address"),
        ("http://[64:ff9b::a00:1]/x.png", r"64:ff9b::a00:1, a NAT64 address of 10\.0\.0\.1"),
    ],
)
def test_every_address_that_is_not_globally_routable_is_refused(url: str, reason: str) -> None:
    with pytest.raises(FetchRefused, match=f"{reason}.*refused to protect"):
        image_fetch(url)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_a_globally_routable_address_passes_the_check(address: str) -> None:
    # The check alone: no globally routable address can be served from the test machine, and
    # a test has no business connecting out. The last two carry 8.8.8.8 inside (an IPv4-mapped
    # and a NAT64 address, which is what an IPv6-only worker behind DNS64 resolves hosts to).
    assert _checked_address(address, 443) == address
