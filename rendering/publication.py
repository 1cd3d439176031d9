"""Which videos are published, and keeping each video's files where its state says.

A video is *published* when the storefront's lookup would serve it (``rendering.visibility``).

Files follow the rule: a published video and its poster are stored under
``scenecart.storage.PUBLISHED_PREFIX`` (``public/``), the only prefix a CDN serves unsigned;
every other video stays under its private name, reachable by presigned URL (S3) or by the
merchant's signed-in staff (local storage). ``video_publication_sync`` moves the two files when
the state changes: approval, rejection, a new recipe, the merchant's policy, the product's
status.
"""

import logging
import shutil
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from catalog.facts import video_facts
from catalog.models import Merchant, Product
from catalog.selectors import product_forget
from personalization.models import BucketPolicy
from scenecart.storage import PUBLISHED_PREFIX

from .models import Video
from .selectors import product_variants_forget
from .visibility import is_published

logger = logging.getLogger(__name__)

# Queued by name from the apps below rendering, which may not import it: a merchant's policy
# (personalization) or a product's status (catalog) changed.
SYNC_TASK = "rendering.sync_publication"


def approval_required(*, merchant_id: int) -> bool:
    """Read from the row, not the storefront's cache: a sync queued by a policy change must
    see that change."""
    return bool(
        BucketPolicy.objects.filter(merchant_id=merchant_id)
        .values_list("require_approval", flat=True)
        .first()
    )


def video_is_published(
    *, video: Video, require_approval: bool | None = None, once_ready: bool = False
) -> bool:
    """Whether the storefront publishes the video's file; ``once_ready``: whether it will
    publish the version being assembled once it replaces the file (so it is stored where it
    will be served from). Facts are read from the rows, not the storefront's cache."""
    product = video.product
    if require_approval is None:
        require_approval = approval_required(merchant_id=product.merchant_id)
    stated = video.planned_facts if once_ready else video.facts
    approval = video.approval
    if once_ready and video.review_on_swap:
        approval = Video.Approval.PENDING
    return is_published(
        has_file=once_ready or bool(video.file),
        approval=approval,
        require_approval=require_approval,
        active=product.status == Product.Status.ACTIVE,
        fresh=stated == video_facts(product),
    )


def published_name(name: str) -> str:
    return name if name.startswith(PUBLISHED_PREFIX) else PUBLISHED_PREFIX + name


def private_name(name: str) -> str:
    return name.removeprefix(PUBLISHED_PREFIX)


def video_publication_sync(*, video: Video, require_approval: bool | None = None) -> Video:
    """Move the video's file and poster under the public prefix if it is published, out of it
    if not. Idempotent; the row is locked so two syncs of one video do not race."""
    with transaction.atomic():
        # The video row only: its product's and merchant's rows are read, not held.
        video = (
            Video.objects.select_for_update(of=("self",))
            .select_related("product__merchant")
            .get(pk=video.pk)
        )
        if not video.file:
            return video
        published = video_is_published(video=video, require_approval=require_approval)
        rename = published_name if published else private_name
        changes = {}
        for field in ("file", "poster"):
            name = getattr(video, field).name
            if name and rename(name) != name:
                changes[field] = _move(name, rename(name))
        if changes:
            Video.objects.filter(pk=video.pk).update(**changes)
            for field, name in changes.items():
                setattr(video, field, name)
    if changes:
        # The storefront's cached table holds the old URLs.
        product_variants_forget(product_id=video.product_id, aspect=video.aspect)
        logger.info("Video %s %s", video.pk, "published" if published else "withdrawn")
    return video


def merchant_publication_sync(*, merchant: Merchant, product_ids: list[int] | None = None) -> int:
    """Sync every video with a file of a merchant (or of some of its products) after a change
    of policy or product status; returns how many videos had files moved."""
    videos = Video.objects.filter(product__merchant=merchant)
    if product_ids is not None:
        videos = videos.filter(product_id__in=product_ids)
    require_approval = approval_required(merchant_id=merchant.pk)
    moved = 0
    for pk, before in videos.exclude(file="").values_list("pk", "file"):
        try:
            after = video_publication_sync(
                video=Video(pk=pk), require_approval=require_approval
            ).file.name
        except OSError:
            # A file gone from storage: the video is broken either way; sync the others.
            logger.exception("Could not move the files of video %s", pk)
            continue
        moved += before != after
    return moved


def product_videos_discard(*, product_ids: list[int]) -> None:
    """Products about to be deleted publish nothing: once the deletion commits, their videos'
    files and posters are deleted too, not left public until the housekeeping sweep. Segments
    stay: they are shared, and the sweep removes those no video uses."""
    files_discard(
        [
            name
            for pair in Video.objects.filter(product_id__in=product_ids).values_list(
                "file", "poster"
            )
            for name in pair
            if name
        ]
    )


def files_discard(names: list[str]) -> None:
    """Delete stored files once the surrounding transaction commits (at once outside one)."""

    def discard() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:
                logger.exception("Could not delete %s", name)

    if names:
        transaction.on_commit(discard)


def _move(name: str, new_name: str) -> str:
    """Move a stored file; the new copy is complete before the old one goes."""
    try:
        source = Path(default_storage.path(name))
    except NotImplementedError:
        source = None
    if source is not None:
        target = Path(default_storage.path(new_name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        return new_name
    if default_storage.exists(new_name):
        default_storage.delete(new_name)
    with default_storage.open(name, "rb") as handle:
        stored = default_storage.save(new_name, File(handle, name=Path(new_name).name))
    default_storage.delete(name)
    return stored


def products_delete(*, product_ids: list[int]) -> int:
    """Delete products and everything they published: their videos' files go once the
    deletion commits, and the storefront answers 404 for them at once. Returns how many."""
    products = Product.objects.filter(pk__in=product_ids)
    skus = list(products.values_list("merchant_id", "sku"))
    with transaction.atomic():
        product_videos_discard(product_ids=product_ids)
        deleted = products.count()
        products.delete()
    for merchant_id, sku in skus:
        product_forget(merchant_id=merchant_id, sku=sku)
    return deleted
