"""Celery tasks: thin and id-taking. The work is in ``catalog.services``."""

import logging

from celery import shared_task

from . import services
from .importing import product_image_source_fetch
from .models import ProductImage, ProductImageSource

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
