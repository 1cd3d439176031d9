"""Reads of the rendering core."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet, Sum
from django.utils import timezone

from catalog.facts import facts_changed, facts_key, video_facts
from catalog.models import Merchant, Product
from catalog.selectors import product_for_storefront, storefront_logo
from scenecart.cache import forget, read_through

from .models import BulkItem, BulkJob, Segment, Video
from .visibility import is_published


@dataclass(frozen=True, slots=True)
class Variant:
    """One video of a product as the storefront needs it: no ORM object, cheap to cache."""

    video_id: int
    status: str  # of the newest version (a refresh under way: pending, while the file plays)
    src: str  # the storage URL of the finished file and poster ("" until there is one)
    poster: str
    error: str
    planned: bool  # segments chosen (False: the storefront asked, planning has not run yet)
    updated_at: datetime
    approval: str = Video.Approval.PENDING
    public_id: str = ""  # names the video's provenance page
    facts_key: str = ""  # of the product facts its file states (catalog.facts)
    logo: str = ""  # the logo its file closes on

    @property
    def ready(self) -> bool:
        return bool(self.src)


@dataclass(frozen=True, slots=True)
class ProductVariants:
    """A product's videos in one aspect, by bucket, with the product's facts as they are now:
    a video whose file states other facts is stale and never served."""

    product_id: int
    variants: dict[str, Variant] = field(default_factory=dict)  # bucket -> variant
    facts_key: str = ""
    logo: str = ""

    def fresh(self, variant: Variant) -> bool:
        return variant.facts_key == self.facts_key and variant.logo == self.logo

    def servable(self, variant: Variant, *, require_approval: bool) -> bool:
        """Published: a finished file that states the product's facts as they are now, never
        rejected, and approved where the merchant requires it."""
        return is_published(
            has_file=bool(variant.src),
            approval=variant.approval,
            require_approval=require_approval,
            fresh=self.fresh(variant),
        )


def _variants_key(product_id: int, aspect: str) -> str:
    return f"variants:v4:{product_id}:{aspect}"


def product_variants(*, merchant: Merchant, sku: str, aspect: str) -> ProductVariants | None:
    """The videos of an active product in one aspect, by bucket, with its facts as they are
    now; ``None`` for an unknown SKU or a product that is a draft or archived (the storefront
    shows neither).

    Read through the two-level cache (scenecart.cache) for SCENECART_LOOKUP_CACHE_SECONDS:
    rendering services drop the table whenever one of these videos changes
    (``product_variants_forget``), catalog services drop the product's entry whenever its facts
    or status change. Storage URLs are made here, once per entry, not per request.
    """
    product = product_for_storefront(merchant_id=merchant.pk, sku=sku)
    if product is None:
        return None
    table = read_through(
        _variants_key(product.id, aspect),
        ttl=settings.SCENECART_LOOKUP_CACHE_SECONDS,
        load=lambda: _variants_of(product.id, aspect),
    )
    return replace(table, facts_key=product.facts_key, logo=storefront_logo(merchant))


def _variants_of(product_id: int, aspect: str) -> ProductVariants:
    rows = Video.objects.filter(product_id=product_id, aspect=aspect).values_list(
        "pk", "bucket", "status", "file", "poster", "error", "recipe_key", "updated_at", "approval",
        "public_id", "facts",
    )  # fmt: skip
    variants = {}
    for (
        pk,
        bucket,
        status,
        file,
        poster,
        error,
        recipe,
        updated,
        approval,
        public_id,
        facts,
    ) in rows:
        variants[bucket] = Variant(
            video_id=pk,
            status=status,
            src=default_storage.url(file) if file else "",
            poster=default_storage.url(poster) if file and poster else "",
            error=error,
            planned=bool(recipe),
            updated_at=updated,
            approval=approval,
            public_id=str(public_id),
            facts_key=facts_key(facts),
            logo=facts.get("logo", ""),
        )
    return ProductVariants(product_id=product_id, variants=variants)


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


def month_start(now: datetime | None = None) -> datetime:
    """Midnight on the first of the current month, in the project's time zone."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def merchant_spend_this_month(*, merchant: Merchant, excluding: Segment | None = None) -> Decimal:
    """USD committed this calendar month: every paid segment planned since the first,
    rendered or on its way (a failed render is not charged); ``excluding`` one of them."""
    segments = Segment.objects.filter(
        merchant=merchant, created_at__gte=month_start(), cost__gt=0
    ).exclude(status=Segment.Status.FAILED)
    if excluding is not None:
        segments = segments.exclude(pk=excluding.pk)
    return segments.aggregate(total=Sum("cost"))["total"] or Decimal("0")


@dataclass(frozen=True, slots=True)
class BulkFailure:
    item_id: int
    sku: str
    title: str
    bucket: str
    aspect: str
    reason: str


@dataclass(frozen=True, slots=True)
class BulkProgress:
    """How far a bulk job is, from its items and the videos they point at."""

    job_id: int
    total: int
    done: int
    failed: int
    remaining: int
    state: str  # "planning", "rendering", "finished"
    segments_total: int
    segments_ready: int
    eta_seconds: float | None
    stopped_reason: str
    failures: list[BulkFailure]

    @property
    def percent(self) -> int:
        """Share of items settled (ready or failed), rounded down: 100 only when all are."""
        return 100 if not self.total else (100 * (self.done + self.failed)) // self.total

    def to_dict(self) -> dict[str, object]:
        return {
            "job": self.job_id,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "remaining": self.remaining,
            "percent": self.percent,
            "state": self.state,
            "segments_total": self.segments_total,
            "segments_ready": self.segments_ready,
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "stopped_reason": self.stopped_reason,
            "failures": [
                {
                    "item": f.item_id,
                    "sku": f.sku,
                    "title": f.title,
                    "bucket": f.bucket,
                    "aspect": f.aspect,
                    "reason": f.reason,
                }
                for f in self.failures
            ],
        }


def bulk_progress(*, job: BulkJob, failures_limit: int = 200) -> BulkProgress:
    """Done (video ready), failed (video failed, held by the budget, or not plannable) and
    remaining items of a bulk job, with an ETA from the pace of its renders so far."""
    columns = [
        "pk", "state", "error", "video_id", "video__status", "video__error",
        "product__sku", "product__title", "bucket", "aspect",
    ]  # fmt: skip
    rows = list(job.items.values_list(*columns))
    done = failed = 0
    failures: list[BulkFailure] = []
    video_ids = []
    for pk, state, error, video_id, video_status, video_error, sku, title, bucket, aspect in rows:
        if video_id:
            video_ids.append(video_id)
        reason = ""
        if state in (BulkItem.State.HELD, BulkItem.State.ERROR):
            reason = error
        elif state == BulkItem.State.SUBMITTED and video_status == Video.Status.FAILED:
            reason = video_error or "The render failed."
        elif state == BulkItem.State.SUBMITTED and video_status == Video.Status.READY:
            done += 1
            continue
        else:
            continue
        failed += 1
        if len(failures) < failures_limit:
            failures.append(BulkFailure(pk, sku, title, bucket, aspect, reason))
    total = len(rows)
    remaining = total - done - failed
    segments = Segment.objects.filter(parts__video_id__in=video_ids).distinct()
    segments_total = segments.count()
    segments_ready = segments.filter(status=Segment.Status.READY).count()
    if job.submitted_at is None and remaining:
        state = "planning"
    elif remaining:
        state = "rendering"
    else:
        state = "finished"
    return BulkProgress(
        job_id=job.pk,
        total=total,
        done=done,
        failed=failed,
        remaining=remaining,
        state=state,
        segments_total=segments_total,
        segments_ready=segments_ready,
        eta_seconds=_eta(job, segments, remaining, segments_total - segments_ready),
        stopped_reason=job.stopped_reason,
        failures=failures,
    )


def _eta(
    job: BulkJob, segments: QuerySet[Segment], remaining: int, segments_left: int
) -> float | None:
    """Seconds until the job is done at the pace of the segments rendered since it started;
    before the first one, the estimate shown when the job was confirmed, less time spent."""
    if not remaining:
        return 0.0
    elapsed = (timezone.now() - job.created_at).total_seconds()
    rendered = segments.filter(rendered_at__gte=job.created_at).count()
    if rendered and segments_left:
        return elapsed / rendered * segments_left
    planned = float(job.estimate.get("wall_seconds") or 0)
    return max(planned - elapsed, 0.0) if planned else None


@dataclass(frozen=True, slots=True)
class ReviewedVariant:
    video: Video
    refreshing: str  # why a new version is being made ("" if none), as the merchant reads it
    withheld: bool  # its file states facts the catalog has changed: shoppers do not get it


def variants_for_review(*, product: Product) -> list[ReviewedVariant]:
    """Every variant of a product for its review grid: by aspect, the generic video first."""
    videos = list(Video.objects.filter(product=product).select_related("reviewed_by"))
    videos.sort(key=lambda v: (v.aspect, v.bucket != "generic", v.bucket))
    current = video_facts(product)
    return [ReviewedVariant(video, *_refresh_state(video, current)) for video in videos]


def _refresh_state(video: Video, current_facts: dict[str, str]) -> tuple[str, bool]:
    """Why the video is being re-made ("" if not), and whether its file is withheld from
    shoppers because it states facts the catalog has changed."""
    changed = facts_changed(video.facts, current_facts) if video.file else []
    return video_refreshing(video=video, changed=changed), bool(changed)


def video_refreshing(*, video: Video, changed: list[str]) -> str:
    """Why the video is being re-made, or "" when it is not: the facts its file states that
    the catalog has changed since (``changed``), else the change that asked for a new
    version (brand colors, music)."""
    if changed:
        return ", ".join(changed) + " changed"
    if video.refresh_reason and video.status in (Video.Status.PENDING, Video.Status.ASSEMBLING):
        return video.refresh_reason
    return ""


@dataclass(frozen=True, slots=True)
class RefreshingVideo:
    sku: str
    bucket: str
    aspect: str
    reason: str
    withheld: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "bucket": self.bucket,
            "aspect": self.aspect,
            "reason": self.reason,
            "withheld": self.withheld,
        }


def videos_refreshing(*, videos: QuerySet[Video]) -> list[RefreshingVideo]:
    """The finished videos among ``videos`` that are being re-made, with why."""
    found = []
    facts_of: dict[int, dict[str, str]] = {}
    for video in videos.exclude(file="").select_related("product").order_by("product", "pk"):
        if video.product_id not in facts_of:
            facts_of[video.product_id] = video_facts(video.product)
        reason, withheld = _refresh_state(video, facts_of[video.product_id])
        if reason:
            found.append(
                RefreshingVideo(video.product.sku, video.bucket, video.aspect, reason, withheld)
            )
    return found
