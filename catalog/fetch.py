"""Fetching what merchants name by URL (product images in a feed, the feed itself): run by
workers, never in a request.

A feed is untrusted input, and a URL in it (or a feed's own URL) may point anywhere: at the
metadata service of the cloud the workers run in, at a database on the private network, at the
worker itself. So:

* only ``http`` and ``https``; the host's every address is resolved and checked, and every
  address that is not globally routable is refused (loopback, private, carrier-grade NAT,
  link-local with the cloud metadata address, multicast, reserved, 6to4 and the other special
  ranges; an IPv4-mapped or NAT64 address by the IPv4 address inside it) unless the host is
  listed in ``SCENECART_FETCH_ALLOWED_HOSTS`` (tests and local feeds);
* the connection is made to the checked address itself (the host name still goes in the Host
  header and TLS SNI, and the certificate is verified for it), so a DNS answer that changes
  between the check and the connection (rebinding) cannot redirect it;
* redirects are followed by hand, at most ``MAX_REDIRECTS``, each hop checked again;
* timeouts on connect and read, a size cap checked against Content-Length and while reading;
  for an image, an ``image/*`` content type and an image's magic bytes;
* 429, 5xx, timeouts and dropped connections are retried with backoff; anything else is final.

A feed (``document_fetch``) is fetched conditionally: with the ``ETag`` and ``Last-Modified``
of the copy last imported, an unchanged feed answers 304 and is neither downloaded nor parsed.

Every refusal is a ``FetchRefused`` whose message says why, for the import report.
"""

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

from .importers.records import MAX_FILE_BYTES
from .uploads import sniff_image_format

MAX_REDIRECTS = 5
USER_AGENT = "Scenecart-ImageFetcher/1.0 (+https://scenecart.example/fetcher)"
FEED_USER_AGENT = "Scenecart-FeedFetcher/1.0 (+https://scenecart.example/fetcher)"
# What a feed may be: Shopify's CSV, Google's TSV or XML (RSS 2.0, Atom); anything else is
# still read, and the parser says what it is not.
FEED_ACCEPT = (
    "text/csv, text/tab-separated-values, application/rss+xml, application/atom+xml, "
    "application/xml, text/xml, text/plain;q=0.9, */*;q=0.5"
)
# A validator longer than this, or not printable ASCII, is not kept: it goes back to the
# server in a header, and a column has to hold it.
MAX_VALIDATOR_LENGTH = 256
_RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchRefused(Exception):
    """The URL could not or must not be fetched; the message is the reason, for the report."""


@dataclass(frozen=True, slots=True)
class FetchedImage:
    url: str  # after redirects
    content: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    """A feed as the server sent it (200), or its word that it has not changed (304: no
    content, the validators still those of the copy already imported)."""

    url: str  # after redirects
    status: int  # 200 or 304
    content: bytes
    etag: str
    last_modified: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


_Fetched = TypeVar("_Fetched")
# Reads the final (non-redirect) response of a fetch into what the caller wants.
_Reader = Callable[[str, urllib3.BaseHTTPResponse], _Fetched]


def image_fetch(url: str) -> FetchedImage:
    """Fetch one image URL safely; raise ``FetchRefused`` with the reason otherwise."""
    headers = {"User-Agent": USER_AGENT, "Accept": "image/*"}
    return _with_retries(url, headers, _image_from)


def document_fetch(
    url: str, *, etag: str = "", last_modified: str = "", max_bytes: int = MAX_FILE_BYTES
) -> FetchedDocument:
    """Fetch a catalog feed safely, with the checks of ``image_fetch`` but no content-type or
    magic-byte check (the parser judges the content), capped at ``max_bytes``.

    ``etag`` and ``last_modified`` are the validators of the copy already imported, sent as
    ``If-None-Match`` and ``If-Modified-Since``: a server that honours them answers 304 when
    the feed has not changed. Raises ``FetchRefused`` with the reason otherwise.
    """
    headers = {"User-Agent": FEED_USER_AGENT, "Accept": FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    def read(final_url: str, response: urllib3.BaseHTTPResponse) -> FetchedDocument:
        return _document_from(
            final_url, response, etag=etag, last_modified=last_modified, max_bytes=max_bytes
        )

    return _with_retries(url, headers, read)


def _with_retries(url: str, headers: dict[str, str], read: _Reader[_Fetched]) -> _Fetched:
    attempts = settings.SCENECART_FETCH_RETRIES + 1
    for attempt in range(attempts):
        try:
            return _fetch_following_redirects(url, headers, read)
        except _Transient as exc:
            if attempt + 1 == attempts:
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                raise FetchRefused(f"{exc} (after {tries})") from exc
            time.sleep(min(exc.retry_after or 0.5 * 2**attempt, 10.0))
    raise AssertionError("unreachable")  # pragma: no cover


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _fetch_following_redirects(
    url: str, headers: dict[str, str], read: _Reader[_Fetched]
) -> _Fetched:
    for _ in range(MAX_REDIRECTS + 1):
        response = _request(url, headers)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchRefused(f"HTTP {response.status} without a Location header")
                url = urljoin(url, location)
                continue
            return read(url, response)
        finally:
            response.release_conn()
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


def _request(url: str, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {parts.scheme or 'this'!r}")
    host = parts.hostname
    if not host:
        raise FetchRefused("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchRefused(f"the URL's port is invalid ({exc})") from exc
    address = _checked_address(host, port)
    timeout = urllib3.Timeout(
        connect=settings.SCENECART_FETCH_TIMEOUT, read=settings.SCENECART_FETCH_TIMEOUT
    )
    if parts.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=host, assert_hostname=host, timeout=timeout,
            cert_reqs="CERT_REQUIRED",
        )  # fmt: skip
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rsplit("@", 1)[-1]
    try:
        response = pool.urlopen(
            "GET",
            target,
            headers={"Host": host_header, **headers},
            redirect=False,
            retries=False,
            preload_content=False,
        )
    except urllib3.exceptions.TimeoutError as exc:
        raise _Transient(f"timed out after {settings.SCENECART_FETCH_TIMEOUT:g} s") from exc
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.NewConnectionError) as exc:
        raise _Transient(f"the connection failed ({type(exc).__name__})") from exc
    except urllib3.exceptions.SSLError as exc:
        raise FetchRefused(f"TLS failed ({exc})") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise _Transient(f"the request failed ({exc})") from exc
    if response.status in _RETRY_STATUSES:
        retry_after = response.headers.get("Retry-After", "")
        response.release_conn()
        raise _Transient(
            f"HTTP {response.status}",
            retry_after=float(retry_after) if retry_after.isdigit() else None,
        )
    return response


def _checked_address(host: str, port: int) -> str:
    """An address of ``host`` that may be fetched from; every address it has is checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"the host {host!r} does not resolve ({exc})") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if host.lower() not in {h.lower() for h in settings.SCENECART_FETCH_ALLOWED_HOSTS}:
        for address in addresses:
            reason = _forbidden(address)
            if reason:
                raise FetchRefused(
                    f"the host {host!r} resolves to {address}, {reason}; refused to protect "
                    "the servers behind Scenecart"
                )
    return addresses[0]


# Special-purpose ranges named in refusals, and ones an older Python still calls global (CPython
# corrected its tables for CVE-2024-4032, python/cpython#113171, and added 3fff::/20 later).
_SPECIAL_RANGES = (
    (ipaddress.ip_network("100.64.0.0/10"), "a carrier-grade NAT address (Alibaba Cloud's "
     "metadata service lives there)"),
    (ipaddress.ip_network("3fff::/20"), "a documentation address"),
)  # fmt: skip
# The well-known NAT64 prefix (RFC 6052): its addresses reach the IPv4 address in their last 32
# bits, so they are judged by that one (an IPv6-only worker behind DNS64 reaches every IPv4-only
# image host this way).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _forbidden(address: str) -> str:
    """Why ``address`` must not be fetched from; "" only for a globally routable unicast one.

    An IPv6 address that carries an IPv4 address (IPv4-mapped, NAT64, 6to4) reaches that IPv4
    address, so that is what is judged, and named in the reason.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _not_global(ip.ipv4_mapped)
        if ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            reason = _not_global(inner)
            return f"a NAT64 address of {inner}, {reason}" if reason else ""
        if ip.sixtofour is not None:
            # Deprecated (RFC 7526) and relayed by whoever announces the route: refused whatever
            # it carries, as newer Pythons no longer call it global.
            reason = _not_global(ip.sixtofour)
            return f"a 6to4 address of {ip.sixtofour}" + (f", {reason}" if reason else "")
        if ip.teredo is not None:
            return "a Teredo tunnel address"
    return _not_global(ip)


def _not_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why ``ip`` is not a globally routable unicast address, most telling reason first."""
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (cloud metadata lives there)"),
        (ip.is_private, "a private address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_reserved, "a reserved address"),
        *((ip in network, reason) for network, reason in _SPECIAL_RANGES),
        (not ip.is_global, "not a globally routable address"),
    )
    return next((reason for matched, reason in checks if matched), "")


def _image_from(url: str, response: urllib3.BaseHTTPResponse) -> FetchedImage:
    if response.status != 200:
        raise FetchRefused(f"HTTP {response.status}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not content_type.startswith("image/"):
        raise FetchRefused(f"the server sent {content_type or 'no content type'}, not an image")
    content = _read_capped(response, settings.SCENECART_FETCH_MAX_BYTES, what="the image")
    if sniff_image_format(content) is None:
        raise FetchRefused(f"the server called it {content_type}, but the bytes are not an image")
    return FetchedImage(url=url, content=content, content_type=content_type)


def _document_from(
    url: str,
    response: urllib3.BaseHTTPResponse,
    *,
    etag: str,
    last_modified: str,
    max_bytes: int,
) -> FetchedDocument:
    if response.status == 304:
        if not (etag or last_modified):
            raise FetchRefused("HTTP 304 (not modified) to a request that was not conditional")
        # A 304 may send fresh validators (RFC 9110, 15.4.5); the ones it leaves out stand.
        return FetchedDocument(
            url=url,
            status=304,
            content=b"",
            etag=_validator(response.headers.get("ETag", "")) or etag,
            last_modified=_validator(response.headers.get("Last-Modified", "")) or last_modified,
        )
    if response.status != 200:
        raise FetchRefused(f"HTTP {response.status}")
    return FetchedDocument(
        url=url,
        status=200,
        content=_read_capped(response, max_bytes, what="the feed"),
        etag=_validator(response.headers.get("ETag", "")),
        last_modified=_validator(response.headers.get("Last-Modified", "")),
    )


def _validator(value: str) -> str:
    """A response's ETag or Last-Modified as it may be stored and sent back; "" if it may not."""
    value = value.strip()
    if len(value) > MAX_VALIDATOR_LENGTH or not all(" " <= c <= "~" for c in value):
        return ""
    return value


def _read_capped(response: urllib3.BaseHTTPResponse, limit: int, *, what: str) -> bytes:
    """The response's body, refused as soon as it is known to be larger than ``limit``."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchRefused(f"{what} is {int(declared):,} bytes, more than {limit:,}")
    chunks, size = [], 0
    try:
        for chunk in response.stream(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"{what} is more than {limit:,} bytes")
            chunks.append(chunk)
    except urllib3.exceptions.TimeoutError as exc:
        raise _Transient(f"timed out after {settings.SCENECART_FETCH_TIMEOUT:g} s") from exc
    except urllib3.exceptions.ProtocolError as exc:
        raise _Transient(f"the download broke off ({type(exc).__name__})") from exc
    return b"".join(chunks)
