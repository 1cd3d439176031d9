"""Bulk generation: a merchant's "generate videos for these products" as one job.

The flow, the same from the admin and from ``generate_videos``:

1. ``generation_estimate`` (a read) plans every product × context × aspect without rendering
   anything and says what the job would do: segments already in the cache against segments to
   render, the price of the new paid work, how long the renders take at the speed this
   installation has measured, and where that leaves the merchant's monthly budget.
2. ``bulk_job_create`` records the confirmed job and one ``BulkItem`` per video, and queues
   ``rendering.submit_bulk_job``. Planning runs in a worker, never in the merchant's request.
3. ``bulk_job_submit`` hands each item to ``video_request`` (which renders only missing
   segments), checking the budget before every piece of paid work under a lock on the merchant,
   so two jobs cannot both spend the last dollar. Once the budget is reached, no new paid work
   is submitted; free work (cached segments, the built-in renderer) goes on.
4. ``bulk_progress`` (in ``rendering.selectors``) reads how far the job's videos are.
5. ``bulk_job_retry`` puts failed and held items back in the queue.
"""

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from catalog.models import BrandKit, Merchant, Product
from personalization.content_policy import ContentPolicyRefusal
from personalization.context import ShopperContext

from . import dispatch
from .backends import backend_for
from .models import BulkItem, BulkJob, Segment, Video
from .profiles import profile_for
from .selectors import merchant_spend_this_month
from .services import (
    SegmentSpec,
    VideoRequest,
    music_of,
    recipe_key,
    segment_specs,
    video_request,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# Work-seconds per second of video when this installation has not measured a backend yet.
# The built-in renderer's figure is bench/local_renderer.py's 720p speed on one core; a
# provider's is a typical queue-and-generate time.
UNMEASURED_SECONDS_PER_SECOND = {"local": 1.0}
UNMEASURED_REMOTE_SECONDS_PER_SECOND = 12.0
# How many recent renders the measured speed is taken from.
SPEED_SAMPLE = 200


class GenerationError(ValueError):
    """A bulk generation request that cannot run; the message says why."""


@dataclass(frozen=True)
class GenerationEstimate:
    """What a bulk generation would do, before anything is queued."""

    products: int
    videos: int
    videos_ready: int  # already ready exactly as planned: nothing to do
    segments_needed: int  # segment slots over all videos
    segments_unique: int
    segments_cached: int  # unique segments already rendered
    segments_in_progress: int  # unique segments another job is rendering
    segments_to_render: int
    seconds_to_render: float  # seconds of video still to render
    cost: Decimal  # USD of new paid work
    work_seconds: float  # render time, summed over workers
    wall_seconds: float  # render time with SCENECART_RENDER_PARALLELISM renders at once
    speed_measured: bool
    budget: Decimal | None
    spent_this_month: Decimal
    products_without_image: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # SKU -> the content policy's reason

    @property
    def budget_left(self) -> Decimal | None:
        return (
            None if self.budget is None else max(Decimal("0"), self.budget - self.spent_this_month)
        )

    @property
    def over_budget(self) -> bool:
        left = self.budget_left
        return left is not None and self.cost > left

    def to_dict(self) -> dict[str, Any]:
        return {
            "products": self.products,
            "videos": self.videos,
            "videos_ready": self.videos_ready,
            "segments_needed": self.segments_needed,
            "segments_unique": self.segments_unique,
            "segments_cached": self.segments_cached,
            "segments_in_progress": self.segments_in_progress,
            "segments_to_render": self.segments_to_render,
            "seconds_to_render": round(self.seconds_to_render, 2),
            "cost": str(self.cost),
            "work_seconds": round(self.work_seconds, 1),
            "wall_seconds": round(self.wall_seconds, 1),
            "speed_measured": self.speed_measured,
            "budget": None if self.budget is None else str(self.budget),
            "spent_this_month": str(self.spent_this_month),
            "over_budget": self.over_budget,
            "products_without_image": self.products_without_image,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class SubmitReport:
    submitted: int
    held: int
    errors: int
    slots: int  # segment slots of the submitted videos
    to_render: frozenset[int]  # segments that were not ready when submitted


def generation_choices(
    *, contexts: list[str], aspects: list[str], backend: str | None
) -> tuple[list[ShopperContext], list[str], str]:
    """Parse and check what a merchant asked for; ContextError, UnknownAspect or
    ImproperlyConfigured name the bad value."""
    parsed = list(dict.fromkeys(ShopperContext.parse(text) for text in contexts or ["generic"]))
    shapes = list(dict.fromkeys(profile_for(a).aspect for a in aspects or ["16:9"]))
    alias = backend_for(backend).alias
    return parsed, shapes, alias


def seconds_per_second(*, backend: str) -> tuple[float, bool]:
    """Render time per second of video on this backend, from this installation's recent
    renders; ``(figure, measured)``."""
    recent = (
        Segment.objects.filter(
            backend=backend,
            status=Segment.Status.READY,
            render_seconds__isnull=False,
            duration__gt=0,
        )
        .order_by("-rendered_at")
        .values_list("pk", flat=True)[:SPEED_SAMPLE]
    )
    totals = Segment.objects.filter(pk__in=list(recent)).aggregate(
        work=Sum("render_seconds"), video=Sum("duration")
    )
    if totals["work"] and totals["video"]:
        return totals["work"] / totals["video"], True
    alias_class = type(backend_for(backend))
    synchronous = getattr(alias_class, "synchronous", True)
    guess = UNMEASURED_SECONDS_PER_SECOND.get(
        backend, 1.0 if synchronous else UNMEASURED_REMOTE_SECONDS_PER_SECOND
    )
    return guess, False


def _plan(
    *,
    products: list[Product],
    contexts: list[ShopperContext],
    aspects: list[str],
    backend: str,
    make_cutouts: bool,
    refused: dict[str, str] | None = None,
) -> dict[tuple[int, str, str], list[SegmentSpec]]:
    """Every video's segment specs, keyed by (product id, bucket, aspect). Videos the content
    policy refuses are left out and, with ``refused``, recorded there by SKU; without it the
    refusal is raised."""
    seeds = {
        (product_id, bucket, aspect): seed
        for product_id, bucket, aspect, seed in Video.objects.filter(
            product__in=products, seed__gt=0
        ).values_list("product_id", "bucket", "aspect", "seed")
    }
    planned = {}
    for product in products:
        for context in contexts:
            for aspect in aspects:
                try:
                    planned[(product.pk, context.bucket, aspect)] = segment_specs(
                        product=product,
                        context=context,
                        aspect=aspect,
                        backend_alias=backend,
                        seed=seeds.get((product.pk, context.bucket, aspect), 0),
                        make_cutouts=make_cutouts,
                    )
                except ContentPolicyRefusal as refusal:
                    if refused is None:
                        raise
                    refused.setdefault(product.sku, str(refusal))
    return planned


def generation_estimate(
    *,
    merchant: Merchant,
    products: list[Product],
    contexts: list[ShopperContext],
    aspects: list[str],
    backend: str,
) -> GenerationEstimate:
    """What generating these videos would render, cost and take; queues nothing.

    Products whose cutout is not made yet are planned without it (their segments count as to
    render), so an estimate of a whole catalog never does image work in the request.
    """
    refused: dict[str, str] = {}
    planned = _plan(
        products=products,
        contexts=contexts,
        aspects=aspects,
        backend=backend,
        make_cutouts=False,
        refused=refused,
    )
    unique: dict[str, SegmentSpec] = {}
    slots = 0
    for specs in planned.values():
        slots += len(specs)
        for spec in specs:
            unique.setdefault(spec.key, spec)
    states = dict(Segment.objects.filter(key__in=list(unique)).values_list("key", "status"))
    cached = [k for k, s in states.items() if s == Segment.Status.READY]
    in_progress = [
        k for k, s in states.items() if s in (Segment.Status.PENDING, Segment.Status.RENDERING)
    ]
    to_render = [
        spec for key, spec in unique.items() if key not in cached and key not in in_progress
    ]
    ready_recipes = set(
        Video.objects.filter(product__in=products, status=Video.Status.READY).values_list(
            "product_id", "bucket", "aspect", "recipe_key"
        )
    )
    music = music_of(BrandKit.objects.filter(merchant_id=merchant.pk).first())
    videos_ready = sum(
        (pid, bucket, aspect, recipe_key((s.key for s in specs), music=music)) in ready_recipes
        for (pid, bucket, aspect), specs in planned.items()
    )
    seconds = sum(spec.plan.seconds for spec in to_render)
    speed, measured = seconds_per_second(backend=backend)
    work = seconds * speed
    return GenerationEstimate(
        products=len(products),
        videos=len(planned),
        videos_ready=videos_ready,
        segments_needed=slots,
        segments_unique=len(unique),
        segments_cached=len(cached),
        segments_in_progress=len(in_progress),
        segments_to_render=len(to_render),
        seconds_to_render=seconds,
        cost=sum((spec.cost for spec in to_render), Decimal("0")),
        work_seconds=work,
        wall_seconds=work / max(1, settings.SCENECART_RENDER_PARALLELISM),
        speed_measured=measured,
        budget=merchant.monthly_budget,
        spent_this_month=merchant_spend_this_month(merchant=merchant),
        products_without_image=[p.sku for p in products if not p.images.all()],
        refused=refused,
    )


def bulk_job_create(
    *,
    merchant: Merchant,
    products: list[Product],
    contexts: list[ShopperContext],
    aspects: list[str],
    backend: str,
    estimate: GenerationEstimate | None = None,
    created_by: "User | AnonymousUser | None" = None,
    submit: bool = True,
) -> BulkJob:
    """Record a confirmed bulk generation and queue its submission (``submit=False``: the
    caller submits, as the command does in its own process)."""
    if not products:
        raise GenerationError(f"{merchant.name} has no products to generate videos for.")
    foreign = [p.sku for p in products if p.merchant_id != merchant.pk]
    if foreign:
        raise GenerationError(f"Not products of {merchant.name}: {', '.join(foreign)}.")
    with transaction.atomic():
        job = BulkJob.objects.create(
            merchant=merchant,
            created_by=created_by if created_by and created_by.is_authenticated else None,
            backend=backend,
            contexts=[c.bucket for c in contexts],
            aspects=aspects,
            estimate=estimate.to_dict() if estimate else {},
        )
        BulkItem.objects.bulk_create(
            BulkItem(job=job, product=product, bucket=context.bucket, aspect=aspect)
            for product in products
            for context in contexts
            for aspect in aspects
        )
        if submit:
            _enqueue_submit(job)
    return job


def _enqueue_submit(job: BulkJob) -> None:
    dispatch.submit_bulk_job(job.pk)


def bulk_job_submit(*, job: BulkJob) -> SubmitReport:
    """Hand every queued item of the job to the renderers; idempotent (a redelivered task
    finds the submitted items done and carries on with the rest)."""
    submitted = held = errors = slots = 0
    to_render: set[int] = set()
    stopped = bool(job.stopped_reason)
    items = job.items.filter(state=BulkItem.State.QUEUED).select_related("product")
    for item in items.iterator(chunk_size=200):
        specs = _item_plan(job=job, item=item)
        if specs is None:
            errors += 1
            continue
        request = _item_submit(job=job, item=item, specs=specs, stopped=stopped)
        if request is None:
            stopped = True
            held += 1
            continue
        submitted += 1
        slots += len(request.segments)
        to_render.update(s.pk for s in request.to_render)
    BulkJob.objects.filter(pk=job.pk).update(submitted_at=timezone.now())
    job.refresh_from_db()
    logger.info(
        "Bulk job %s submitted %d videos (%d held by the budget, %d not plannable)",
        job.pk,
        submitted,
        held,
        errors,
    )
    return SubmitReport(
        submitted=submitted, held=held, errors=errors, slots=slots, to_render=frozenset(to_render)
    )


def _item_plan(*, job: BulkJob, item: BulkItem) -> list[SegmentSpec] | None:
    """The item's segments; None once the item says why it cannot be planned (a product the
    renderers cannot plan fails alone, the job goes on)."""
    try:
        return _plan(
            products=[item.product],
            contexts=[ShopperContext.parse(item.bucket)],
            aspects=[item.aspect],
            backend=job.backend,
            make_cutouts=True,
        )[(item.product_id, item.bucket, item.aspect)]
    except Exception as exc:
        logger.warning("Bulk job %s: planning %s failed: %s", job.pk, item, exc)
        reason = (
            str(exc) if isinstance(exc, ContentPolicyRefusal) else f"{type(exc).__name__}: {exc}"
        )
        BulkItem.objects.filter(pk=item.pk).update(state=BulkItem.State.ERROR, error=reason[:2000])
        return None


def _item_submit(
    *, job: BulkJob, item: BulkItem, specs: list[SegmentSpec], stopped: bool
) -> VideoRequest | None:
    """Request the item's video, unless its new paid work would go over the merchant's
    monthly budget (or the job already stopped for it): then the item is held with the
    reason, the job says where it stopped, and None is returned."""
    with transaction.atomic():
        # The lock makes check-then-spend atomic across jobs and workers.
        merchant = Merchant.objects.select_for_update().get(pk=job.merchant_id)
        cost = _new_cost(specs)
        if cost > 0 and merchant.monthly_budget is not None:
            spent = merchant_spend_this_month(merchant=merchant)
            if stopped or spent + cost > merchant.monthly_budget:
                if not stopped:
                    BulkJob.objects.filter(pk=job.pk).update(
                        stopped_reason=(
                            f"New paid work stopped at ${spent:.2f} of the "
                            f"${merchant.monthly_budget:.2f} monthly budget."
                        )
                    )
                BulkItem.objects.filter(pk=item.pk).update(
                    state=BulkItem.State.HELD,
                    error=(
                        f"Budget reached: ${spent:.2f} of ${merchant.monthly_budget:.2f} spent "
                        f"this month; this video needs ${cost:.2f} more."
                    ),
                    cost=cost,
                )
                return None
        request = video_request(
            product=item.product,
            context=ShopperContext.parse(item.bucket),
            aspect=item.aspect,
            backend_alias=job.backend,
            specs=specs,
        )
        BulkItem.objects.filter(pk=item.pk).update(
            state=BulkItem.State.SUBMITTED, video=request.video, error="", cost=cost
        )
    return request


def _new_cost(specs: list[SegmentSpec]) -> Decimal:
    """The price of the segments of one video nobody has paid for yet (absent, or failed)."""
    unique = {spec.key: spec for spec in specs if spec.cost > 0}
    if not unique:
        return Decimal("0")
    paid = set(
        Segment.objects.filter(key__in=list(unique))
        .exclude(status=Segment.Status.FAILED)
        .values_list("key", flat=True)
    )
    return sum((spec.cost for key, spec in unique.items() if key not in paid), Decimal("0"))


def bulk_job_retry(*, job: BulkJob, submit: bool = True) -> int:
    """Queue the job's failed and held items again; the number queued."""
    with transaction.atomic():
        failed = job.items.filter(
            Q(state__in=[BulkItem.State.HELD, BulkItem.State.ERROR])
            | Q(state=BulkItem.State.SUBMITTED, video__status=Video.Status.FAILED)
        )
        count = failed.update(state=BulkItem.State.QUEUED, error="")
        if count:
            BulkJob.objects.filter(pk=job.pk).update(stopped_reason="", submitted_at=None)
            if submit:
                _enqueue_submit(job)
    job.refresh_from_db()
    return count


def describe_estimate(estimate: GenerationEstimate, *, backend: str) -> str:
    """The estimate in words, as the admin's confirmation page shows it."""
    speed = "measured" if estimate.speed_measured else "not measured yet: a typical figure"
    lines = [
        f"{estimate.videos} videos of {estimate.products} products on {backend!r}: "
        f"{estimate.videos_ready} already ready.",
        f"Segments: {estimate.segments_to_render} to render, {estimate.segments_cached} cached, "
        f"{estimate.segments_in_progress} already rendering, of {estimate.segments_unique} unique "
        f"({estimate.segments_needed} slots).",
        f"Cost: ${estimate.cost:.2f}. Render time: about {human_duration(estimate.wall_seconds)} "
        f"({human_duration(estimate.work_seconds)} of rendering; speed {speed}).",
    ]
    if estimate.budget is not None:
        lines.append(
            f"Budget: ${estimate.spent_this_month:.2f} of ${estimate.budget:.2f} spent this month"
            + (
                "; this job would go over it, so part of it will be held."
                if estimate.over_budget
                else "."
            )
        )
    for sku, reason in list(estimate.refused.items())[:20]:
        lines.append(f"Refused by the content policy: {sku}: {reason}")
    if estimate.products_without_image:
        lines.append(
            "Without a product image (the video shows the title only): "
            + ", ".join(estimate.products_without_image[:20])
        )
    return "\n".join(lines)


def human_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
