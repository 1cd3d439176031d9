"""Celery tasks: thin and id-taking. The work is in ``catalog.services``."""

import logging

from celery import shared_task

from . import services
from .feeds import CatalogFeedBusy, catalog_feed_sync, catalog_feeds_queue_due
from .importing import product_image_source_fetch
from .models import CatalogFeed, ProductImage, ProductImageSource

logger = logging.getLogger(__name__)


@shared_task(name="catalog.cutout_product_image", acks_late=True, reject_on_worker_lost=True)
def cutout_product_image(image_id: int) -> None:
    """Cut the product out of a newly uploaded photo, so renders find it ready."""
    image = ProductImage.objects.filter(pk=image_id).first()
    if image is None:
        return
    try:
        services.product_image_cutout(image=image)
    except ValueError:
        # The stored file no longer decodes; the same bytes fail the same way next time, and
        # a render that needs the cut-out reports it there.
        logger.warning("Product image %s cannot be cut out", image_id, exc_info=True)


@shared_task(
    name="catalog.fetch_product_image",
    acks_late=True,
    reject_on_worker_lost=True,
    # The fetcher retries 429/5xx and timeouts itself; a crash of the task (database gone) is
    # worth a few more tries later.
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def fetch_product_image(source_id: int) -> None:
    source = ProductImageSource.objects.select_related("product").filter(pk=source_id).first()
    if source is None:
        return
    product_image_source_fetch(source=source)


@shared_task(name="catalog.sync_feed", acks_late=True, reject_on_worker_lost=True)
def sync_feed(feed_id: int) -> None:
    """Fetch one catalog feed and import it if it changed (catalog.feeds). Not retried: the
    fetcher retries what may pass, and a failed sync is tried again at the feed's next due
    time."""
    feed = CatalogFeed.objects.select_related("merchant").filter(pk=feed_id).first()
    if feed is None:
        return
    try:
        catalog_feed_sync(feed=feed)
    except CatalogFeedBusy:
        return  # another worker is on it


@shared_task(name="catalog.sync_due_feeds")
def sync_due_feeds() -> None:
    """Periodic (beat, every minute): queue a sync of every feed that is due."""
    catalog_feeds_queue_due()
