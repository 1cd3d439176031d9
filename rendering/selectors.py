"""Reads of the rendering core."""

from django.db.models import QuerySet

from catalog.models import Product

from .models import Segment, Video


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
