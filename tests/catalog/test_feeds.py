"""Feed sync: a local HTTP server plays the merchant's feed host, with ETag, Last-Modified
and 304 answers to conditional requests, as a Shopify app or a Google feed host serves them."""

import csv
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from catalog import dispatch
from catalog.feeds import (
    CatalogFeedBusy,
    catalog_feed_create,
    catalog_feed_sync,
    catalog_feed_update,
)
from catalog.fetch import FetchRefused, document_fetch
from catalog.importers import parse_shopify_csv
from catalog.models import CatalogFeed, Merchant, Product
from catalog.services import membership_grant, product_image_add
from tests.support.factories import make_merchant, photo_bytes
from tests.support.freshness import (
    all_videos_settled,
    lookup,
    rendered_since,
    served_anew,
    videos_made_by_the_worker,
    wait_until,
)
from tests.support.workers import WorkerStarter

DATA = Path(__file__).resolve().parent / "data"
IMAGE_COLUMNS = ("Image Src", "Image Position", "Image Alt Text", "Variant Image")


def apparel_feed(
    *, price_of: dict[str, str] | None = None, extra: list[dict[str, str]] | None = None
) -> bytes:
    """tests/catalog/data/apparel.csv as a feed: without its image URLs (fetching images is
    test_fetch's and test_importing's business), with the prices of ``price_of`` (handle →
    price) changed on the product's first row and the ``extra`` rows appended."""
    reader = csv.DictReader(io.StringIO((DATA / "apparel.csv").read_text("utf-8-sig")))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or []), lineterminator="\n")
    writer.writeheader()
    seen: set[str] = set()
    for row in reader:
        row.update(dict.fromkeys(IMAGE_COLUMNS, ""))
        if price_of and row["Handle"] in price_of and row["Handle"] not in seen:
            row["Variant Price"] = price_of[row["Handle"]]
        seen.add(row["Handle"])
        writer.writerow(row)
    for row in extra or []:
        writer.writerow({name: row.get(name, "") for name in writer.fieldnames})
    return out.getvalue().encode()


FEED = apparel_feed()
PRODUCTS = parse_shopify_csv(FEED).products
FIRST = PRODUCTS[0]  # ocean-blue-shirt


class FeedHost(ThreadingHTTPServer):
    """Serves one feed at /products.csv (and the same at /later.csv), honouring
    If-None-Match and If-Modified-Since as RFC 9110 says; ``fail_with`` answers that status."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail_with = 0
        self.others: dict[str, bytes] = {}  # more files, served unconditionally
        self.published = 1_790_000_000.0
        self.publish(FEED)

    def publish(self, body: bytes) -> None:
        self.body = body
        self.etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        self.published += 3600
        self.last_modified = formatdate(self.published, usegmt=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class FeedHandler(BaseHTTPRequestHandler):
    server: FeedHost

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        host = self.server
        host.requests.append((self.path, dict(self.headers.items())))
        if host.fail_with:
            return self.answer(host.fail_with, b"<h1>Internal Server Error</h1>")
        if self.path in host.others:
            return self.answer(200, host.others[self.path])
        if self.path not in ("/products.csv", "/later.csv"):
            return self.answer(404, b"")
        if self.not_modified():
            return self.answer(304, b"")
        self.answer(200, host.body)

    def not_modified(self) -> bool:
        host = self.server
        if "If-None-Match" in self.headers:  # it wins over If-Modified-Since (RFC 9110 13.2.2)
            tags = [
                tag.strip().removeprefix("W/") for tag in self.headers["If-None-Match"].split(",")
            ]
            return host.etag in tags or "*" in tags
        if "If-Modified-Since" in self.headers:
            since = parsedate_to_datetime(self.headers["If-Modified-Since"])
            return parsedate_to_datetime(host.last_modified) <= since
        return False

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("ETag", self.server.etag)
        self.send_header("Last-Modified", self.server.last_modified)
        if status != 304:
            self.send_header("Content-Type", "text/csv; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


@pytest.fixture
def feed_host(settings: Any) -> Iterator[FeedHost]:
    server = FeedHost()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.SCENECART_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SCENECART_FETCH_TIMEOUT = 2.0
    settings.SCENECART_FETCH_RETRIES = 0
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shop(db: None) -> Merchant:
    return make_merchant(slug="shop", name="Northwind Outfitters")


def sync(feed: CatalogFeed) -> CatalogFeed:
    """Sync the feed as the task does, from a fresh copy of the row (the service updates
    the instance it is given, so each outcome is kept apart here)."""
    return catalog_feed_sync(feed=CatalogFeed.objects.get(pk=feed.pk))


def stamps() -> dict[str, Any]:
    return dict(Product.objects.values_list("sku", "updated_at"))


@pytest.mark.django_db
def test_a_feed_is_imported_then_fetched_conditionally_and_only_a_changed_product_touched(
    shop: Merchant, feed_host: FeedHost
) -> None:
    feed = catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")

    first = sync(feed)
    assert first.last_outcome == CatalogFeed.Outcome.OK and first.last_error == ""
    assert first.last_report is not None
    assert {key: first.last_report[key] for key in ("format", "created", "updated", "refused")} == {
        "format": "shopify_csv", "created": len(PRODUCTS), "updated": 0, "refused": [],
    }  # fmt: skip
    assert Product.objects.filter(merchant=shop).count() == len(PRODUCTS)
    assert (first.etag, first.last_modified) == (feed_host.etag, feed_host.last_modified)
    assert first.last_checked_at and first.last_changed_at and first.syncing_since is None
    assert first.next_due_at - first.last_checked_at == timedelta(minutes=60)
    assert "If-None-Match" not in feed_host.requests[0][1]
    before = stamps()

    second = sync(feed)
    sent = feed_host.requests[-1][1]
    assert sent["If-None-Match"] == feed_host.etag
    assert sent["If-Modified-Since"] == feed_host.last_modified
    assert second.last_outcome == CatalogFeed.Outcome.NOT_MODIFIED
    assert second.last_report == first.last_report  # the last import's, still
    assert second.last_changed_at == first.last_changed_at
    assert second.last_checked_at > first.last_checked_at
    assert stamps() == before

    feed_host.publish(apparel_feed(price_of={"ocean-blue-shirt": "55.00"}))
    third = sync(feed)
    assert third.last_outcome == CatalogFeed.Outcome.OK
    report = third.last_report or {}
    assert (report["created"], report["updated"], report["unchanged"]) == (
        0, 1, len(PRODUCTS) - 1,
    )  # fmt: skip
    assert third.etag == feed_host.etag and third.last_changed_at > first.last_changed_at
    after = stamps()
    assert [sku for sku in after if after[sku] != before[sku]] == [FIRST.sku]
    assert str(Product.objects.get(sku=FIRST.sku).price) == "55.00"


@pytest.mark.django_db
def test_if_modified_since_alone_is_honoured(shop: Merchant, feed_host: FeedHost) -> None:
    """A host without ETags: Last-Modified is what makes the second fetch a 304."""
    feed = catalog_feed_sync(
        feed=catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")
    )
    CatalogFeed.objects.filter(pk=feed.pk).update(etag="")
    feed.refresh_from_db()
    assert catalog_feed_sync(feed=feed).last_outcome == CatalogFeed.Outcome.NOT_MODIFIED
    assert "If-None-Match" not in feed_host.requests[-1][1]


@pytest.mark.django_db
def test_a_feed_at_a_private_address_is_refused_with_the_reason(
    shop: Merchant, feed_host: FeedHost, settings: Any
) -> None:
    settings.SCENECART_FETCH_ALLOWED_HOSTS = []  # the fetcher's normal rule
    feed = catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")
    synced = catalog_feed_sync(feed=feed)
    assert synced.last_outcome == CatalogFeed.Outcome.FAILED
    assert synced.last_error.startswith(
        "Could not fetch the feed: the host '127.0.0.1' resolves to 127.0.0.1, a loopback "
        "address; refused"
    )
    assert feed_host.requests == [] and not Product.objects.exists()
    assert synced.next_due_at - synced.last_checked_at == timedelta(minutes=60)  # tried again


@pytest.mark.django_db
def test_a_server_error_is_recorded_and_the_last_good_report_kept(
    shop: Merchant, feed_host: FeedHost
) -> None:
    good = sync(catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv"))
    feed_host.fail_with = 500
    failed = sync(good)
    assert failed.last_outcome == CatalogFeed.Outcome.FAILED
    assert failed.last_error == "Could not fetch the feed: HTTP 500 (after 1 attempt)."
    assert failed.last_report == good.last_report and failed.etag == good.etag
    assert failed.last_changed_at == good.last_changed_at

    feed_host.fail_with = 0  # back up, unchanged: the kept validators still work
    recovered = sync(good)
    assert (recovered.last_outcome, recovered.last_error) == ("not_modified", "")


@pytest.mark.django_db
def test_a_page_that_is_no_catalog_fails_with_the_parsers_reason(
    shop: Merchant, feed_host: FeedHost
) -> None:
    feed_host.others["/page.html"] = b"<html><body>Sign in to see your feed</body></html>"
    feed = catalog_feed_create(merchant=shop, url=f"{feed_host.base}/page.html")
    synced = catalog_feed_sync(feed=feed)
    assert synced.last_outcome == CatalogFeed.Outcome.FAILED
    assert synced.last_error.startswith("The feed could not be read: ")
    assert "page.html" in synced.last_error and synced.etag == ""


@pytest.mark.django_db
def test_a_google_supplemental_feed_updates_products_and_creates_none(
    shop: Merchant, feed_host: FeedHost
) -> None:
    sync(catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv"))
    feed_host.others["/prices.tsv"] = (
        f"id\tprice\n{FIRST.sku}\t45.00 USD\nNO-SUCH-SKU\t9.00 USD\n".encode()
    )
    supplemental = sync(
        catalog_feed_create(
            merchant=shop, url=f"{feed_host.base}/prices.tsv", format="google", role="supplemental"
        )
    )
    report = supplemental.last_report or {}
    assert supplemental.last_outcome == CatalogFeed.Outcome.OK
    assert (report["created"], report["updated"]) == (0, 1)
    assert [row["line"] for row in report["refused"]] == [3]
    assert str(Product.objects.get(sku=FIRST.sku).price) == "45.00"
    assert Product.objects.filter(merchant=shop).count() == len(PRODUCTS)


@pytest.mark.django_db
def test_a_feed_is_synced_by_one_worker_at_a_time(
    shop: Merchant, feed_host: FeedHost, settings: Any
) -> None:
    feed = catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")
    CatalogFeed.objects.filter(pk=feed.pk).update(syncing_since=timezone.now())
    with pytest.raises(CatalogFeedBusy, match="is being synced by a worker since"):
        catalog_feed_sync(feed=feed)
    assert feed_host.requests == []
    # A claim older than the task's hard time limit is a killed worker's: taken over.
    dead = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    CatalogFeed.objects.filter(pk=feed.pk).update(syncing_since=dead)
    assert catalog_feed_sync(feed=feed).last_outcome == CatalogFeed.Outcome.OK


@pytest.mark.django_db
def test_what_a_merchant_registers_is_checked(shop: Merchant) -> None:
    with pytest.raises(ValidationError, match=r"Enter an http:// or https:// URL\."):
        catalog_feed_create(merchant=shop, url="ftp://feeds.example.com/products.csv")
    with pytest.raises(ValidationError, match="greater than or equal to 5"):
        catalog_feed_create(merchant=shop, url="https://feeds.example.com/a.csv", every_minutes=1)
    with pytest.raises(ValidationError, match="Only a Google feed can be supplemental"):
        catalog_feed_create(
            merchant=shop,
            url="https://feeds.example.com/a.csv",
            format="shopify",
            role="supplemental",
        )
    with pytest.raises(ValidationError, match="user name and password out of the URL"):
        catalog_feed_create(merchant=shop, url="https://me:secret@feeds.example.com/a.csv")
    feed = catalog_feed_create(merchant=shop, url="https://feeds.example.com/a.csv")
    with pytest.raises(ValidationError, match="already exists"):
        catalog_feed_create(merchant=shop, url="https://feeds.example.com/a.csv")
    # A new URL is another document: the old validators go, and it is due at once.
    CatalogFeed.objects.filter(pk=feed.pk).update(
        etag='"v1"', next_due_at=timezone.now() + timedelta(hours=1)
    )
    feed.refresh_from_db()
    moved = catalog_feed_update(feed=feed, url="https://feeds.example.com/b.csv")
    assert moved.etag == "" and moved.next_due_at <= timezone.now()


@pytest.mark.django_db
def test_the_feed_size_cap_is_checked(feed_host: FeedHost) -> None:
    with pytest.raises(FetchRefused, match=r"the feed is \d[\d,]* bytes, more than 100"):
        document_fetch(f"{feed_host.base}/products.csv", max_bytes=100)
    fetched = document_fetch(f"{feed_host.base}/products.csv")
    assert (fetched.status, fetched.content) == (200, FEED)


@pytest.mark.django_db
def test_the_command_syncs_a_merchants_feeds_and_prints_the_report(
    shop: Merchant, feed_host: FeedHost
) -> None:
    catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")
    out = io.StringIO()
    call_command("sync_feed", "--merchant", "shop", "--json", stdout=out)
    [result] = json.loads(out.getvalue())["feeds"]
    assert (result["outcome"], result["report"]["created"]) == ("ok", len(PRODUCTS))

    out = io.StringIO()
    call_command(
        "sync_feed", "--merchant", "shop", "--url", f"{feed_host.base}/products.csv", stdout=out
    )
    assert out.getvalue().strip().endswith("not modified since the last sync; nothing imported.")

    feed_host.fail_with = 503
    with pytest.raises(CommandError, match="1 of 1 feeds did not sync"):
        call_command("sync_feed", "--merchant", "shop", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="no feed with the URL"):
        call_command("sync_feed", "--merchant", "shop", "--url", "https://elsewhere.example/x")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_syncs_the_due_feeds_through_a_real_worker(
    worker_starter: WorkerStarter,
    feed_host: FeedHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCENECART_FETCH_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("SCENECART_FETCH_RETRIES", "0")
    worker_starter.start(queues="default", concurrency=1)
    shop = make_merchant(slug="shop")
    due = catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")
    later = catalog_feed_create(merchant=shop, url=f"{feed_host.base}/later.csv")
    CatalogFeed.objects.filter(pk=later.pk).update(
        next_due_at=timezone.now() + timedelta(minutes=5)
    )

    from scenecart.celery import app

    app.send_task("catalog.sync_due_feeds")  # what beat sends every minute
    deadline = time.monotonic() + 60
    while CatalogFeed.objects.get(pk=due.pk).last_outcome != CatalogFeed.Outcome.OK:
        assert time.monotonic() < deadline, "the worker did not sync the due feed"
        time.sleep(0.2)
    assert Product.objects.filter(merchant=shop).count() == len(PRODUCTS)
    assert feed_host.paths() == ["/products.csv"]
    later.refresh_from_db()
    assert later.last_checked_at is None and later.last_outcome == CatalogFeed.Outcome.NEVER


def staff(username: str) -> AbstractUser:
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests", is_staff=True
    )


@pytest.mark.django_db
def test_the_admin_shows_the_last_report_to_the_shops_staff_only(
    shop: Merchant, feed_host: FeedHost, django_capture_on_commit_callbacks: Any
) -> None:
    typo = {
        "Handle": "camp-mug",
        "Title": "Camp Mug",
        "Published": "true",
        "Variant Price": "twelve",
    }
    feed_host.publish(apparel_feed(extra=[typo]))
    feed = catalog_feed_sync(
        feed=catalog_feed_create(merchant=shop, url=f"{feed_host.base}/products.csv")
    )
    [refused] = (feed.last_report or {})["refused"]
    alice, bob = staff("alice"), staff("bob")
    membership_grant(merchant=shop, user=alice)
    membership_grant(merchant=make_merchant(slug="other"), user=bob)
    page = f"/admin/catalog/catalogfeed/{feed.pk}/change/"

    member = Client()
    member.force_login(alice)
    text = member.get(page).content.decode()
    assert f"{len(PRODUCTS)} created, 0 updated, 0 unchanged, 1 refused, 0 images queued" in text
    assert f"line {refused['line']}: {refused['reason']}" in text.replace("&#x27;", "'")
    assert "Imported" in member.get("/admin/catalog/catalogfeed/").content.decode()

    outsider = Client()
    outsider.force_login(bob)
    assert outsider.get(page).status_code in (302, 404)
    assert feed_host.base not in outsider.get("/admin/catalog/catalogfeed/").content.decode()

    # "Sync now" queues the task for the member's feed, and nothing for another shop's staff.
    action = {"action": "sync_now", "_selected_action": [feed.pk]}
    with django_capture_on_commit_callbacks() as queued:
        outsider.post("/admin/catalog/catalogfeed/", action)
    assert queued == []
    with django_capture_on_commit_callbacks() as queued:
        member.post("/admin/catalog/catalogfeed/", action)
    assert [(c.args, c.keywords["args"]) for c in queued] == [(("catalog.sync_feed",), (feed.pk,))]


@pytest.mark.worker
def test_a_price_changed_in_the_feed_reaches_the_storefront_through_the_worker(
    worker_starter: WorkerStarter,
    feed_host: FeedHost,
    client: Client,
    monkeypatch: Any,
    settings: Any,
) -> None:
    monkeypatch.setenv("SCENECART_FETCH_ALLOWED_HOSTS", "127.0.0.1")
    # The change is made in the worker: this process's memo of what it read would show it
    # within SCENECART_LOCAL_CACHE_SECONDS (1 s); without the memo, at once.
    settings.SCENECART_LOCAL_CACHE_SECONDS = 0
    worker_starter.start()
    merchant = make_merchant(slug="shop")
    feed = catalog_feed_create(merchant=merchant, url=f"{feed_host.base}/products.csv")
    sync(feed)
    product = Product.objects.get(merchant=merchant, sku=FIRST.sku)
    product_image_add(product=product, filename="shirt.png", content=photo_bytes())
    videos_made_by_the_worker(product, ("generic",))
    before = lookup(client, "shop", FIRST.sku)
    assert before["status"] == "ready"

    feed_host.publish(apparel_feed(price_of={FIRST.key: "19.00"}))
    changed_at = timezone.now()
    dispatch.sync_feed(feed.pk)  # what beat queues for a due feed

    wait_until(lambda: Product.objects.get(pk=product.pk).price == 19, "the sync")
    assert lookup(client, "shop", FIRST.sku)["src"] != before["src"]
    wait_until(served_anew(client, "shop", FIRST.sku, before["src"]), "the new video")
    wait_until(all_videos_settled, "the refresh")
    assert rendered_since(changed_at) == ["offer"]
