"""Waiting for a real worker to make or refresh videos, and reading the storefront's answer."""

import time
from collections.abc import Callable
from datetime import datetime

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from rendering.models import Segment, Video
from rendering.services import video_request_once


def lookup(client: Client, merchant: str, sku: str, **hints: str) -> dict[str, object]:
    """The storefront's answer for a shopper, with its HTTP status as ``http``."""
    response = client.get(reverse("storefront:video-lookup", args=[merchant, sku]), hints)
    return {"http": response.status_code, **response.json()}


def wait_until(check: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            videos = list(Video.objects.values("product__sku", "bucket", "status", "error"))
            pytest.fail(f"{what} did not happen within {timeout:.0f} s: {videos}")
        time.sleep(0.3)


def videos_made_by_the_worker(product: Product, buckets: tuple[str, ...]) -> None:
    """The product's videos in these buckets (16:9), planned and made by the worker as the
    storefront asks for them: planned there, their segments carry the worker's renderer in
    their keys, as every later refresh's will."""
    for bucket in buckets:
        video_request_once(product_id=product.pk, bucket=bucket, aspect="16:9")
    wait_until(
        lambda: (
            Video.objects.filter(product=product, status=Video.Status.READY).count() == len(buckets)
        ),
        f"{product.sku}'s videos",
    )


def served_anew(
    client: Client, merchant: str, sku: str, old_src: object, **hints: str
) -> Callable[[], bool]:
    """Whether the storefront now answers "ready" with another file than ``old_src``."""

    def check() -> bool:
        answer = lookup(client, merchant, sku, **hints)
        return answer["status"] == "ready" and answer["src"] not in (None, old_src)

    return check


def rendered_since(moment: datetime) -> list[str]:
    """The kinds of the segments rendered since ``moment``, sorted."""
    return sorted(Segment.objects.filter(rendered_at__gte=moment).values_list("kind", flat=True))


def all_videos_settled() -> bool:
    return not Video.objects.exclude(status=Video.Status.READY).exists()
