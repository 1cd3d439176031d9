"""Reads of the rendering core."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from catalog.models import Product

from .models import Segment, Video


@dataclass(frozen=True, slots=True)
class Variant:
    """One video of a product as the storefront needs it: no ORM object, cheap to cache."""

    video_id: int
    status: str
    file: str
    poster: str
    error: str
    planned: bool  # segments chosen (False: the storefront asked, planning has not run yet)
    updated_at: datetime

    @property
    def ready(self) -> bool:
        return self.status == Video.Status.READY and bool(self.file)


@dataclass(frozen=True, slots=True)
class ProductVariants:
    product_id: int
    variants: dict[str, Variant] = field(default_factory=dict)  # bucket -> variant


def _variants_key(product_id: int, aspect: str) -> str:
    return f"variants:{product_id}:{aspect}"


def _sku_key(merchant_id: int, sku: str) -> str:
    return f"sku:{merchant_id}:{hashlib.sha256(sku.encode()).hexdigest()[:32]}"


def product_variants(*, merchant_id: int, sku: str, aspect: str) -> ProductVariants | None:
    """The videos of a product in one aspect, by bucket; ``None`` for an unknown SKU.

    Cached for SCENECART_LOOKUP_CACHE_SECONDS in the shared cache; rendering services drop
    the entry whenever one of these videos changes (``product_variants_forget``).
    """
    ttl = settings.SCENECART_LOOKUP_CACHE_SECONDS
    product_id = cache.get(_sku_key(merchant_id, sku)) if ttl else None
    if product_id is None:
        product_id = (
            Product.objects.filter(merchant_id=merchant_id, sku=sku)
            .values_list("pk", flat=True)
            .first()
        )
        if product_id is None:
            return None
        if ttl:
            cache.set(_sku_key(merchant_id, sku), product_id, ttl)
    found = cache.get(_variants_key(product_id, aspect)) if ttl else None
    if isinstance(found, ProductVariants):
        return found
    rows = Video.objects.filter(product_id=product_id, aspect=aspect).values_list(
        "pk", "bucket", "status", "file", "poster", "error", "recipe_key", "updated_at"
    )
    found = ProductVariants(
        product_id=product_id,
        variants={
            bucket: Variant(pk, status, file, poster, error, bool(recipe), updated)
            for pk, bucket, status, file, poster, error, recipe, updated in rows
        },
    )
    if ttl:
        cache.set(_variants_key(product_id, aspect), found, ttl)
    return found


def product_variants_forget(*, product_id: int, aspect: str) -> None:
    cache.delete(_variants_key(product_id, aspect))


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
