"""What the storefront withholds stays withheld everywhere (issue 13, findings 3 and 6): the
iframe player's fallback, oEmbed's thumbnail and the files' own URLs follow the lookup's rule,
and on S3 only published videos and posters get public (CDN) URLs."""

from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from catalog.services import product_update
from personalization.services import bucket_policy_update
from rendering.models import Video
from rendering.services import video_approve, video_reject
from rendering.tasks import sync_publication
from rendering.video_provenance import video_resign
from scenecart.celery import app as celery_app
from scenecart.storage import MediaStorage
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def embed_page(client: Client, sku: str = "JACKET") -> str:
    return client.get(f"/embed/northwind/{sku}?aspect=16:9").content.decode()


def oembed(client: Client) -> dict[str, Any]:
    url = "http://testserver/shop/northwind/JACKET"
    return client.get(reverse("storefront:oembed"), {"url": url}).json()


@pytest.fixture
def jacket():  # type: ignore[no-untyped-def]
    return make_product(make_merchant(slug="northwind"), sku="JACKET")


def test_a_video_awaiting_review_is_in_no_public_page(client: Client, jacket) -> None:  # type: ignore[no-untyped-def]
    bucket_policy_update(merchant=jacket.merchant, require_approval=True)
    waiting = make_ready_video(jacket)
    lookup = client.get("/api/v1/videos/northwind/JACKET").json()
    assert lookup["src"] is None
    page = embed_page(client)
    assert waiting.file.name.rsplit("/", 1)[-1] not in page
    assert 'fallback-src=""' in page or "fallback-src" not in page
    assert "thumbnail_url" not in oembed(client)

    video_approve(video=waiting)
    approved = Video.objects.get(pk=waiting.pk)
    assert approved.file.name.startswith("public/")
    assert client.get("/api/v1/videos/northwind/JACKET").json()["src"].endswith(approved.file.url)
    assert approved.file.url in embed_page(client)
    assert oembed(client)["thumbnail_url"].endswith(approved.poster.url)


def test_a_rejected_video_is_withdrawn_at_once(client: Client, jacket) -> None:  # type: ignore[no-untyped-def]
    video = make_ready_video(jacket)
    public_url = video.file.url
    assert client.get(public_url).status_code == 200
    assert public_url in embed_page(client)

    video_reject(video=video, note="wrong color")
    rejected = Video.objects.get(pk=video.pk)
    assert not rejected.file.name.startswith("public/")
    assert client.get(public_url).status_code == 404
    assert public_url not in embed_page(client)
    assert "thumbnail_url" not in oembed(client)


def test_requiring_approval_withdraws_what_was_not_approved(client: Client, jacket) -> None:  # type: ignore[no-untyped-def]
    generic = make_ready_video(jacket)
    rainy = make_ready_video(jacket, "climate=rainy")
    video_approve(video=rainy)
    bucket_policy_update(merchant=jacket.merchant, require_approval=True)
    # Queued by name on commit; run here as the worker would.
    sync_publication(jacket.merchant_id)
    generic.refresh_from_db()
    rainy.refresh_from_db()
    assert not generic.file.name.startswith("public/")
    assert client.get(generic.file.url).status_code == 404
    assert rainy.file.name.startswith("public/")

    bucket_policy_update(merchant=jacket.merchant, require_approval=False)
    sync_publication(jacket.merchant_id)
    generic.refresh_from_db()
    assert generic.file.name.startswith("public/")
    assert client.get(generic.file.url).status_code == 200


def test_an_archived_products_videos_are_withdrawn(client: Client, jacket) -> None:  # type: ignore[no-untyped-def]
    video = make_ready_video(jacket)
    product_update(product=jacket, status="archived")
    sync_publication(jacket.merchant_id, product_ids=[jacket.pk])
    video.refresh_from_db()
    assert not video.file.name.startswith("public/")
    assert client.get(video.file.url).status_code == 404
    assert client.get("/embed/northwind/JACKET").status_code == 404


def test_policy_and_status_changes_queue_the_sync_on_commit(
    jacket,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        bucket_policy_update(merchant=jacket.merchant, require_approval=True)
        product_update(product=jacket, status="draft")
    queued = [
        (cb.args[0], cb.keywords["args"], cb.keywords["kwargs"])
        for cb in callbacks
        if hasattr(cb, "keywords")
    ]
    assert queued == [
        ("rendering.sync_publication", (jacket.merchant_id,), {}),
        ("rendering.sync_publication", (jacket.merchant_id,), {"product_ids": [jacket.pk]}),
        (
            "rendering.refresh_videos",
            (jacket.merchant_id,),
            {"product_ids": [jacket.pk], "reason": "status changed"},
        ),
    ]
    # The names are tasks the workers know.
    assert {"rendering.sync_publication", "rendering.refresh_videos"} <= set(celery_app.tasks)


def test_on_s3_only_published_files_get_public_cdn_urls(
    s3_storage: dict[str, Any],
    settings: Settings,
    jacket,  # type: ignore[no-untyped-def]
) -> None:
    storage = MediaStorage(**{**s3_storage, "custom_domain": "cdn.example.com"})
    public = storage.url("public/videos/northwind/jacket/generic-16x9-abc.mp4")
    assert public == "https://cdn.example.com/public/videos/northwind/jacket/generic-16x9-abc.mp4"
    for private in (
        "videos/northwind/jacket/generic-16x9-abc.mp4",
        "brand/northwind/" + "0" * 64 + ".ttf",
        "segments/ab/" + "a" * 64 + ".mp4",
    ):
        url = storage.url(private)
        assert url.startswith(s3_storage["endpoint_url"]), url
        assert "X-Amz-Signature=" in url

    # Objects carry the type their (own) name says, and non-media is an attachment.
    font = storage.save("brand/northwind/" + "1" * 64 + ".ttf", ContentFile(b"\x00\x01\x00\x00"))
    head = requests.get(storage.url(font), timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Type"] == "font/ttf"
    assert head.headers["Content-Disposition"] == "attachment"
    video = storage.save("public/videos/x.mp4", ContentFile(b"mp4"))
    assert storage.bucket.Object(video).content_type == "video/mp4"


def test_approval_on_s3_moves_the_files_into_the_public_prefix(
    s3_storage: dict[str, Any],
    jacket,  # type: ignore[no-untyped-def]
) -> None:
    bucket_policy_update(merchant=jacket.merchant, require_approval=True)
    video = make_ready_video(jacket)
    assert video.file.name.startswith("videos/")
    assert default_storage.exists(video.file.name)
    approved = video_approve(video=video)
    assert approved.file.name.startswith("public/videos/")
    assert approved.poster.name.startswith("public/videos/")
    assert default_storage.exists(approved.file.name)
    assert not default_storage.exists(video.file.name)
    assert requests.get(approved.file.url, timeout=10).status_code == 200


def test_deleting_a_product_deletes_its_published_files(
    client: Client,
    jacket,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    video = make_ready_video(jacket)
    public_urls = [video.file.url, video.poster.url]
    assert all(client.get(url).status_code == 200 for url in public_urls)
    operator = get_user_model().objects.create_superuser("op", password="x")
    client.force_login(operator)
    delete = reverse("admin:catalog_product_delete", args=[jacket.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(delete, {"post": "yes"})
    assert response.status_code == 302
    client.logout()
    assert all(client.get(url).status_code == 404 for url in public_urls)
    assert not default_storage.exists(video.file.name)


def test_a_video_on_s3_is_signed_again_in_place(
    s3_storage: dict[str, Any],
    jacket,  # type: ignore[no-untyped-def]
) -> None:
    video = make_ready_video(jacket)
    before = default_storage.open(video.file.name, "rb").read()
    video_resign(video=video)
    after = default_storage.open(video.file.name, "rb").read()
    assert after != before  # a new signature, same name
    assert storage_object_type(s3_storage, video.file.name) == "video/mp4"


def storage_object_type(s3_storage: dict[str, Any], name: str) -> str:
    return MediaStorage(**s3_storage).bucket.Object(name).content_type
