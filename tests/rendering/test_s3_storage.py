"""Storage on a real S3-compatible server over HTTP (moto in server mode): what the render
pipeline writes lands in the bucket, reads back byte for byte, and reaches a browser through
presigned URLs, with nothing left on the local disk."""

import json
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.core.management import call_command
from storages.backends.s3 import S3Storage

from catalog.models import ProductImage
from personalization.context import ShopperContext
from rendering.models import Segment, Video
from rendering.services import segment_render, video_assemble, video_request
from tests.support.factories import make_merchant, make_product
from videokit.media import probe

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


@pytest.fixture
def bucket(s3_storage: dict[str, Any]) -> Any:
    """The test's bucket, seen through boto3 directly rather than through the app's storage."""
    return boto3.resource(
        "s3",
        endpoint_url=s3_storage["endpoint_url"],
        region_name=s3_storage["region_name"],
        aws_access_key_id=s3_storage["access_key"],
        aws_secret_access_key=s3_storage["secret_key"],
    ).Bucket(s3_storage["bucket_name"])


def render_video(product, context: str = "", aspect: str = "16:9") -> Video:  # type: ignore[no-untyped-def]
    request = video_request(product=product, context=ShopperContext.parse(context), aspect=aspect)
    for segment in request.segments:
        segment_render(segment=segment)
    return video_assemble(video=request.video)


def object_bytes(bucket: Any, key: str) -> bytes:
    return bucket.Object(key).get()["Body"].read()


def expires_in(url: str) -> float:
    """Seconds a presigned URL stays valid, whichever signature version signed it."""
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in query:  # SigV4
        return float(query["X-Amz-Expires"][0])
    return float(query["Expires"][0]) - time.time()  # SigV2: an absolute epoch


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_default_storage_is_the_s3_bucket(s3_storage: dict[str, Any]) -> None:
    # setting_changed reset the cached storages: the default and every FileField use S3 now.
    assert isinstance(storages["default"], S3Storage)
    assert isinstance(default_storage, S3Storage)
    assert default_storage.bucket_name == s3_storage["bucket_name"]
    assert default_storage.endpoint_url == s3_storage["endpoint_url"]
    assert isinstance(Video._meta.get_field("file").storage, S3Storage)


def test_a_rendered_video_lives_in_the_bucket(
    bucket: Any, s3_storage: dict[str, Any], media_root: Path, tmp_path: Path
) -> None:
    product = make_product(make_merchant(slug="rain-shop"), sku="JACKET")
    video = render_video(product, "climate=rainy,aesthetic=cozy")
    assert video.status == Video.Status.READY, video.error

    stored = {obj.key for obj in bucket.objects.all()}
    segments = list(Segment.objects.order_by("kind"))
    assert len(segments) == 4
    for segment in segments:
        name = f"segments/{segment.key[:2]}/{segment.key}.mp4"
        assert segment.file.name == name
        assert name in stored
    assert video.file.name.startswith("public/videos/rain-shop/jacket/")
    assert video.file.name.endswith(".mp4")
    assert video.poster.name == video.file.name.removesuffix(".mp4") + ".jpg"
    assert {video.file.name, video.poster.name} <= stored
    # The product's cut-out and the music bed are stored there too.
    image = ProductImage.objects.get(product=product)
    assert image.cutout.name and image.cutout.name in stored
    assert image.file.name in stored
    beds = [key for key in stored if key.startswith("audio/beds/cozy-") and key.endswith(".m4a")]
    assert len(beds) == 1

    # What the app reads back is what the server holds.
    for name in (video.file.name, video.poster.name, segments[0].file.name, image.cutout.name):
        with default_storage.open(name, "rb") as handle:
            assert handle.read() == object_bytes(bucket, name)

    # A browser gets the files through short-lived presigned URLs.
    url = video.file.url
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == s3_storage["endpoint_url"]
    assert expires_in(url) == pytest.approx(300, abs=10)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.content == object_bytes(bucket, video.file.name)
    poster = requests.get(video.poster.url, timeout=10)
    assert poster.status_code == 200
    assert poster.headers["Content-Type"] == "image/jpeg"
    assert poster.content == object_bytes(bucket, video.poster.name)
    # An unsigned request is refused: the objects are private.
    unsigned = requests.get(url.split("?", 1)[0], timeout=10)
    assert unsigned.status_code == 403

    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(response.content)
    found = probe(downloaded)
    assert (found.width, found.height, found.codec, found.pix_fmt) == (320, 180, "h264", "yuv420p")
    assert found.duration == pytest.approx(4.0, abs=0.15)
    assert found.has_audio and found.audio_codec == "aac"

    assert files_under(media_root) == []


def test_a_segment_ready_in_the_bucket_is_reused_by_the_next_request(
    bucket: Any, media_root: Path
) -> None:
    product = make_product(make_merchant())
    rainy = render_video(product, "climate=rainy")
    assert rainy.status == Video.Status.READY, rainy.error
    stamps = {obj.key: (obj.last_modified, obj.e_tag) for obj in bucket.objects.all()}

    sunny = video_request(
        product=product, context=ShopperContext.parse("climate=sunny"), aspect="16:9"
    )
    # Only the scene shows the weather; hero, offer and outro come from the bucket.
    assert [s.kind for s in sunny.to_render] == ["scene"]
    for segment in sunny.segments:
        segment_render(segment=segment)
    video = video_assemble(video=sunny.video)
    assert video.status == Video.Status.READY, video.error
    reused = Segment.objects.exclude(kind="scene")
    assert reused.count() == 3
    for segment in reused:
        assert segment.attempts == 1
        key = segment.file.name
        obj = bucket.Object(key)
        assert (obj.last_modified, obj.e_tag) == stamps[key]
    assert Segment.objects.filter(kind="scene").count() == 2
    assert files_under(media_root) == []


def settings_s3_options(s3_storage: dict[str, Any]) -> dict[str, Any]:
    """The default storage OPTIONS scenecart/settings/base.py builds under SCENECART_STORAGE=s3
    with AWS_* aimed at this bucket, read in a fresh process so the module is imported once."""
    env = {
        **os.environ,
        "SCENECART_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": s3_storage["bucket_name"],
        "AWS_ACCESS_KEY_ID": s3_storage["access_key"],
        "AWS_SECRET_ACCESS_KEY": s3_storage["secret_key"],
        "AWS_S3_REGION_NAME": s3_storage["region_name"],
        "AWS_S3_ENDPOINT_URL": s3_storage["endpoint_url"],
    }
    code = (
        "import json; from scenecart.settings import base; "
        "print(json.dumps(base.STORAGES['default']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    configured = json.loads(out)
    assert configured["BACKEND"] == "scenecart.storage.MediaStorage"
    return configured["OPTIONS"]


def test_the_settings_s3_storage_serves_private_files_through_presigned_urls(
    s3_storage: dict[str, Any],
) -> None:
    storage = S3Storage(**settings_s3_options(s3_storage))
    name = storage.save("videos/shop/probe.mp4", ContentFile(b"not really a video"))
    response = requests.get(storage.url(name), timeout=10)
    assert response.status_code == 200
    assert response.content == b"not really a video"
    assert response.headers["Content-Type"] == "video/mp4"
    assert requests.get(storage.url(name).split("?", 1)[0], timeout=10).status_code == 403


def test_the_settings_s3_storage_presigns_with_sigv4(s3_storage: dict[str, Any]) -> None:
    """SigV2 presigned URLs are refused by buckets made since 2020 (boto/boto3#2680)."""
    storage = S3Storage(**settings_s3_options(s3_storage))
    query = parse_qs(urlsplit(storage.url("videos/shop/any.mp4")).query)
    assert query.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]


@pytest.fixture
def worker_on_s3(s3_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a Celery worker needs to use this test's bucket. Request it before
    ``celery_worker``, which copies os.environ when it starts the worker."""
    monkeypatch.setenv("SCENECART_STORAGE", "s3")
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", s3_storage["bucket_name"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_storage["access_key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_storage["secret_key"])
    monkeypatch.setenv("AWS_S3_REGION_NAME", s3_storage["region_name"])
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", s3_storage["endpoint_url"])
    monkeypatch.setenv("AWS_QUERYSTRING_EXPIRE", str(s3_storage["querystring_expire"]))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_renders_into_the_bucket(
    worker_on_s3: None, celery_worker: Any, bucket: Any, media_root: Path, tmp_path: Path
) -> None:
    make_product(make_merchant(slug="shop"), sku="JACKET")
    out = StringIO()
    call_command(
        "generate_videos",
        *("--merchant", "shop", "--all", "--contexts", "climate=rainy", "--aspects", "16:9"),
        *("--wait", "--timeout", "180", "--json"),
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert summary["videos_ready"] == 1 and summary["videos_failed"] == 0
    video = Video.objects.get()
    stored = {obj.key for obj in bucket.objects.all()}
    assert {video.file.name, video.poster.name} <= stored
    assert {s.file.name for s in Segment.objects.all()} <= stored
    response = requests.get(video.file.url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "video/mp4"
    downloaded = tmp_path / "worker.mp4"
    downloaded.write_bytes(response.content)
    found = probe(downloaded)
    assert (found.width, found.height, found.has_audio) == (320, 180, True)
    assert found.duration == pytest.approx(4.0, abs=0.15)
    assert files_under(media_root) == []
