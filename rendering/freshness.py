"""Keeping videos true to the catalog: a change re-plans the videos it touches.

Every path a change arrives by (an admin edit, a re-import, a new photo, the brand kit, a
policy, the Shopify webhook, a feed sync) queues ``rendering.refresh_videos`` after commit.
The refresh re-plans each video of the products concerned: segments are content-addressed, so
only the segments whose inputs changed are rendered (a price change: the offer shot, once per
locale and aspect); the rest are reused, the video is assembled again and replaces its file
(``rendering.services.video_swap``). A video whose recipe did not change costs one planning.

The storefront does not wait for any of this: it compares each video's recorded facts with the
catalog's on every lookup (``rendering.selectors.ProductVariants.fresh``), so a file that
states an old price stops being served the moment the change commits.
"""

import logging
from dataclasses import dataclass, field

from catalog.models import Product
from personalization.context import ShopperContext

from . import dispatch
from .models import Video
from .publication import video_publication_sync
from .services import video_request

logger = logging.getLogger(__name__)

# A refresh of a whole catalog (the brand kit changed) is split into tasks of this many
# products, so no single task holds a worker for the whole catalog.
REFRESH_BATCH = 50


@dataclass
class RefreshReport:
    videos: int = 0  # re-planned
    refreshing: int = 0  # a new version is being made
    unchanged: int = 0  # the same pixels: nothing to render
    refused: int = 0  # the content policy now refuses them
    batches_queued: int = 0
    segments_queued: set[int] = field(default_factory=set)


def videos_refresh(
    *, merchant_id: int, product_ids: list[int] | None = None, reason: str = ""
) -> RefreshReport:
    """Re-plan the videos of these products (every product of the merchant when ``None``,
    in batches queued as tasks of their own). Products that are not active are skipped:
    nothing of theirs is served, and they are re-planned if they come back."""
    report = RefreshReport()
    if product_ids is None:
        ids = list(
            Product.objects.filter(merchant_id=merchant_id, videos__isnull=False)
            .distinct()
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), REFRESH_BATCH):
            dispatch.refresh_videos(
                merchant_id, product_ids=ids[start : start + REFRESH_BATCH], reason=reason
            )
            report.batches_queued += 1
        return report
    products = Product.objects.filter(
        merchant_id=merchant_id, pk__in=product_ids, status=Product.Status.ACTIVE
    ).select_related("merchant")
    for product in products:
        for video in Video.objects.filter(product=product).exclude(recipe_key="").order_by("pk"):
            _video_refresh(video=video, product=product, reason=reason, report=report)
    return report


def _video_refresh(*, video: Video, product: Product, reason: str, report: RefreshReport) -> None:
    recipe_before = video.recipe_key
    report.videos += 1
    request = video_request(
        product=product,
        context=ShopperContext.parse(video.bucket),
        aspect=video.aspect,
        backend_alias=video.requested_backend or None,
        reason=reason,
        retry_failed=False,
    )
    refreshed = request.video
    if refreshed.recipe_key != recipe_before:
        report.refreshing += 1
    elif refreshed.status == Video.Status.FAILED and video.status != Video.Status.FAILED:
        # The content policy now refuses it (video_refuse deleted its file).
        report.refused += 1
    else:
        # The same pixels; or a failed video that nothing it is made of changed (a refresh
        # does not pay again for a render that failed).
        report.unchanged += 1
    report.segments_queued.update(s.pk for s in request.to_render)
    # A file that no longer states the facts leaves the public prefix (a no-op otherwise).
    video_publication_sync(video=refreshed)
