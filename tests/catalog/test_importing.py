"""Catalog imports end to end: products upserted, refused rows by line, images by workers."""

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from catalog.importers import parse_shopify_csv
from catalog.importing import catalog_import
from catalog.models import Product, ProductImage, ProductImageSource
from tests.support.factories import make_merchant

DATA = Path(__file__).resolve().parent / "data"
APPAREL = (DATA / "apparel.csv").read_bytes()
HEADER = next(csv.reader(io.StringIO(APPAREL.decode("utf-8-sig"))))


def shopify_csv(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in HEADER})
    return out.getvalue().encode()


def product_row(handle: str, title: str, price: str, image: str = "") -> dict[str, str]:
    return {
        "Handle": handle, "Title": title, "Body (HTML)": f"<p>{title} <b>bold</b></p>",
        "Published": "true", "Variant Price": price, "Image Src": image,
        "Image Position": "1" if image else "",
    }  # fmt: skip


@pytest.mark.django_db
def test_the_shopify_sample_imports_and_a_second_import_changes_nothing() -> None:
    shop = make_merchant(slug="shop")
    parsed = parse_shopify_csv(APPAREL)
    first = catalog_import(merchant=shop, content=APPAREL, filename="apparel.csv")
    assert len(first.created) == len(parsed.products) == Product.objects.count()
    assert first.refused == []
    images = sum(len(p.images) for p in parsed.products)
    assert first.images_queued == images == ProductImageSource.objects.count()
    jacket = Product.objects.get(sku=parsed.products[0].sku)
    assert jacket.title == parsed.products[0].title and "<" not in jacket.description
    assert jacket.attributes["import_key"] == parsed.products[0].key
    stamps = dict(Product.objects.values_list("sku", "updated_at"))

    second = catalog_import(merchant=shop, content=APPAREL, filename="apparel.csv")
    assert (len(second.created), len(second.updated), second.images_queued) == (0, 0, 0)
    assert len(second.unchanged) == len(parsed.products)
    assert dict(Product.objects.values_list("sku", "updated_at")) == stamps
    assert ProductImageSource.objects.count() == images


@pytest.mark.django_db
def test_a_changed_price_updates_in_place_and_broken_rows_are_named_by_line() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(
        merchant=shop,
        content=shopify_csv(product_row("mug", "Camp Mug", "18.00")),
        filename="a.csv",
    )
    report = catalog_import(
        merchant=shop,
        content=shopify_csv(
            product_row("mug", "Camp Mug", "19.50"),
            product_row("stove", "Camp Stove", "twelve"),
            product_row("lamp", "", "30.00"),
            product_row("kettle", "Kettle", "25.00"),
        ),
        filename="b.csv",
    )
    assert (report.updated, report.created) == (["mug"], ["kettle"])
    assert Product.objects.get(sku="mug").price == 19.5
    assert [(row.line, "twelve" in row.reason or "itle" in row.reason) for row in report.refused] == [
        (3, True), (4, True),
    ]  # fmt: skip
    assert set(Product.objects.values_list("sku", flat=True)) == {"mug", "kettle"}


@pytest.mark.django_db
def test_the_command_reports_and_refuses_what_is_not_a_catalog(tmp_path: Path) -> None:
    make_merchant(slug="shop")
    good = tmp_path / "apparel.csv"
    good.write_bytes(APPAREL)
    out = StringIO()
    call_command("import_products", "--merchant", "shop", "--json", str(good), stdout=out)
    assert json.loads(out.getvalue())["created"] == len(parse_shopify_csv(APPAREL).products)
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.7 nothing to see")
    with pytest.raises(CommandError, match=r"notes\.pdf"):
        call_command("import_products", "--merchant", "shop", str(bad))


class ImageHost(ThreadingHTTPServer):
    daemon_threads = True


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), "#2E86AB").save(buffer, "JPEG")
        body = buffer.getvalue()
        self.send_response(200 if self.path == "/mug.jpg" else 404)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def image_host() -> Iterator[str]:
    server = ImageHost(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def import_worker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A real worker that may fetch from 127.0.0.1 (and only that loopback name)."""
    monkeypatch.setenv("SCENECART_FETCH_ALLOWED_HOSTS", "127.0.0.1")
    settings.SCENECART_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    request.getfixturevalue("celery_worker")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("import_worker")
def test_workers_fetch_the_images_and_a_refused_one_leaves_the_product_imported(
    image_host: str,
) -> None:
    shop = make_merchant(slug="shop")
    port = image_host.split(":")[1]
    content = shopify_csv(
        product_row("mug", "Camp Mug", "18.00", f"http://{image_host}/mug.jpg"),
        # Same server, but named "localhost", which the settings do not allow: refused.
        product_row("stove", "Camp Stove", "42.00", f"http://localhost:{port}/mug.jpg"),
        product_row("lamp", "Camp Lamp", "30.00", f"http://{image_host}/gone.jpg"),
    )
    report = catalog_import(merchant=shop, content=content, filename="feed.csv")
    assert (len(report.created), report.images_queued) == (3, 3)

    deadline = time.monotonic() + 60
    while ProductImageSource.objects.filter(status="pending").exists():
        assert time.monotonic() < deadline, "the worker did not fetch the images"
        time.sleep(0.3)
    mug = ProductImageSource.objects.get(product__sku="mug")
    assert mug.status == "fetched" and mug.image is not None
    assert (mug.image.width, mug.image.height) == (64, 48)
    assert ProductImage.objects.count() == 1
    stove = ProductImageSource.objects.get(product__sku="stove")
    assert str(stove).startswith("image missing: the host 'localhost' resolves to 127.0.0.1")
    assert str(ProductImageSource.objects.get(product__sku="lamp")) == "image missing: HTTP 404"
    assert Product.objects.filter(sku__in=["stove", "lamp"]).count() == 2


@pytest.mark.django_db
def test_the_admin_product_page_says_why_an_image_is_missing(admin_client: Any) -> None:
    shop = make_merchant(slug="shop")
    catalog_import(
        merchant=shop,
        content=shopify_csv(product_row("mug", "Camp Mug", "18.00", "http://10.9.8.7/mug.jpg")),
        filename="feed.csv",
    )
    source = ProductImageSource.objects.get()
    from catalog.importing import product_image_source_fetch

    product_image_source_fetch(source=source)  # what the worker runs; refused before connecting
    page = admin_client.get(f"/admin/catalog/product/{source.product_id}/change/").content.decode()
    assert (
        "image missing: the host &#x27;10.9.8.7&#x27; resolves to 10.9.8.7, a private address"
        in page
    )


@pytest.mark.django_db
def test_a_merchant_imports_from_the_admin_into_their_own_shop_only(client: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.services import membership_grant

    alpha, bravo = make_merchant(slug="alpha"), make_merchant(slug="bravo")
    alice = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=alpha, user=alice)
    client.force_login(alice)
    url = "/admin/catalog/product/import/"
    assert "Import a catalog" in client.get("/admin/catalog/product/").content.decode()
    content = shopify_csv(
        product_row("mug", "Camp Mug", "18.00"), product_row("stove", "Camp Stove", "twelve")
    )
    page = client.post(
        url, {"merchant": alpha.pk, "file": SimpleUploadedFile("export.csv", content)}
    ).content.decode()
    assert "1 created" in page and "1 rows refused" in page
    assert "<td>3</td><td>" in page and "twelve" in page
    assert Product.objects.get(sku="mug").merchant == alpha

    # Bravo's id is not a choice for Alice: nothing is imported there.
    refused = client.post(
        url, {"merchant": bravo.pk, "file": SimpleUploadedFile("export.csv", content)}
    ).content.decode()
    assert "Select a valid choice" in refused
    assert not Product.objects.filter(merchant=bravo).exists()
    junk = client.post(
        url, {"merchant": alpha.pk, "file": SimpleUploadedFile("notes.pdf", b"%PDF-1.7")}
    ).content.decode()
    assert "notes.pdf" in junk and "errorlist" in junk

    # A partial file changes one price; the report says what changed, product by product.
    prices = shopify_csv(product_row("mug", "Camp Mug", "16.00"))
    changed = client.post(
        url, {"merchant": alpha.pk, "file": SimpleUploadedFile("prices.csv", prices)}
    ).content.decode()
    assert "1 updated" in changed
    assert "<td>mug</td><td>price, variants</td>" in changed
    # A Shopify CSV is never a supplemental feed: said on the file, nothing imported.
    supplemental = client.post(
        url,
        {"merchant": alpha.pk, "file": SimpleUploadedFile("p.csv", prices), "supplemental": "on"},
    ).content.decode()
    assert "Only a Google Merchant Center feed can be supplemental" in supplemental
