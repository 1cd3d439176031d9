"""The catalog's tasks, and rendering's that catalog changes call for, queued by name after
commit (``scenecart.dispatch``). Catalog does not import rendering: it names the task."""

from collections.abc import Iterable

from scenecart.dispatch import queue_on_commit

CUTOUT_PRODUCT_IMAGE = "catalog.cutout_product_image"
FETCH_PRODUCT_IMAGE = "catalog.fetch_product_image"
# rendering.dispatch.SYNC_PUBLICATION: a product's status decides whether its videos are public.
SYNC_PUBLICATION = "rendering.sync_publication"
# rendering.dispatch.REFRESH_VIDEOS: a change of what videos show re-plans them (only the
# segments whose inputs changed are rendered again) and swaps the new video in.
REFRESH_VIDEOS = "rendering.refresh_videos"


def cutout_product_image(image_id: int) -> None:
    queue_on_commit(CUTOUT_PRODUCT_IMAGE, image_id)


def fetch_product_images(source_ids: Iterable[int]) -> None:
    for pk in source_ids:
        queue_on_commit(FETCH_PRODUCT_IMAGE, pk)


def sync_publication(merchant_id: int, *, product_ids: list[int] | None = None) -> None:
    if product_ids is None:
        queue_on_commit(SYNC_PUBLICATION, merchant_id)
    else:
        queue_on_commit(SYNC_PUBLICATION, merchant_id, product_ids=product_ids)


def refresh_videos(merchant_id: int, *, product_ids: list[int] | None = None, reason: str) -> None:
    """Re-plan the videos of these products (all of the merchant's when ``None``) after a
    change; ``reason`` is what the merchant sees while they refresh ("brand colors changed")."""
    queue_on_commit(REFRESH_VIDEOS, merchant_id, product_ids=product_ids, reason=reason)


SYNC_FEED = "catalog.sync_feed"


def sync_feed(feed_id: int) -> None:
    queue_on_commit(SYNC_FEED, feed_id)
