"""Reads of the rendering core."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from catalog.models import Product
from scenecart.cache import forget, read_through

from .models import Segment, Video


@dataclass(frozen=True, slots=True)
class Variant:
    """One video of a product as the storefront needs it: no ORM object, cheap to cache."""

    video_id: int
    status: str
    src: str  # the storage URL of the file and poster ("" until ready)
    poster: str
    error: str
    planned: bool  # segments chosen (False: the storefront asked, planning has not run yet)
    updated_at: datetime

    @property
    def ready(self) -> bool:
        return self.status == Video.Status.READY and bool(self.src)


@dataclass(frozen=True, slots=True)
class ProductVariants:
    product_id: int
    variants: dict[str, Variant] = field(default_factory=dict)  # bucket -> variant


def _variants_key(product_id: int, aspect: str) -> str:
    return f"variants:{product_id}:{aspect}"


@lru_cache(maxsize=4096)
def _sku_key(merchant_id: int, sku: str) -> str:
    return f"sku:{merchant_id}:{hashlib.sha256(sku.encode()).hexdigest()[:32]}"


def product_variants(*, merchant_id: int, sku: str, aspect: str) -> ProductVariants | None:
    """The videos of an active product in one aspect, by bucket; ``None`` for an unknown SKU
    or a product that is a draft or archived (the storefront shows neither).

    Read through the two-level cache (scenecart.cache) for SCENECART_LOOKUP_CACHE_SECONDS;
    rendering services drop the entry whenever one of these videos changes
    (``product_variants_forget``). Storage URLs are made here, once per entry, not per request.
    """
    ttl = settings.SCENECART_LOOKUP_CACHE_SECONDS
    product_id = read_through(
        _sku_key(merchant_id, sku),
        ttl=ttl,
        load=lambda: (
            Product.objects.filter(merchant_id=merchant_id, sku=sku, status=Product.Status.ACTIVE)
            .values_list("pk", flat=True)
            .first()
        ),
    )
    if product_id is None:
        return None
    return read_through(
        _variants_key(product_id, aspect),
        ttl=ttl,
        load=lambda: _variants_of(product_id, aspect),
    )


def _variants_of(product_id: int, aspect: str) -> ProductVariants:
    rows = Video.objects.filter(product_id=product_id, aspect=aspect).values_list(
        "pk", "bucket", "status", "file", "poster", "error", "recipe_key", "updated_at"
    )
    return ProductVariants(
        product_id=product_id,
        variants={
            bucket: Variant(
                video_id=pk,
                status=status,
                src=default_storage.url(file) if file and status == Video.Status.READY else "",
                poster=default_storage.url(poster)
                if poster and status == Video.Status.READY
                else "",
                error=error,
                planned=bool(recipe),
                updated_at=updated,
            )
            for pk, bucket, status, file, poster, error, recipe, updated in rows
        },
    )


def product_variants_forget(*, product_id: int, aspect: str) -> None:
    forget(_variants_key(product_id, aspect))


def video_for_bucket(*, product: Product, bucket: str, aspect: str) -> Video | None:
    return Video.objects.filter(product=product, bucket=bucket, aspect=aspect).first()


def videos_waiting_for(*, segment: Segment) -> QuerySet[Video]:
    """Unfinished videos that include this segment."""
    return (
        Video.objects.filter(parts__segment=segment)
        .exclude(status__in=[Video.Status.READY, Video.Status.FAILED])
        .distinct()
    )


def videos_for_products(*, products: list[Product], aspect: str) -> dict[int, list[Video]]:
    """Each product's videos in one aspect, generic first, for listing pages."""
    found: dict[int, list[Video]] = {product.pk: [] for product in products}
    videos = Video.objects.filter(product__in=products, aspect=aspect).order_by("bucket")
    for video in videos:
        found[video.product_id].append(video)
    for product_videos in found.values():
        product_videos.sort(key=lambda v: (v.bucket != "generic", v.bucket))
    return found
