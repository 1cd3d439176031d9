"""A shopper's missing variant, from the storefront's miss to the video, through a real worker."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from personalization.services import bucket_policy_update
from rendering.models import Segment, Video
from tests.support.factories import make_merchant, make_product

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker")]


def test_a_miss_is_rendered_by_the_worker_and_then_served(client: Client) -> None:
    merchant = make_merchant(slug="shop")
    bucket_policy_update(
        merchant=merchant, approved_buckets=["climate=rainy"], allow_public_hints=True
    )
    make_product(merchant, sku="JACKET")
    url = reverse("storefront:video-lookup", args=["shop", "JACKET"])

    first = client.get(url, {"climate": "rainy"}).json()
    assert (first["status"], first["requested"]) == ("pending", "rendering")

    deadline = time.monotonic() + 120
    body = first
    while body["status"] != "ready" and time.monotonic() < deadline:
        time.sleep(0.5)
        body = client.get(url, {"climate": "rainy"}).json()
    assert body["status"] == "ready", Video.objects.values("bucket", "status", "error")
    assert (body["variant"], body["personalized"]) == ("climate=rainy", True)
    video = Video.objects.get(bucket="climate=rainy")
    assert body["video"] == video.pk and body["src"].endswith(video.file.name)
    # Asking again while it rendered planned it once: each of its segments was rendered once.
    # (Only its own: the generic video queued beside it may still be waiting for the worker.)
    assert set(video.parts.values_list("segment__attempts", flat=True)) == {1}
    assert not Segment.objects.filter(attempts__gt=1).exists()
    # With nothing ready at all, the generic video (everyone's stand-in) was queued as well.
    assert Video.objects.get(bucket="generic").status in (
        Video.Status.READY,
        Video.Status.PENDING,
        Video.Status.ASSEMBLING,
    )
