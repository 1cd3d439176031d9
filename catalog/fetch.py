"""Fetching product images named by URL in a merchant's feed: run by workers, never in a request.

A feed is untrusted input, and a URL in it may point anywhere: at the metadata service of the
cloud the workers run in, at a database on the private network, at the worker itself. So:

* only ``http`` and ``https``; the host's every address is resolved and checked, and every
  address that is not globally routable is refused (loopback, private, carrier-grade NAT,
  link-local with the cloud metadata address, multicast, reserved, 6to4 and the other special
  ranges; an IPv4-mapped or NAT64 address by the IPv4 address inside it) unless the host is
  listed in ``SCENECART_FETCH_ALLOWED_HOSTS`` (tests and local feeds);
* the connection is made to the checked address itself (the host name still goes in the Host
  header and TLS SNI, and the certificate is verified for it), so a DNS answer that changes
  between the check and the connection (rebinding) cannot redirect it;
* redirects are followed by hand, at most ``MAX_REDIRECTS``, each hop checked again;
* timeouts on connect and read, a size cap checked against Content-Length and while reading,
  an ``image/*`` content type and an image's magic bytes;
* 429, 5xx, timeouts and dropped connections are retried with backoff; anything else is final.

Every refusal is a ``FetchRefused`` whose message says why, for the import report.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

from .uploads import sniff_image_format

MAX_REDIRECTS = 5
USER_AGENT = "Scenecart-ImageFetcher/1.0 (+https://scenecart.example/fetcher)"
_RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchRefused(Exception):
    """The URL could not or must not be fetched; the message is the reason, for the report."""


@dataclass(frozen=True, slots=True)
class FetchedImage:
    url: str  # after redirects
    content: bytes
    content_type: str


def image_fetch(url: str) -> FetchedImage:
    """Fetch one image URL safely; raise ``FetchRefused`` with the reason otherwise."""
    attempts = settings.SCENECART_FETCH_RETRIES + 1
    for attempt in range(attempts):
        try:
            return _fetch_following_redirects(url)
        except _Transient as exc:
            if attempt + 1 == attempts:
                raise FetchRefused(f"{exc} (after {attempts} attempts)") from exc
            time.sleep(min(exc.retry_after or 0.5 * 2**attempt, 10.0))
    raise AssertionError("unreachable")  # pragma: no cover


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _fetch_following_redirects(url: str) -> FetchedImage:
    for _ in range(MAX_REDIRECTS + 1):
        response = _request(url)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchRefused(f"HTTP {response.status} without a Location header")
                url = urljoin(url, location)
                continue
            return _image_from(url, response)
        finally:
            response.release_conn()
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


def _request(url: str) -> urllib3.BaseHTTPResponse:
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
            headers={"Host": host_header, "User-Agent": USER_AGENT, "Accept": "image/*"},
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
    limit = settings.SCENECART_FETCH_MAX_BYTES
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchRefused(f"the image is {int(declared):,} bytes, more than {limit:,}")
    chunks, size = [], 0
    try:
        for chunk in response.stream(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"the image is more than {limit:,} bytes")
            chunks.append(chunk)
    except urllib3.exceptions.TimeoutError as exc:
        raise _Transient(f"timed out after {settings.SCENECART_FETCH_TIMEOUT:g} s") from exc
    except urllib3.exceptions.ProtocolError as exc:
        raise _Transient(f"the download broke off ({type(exc).__name__})") from exc
    content = b"".join(chunks)
    if sniff_image_format(content) is None:
        raise FetchRefused(f"the server called it {content_type}, but the bytes are not an image")
    return FetchedImage(url=url, content=content, content_type=content_type)
