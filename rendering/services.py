"""Writes of the rendering core: segments are planned, rendered once, stored; videos are
assembled from them.

The flow: ``video_request`` plans a product × context × aspect into segment specs, finds or
creates one ``Segment`` row per unique key and enqueues only the renders that are missing.
``segment_render`` (run by the ``render_segment`` task) claims a segment, renders it into a
temporary directory, verifies the file by probing it and stores it. When a video's last segment
is ready, ``video_assemble`` (the ``assemble_video`` task) joins them by stream copy.
"""

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from catalog.facts import facts_changed, video_facts
from catalog.models import BrandKit, Product, ProductImage
from catalog.services import product_image_cutout
from personalization.content_policy import (
    ContentPolicyRefusal,
    licensed_assets_only,
    policy_check_plans,
)
from personalization.context import ShopperContext
from personalization.models import BucketPolicy
from personalization.plans import scene_plans_for
from providers.base import RenderBackend
from providers.prices import price_per_second
from videokit.audio import bed_for
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import MediaError, Probe, concat_copy, normalize, poster_jpeg, verify
from videokit.plan import ScenePlan

from . import dispatch
from .backends import backend_for, is_remote
from .claims import claim, segment_claim
from .models import Segment, Video, VideoSegment
from .profiles import profile_for
from .publication import (
    files_discard,
    published_name,
    video_is_published,
    video_publication_sync,
)
from .routing import merchant_backend, routing_for
from .selectors import product_variants_forget, videos_waiting_for
from .video_provenance import sign_video
from .voice import voice_bed

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# Bump when videokit.audio makes different beds, so cached beds are not reused.
AUDIO_BED_VERSION = 1


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """A segment as planned: enough to find it in the cache or to render it."""

    key: str
    plan: ScenePlan
    profile: OutputProfile
    backend: RenderBackend
    inputs: dict[str, str]
    seed: int = 0
    cost: Decimal = Decimal("0")  # USD, from the price table (SCENECART_PRICES) or the backend


@dataclass(frozen=True, slots=True)
class VideoRequest:
    video: Video
    segments: list[Segment]
    to_render: list[Segment]  # segments not yet READY when the request was made


def segment_key(
    *,
    merchant_id: int,
    backend: RenderBackend,
    plan: ScenePlan,
    inputs: dict[str, str],
    profile: OutputProfile,
    seed: int = 0,
) -> str:
    """sha256 over everything that determines a segment's pixels.

    The merchant is part of the key although it does not change pixels: segments are stored,
    counted and deleted per tenant, and one shop's files are never served for another's.
    """
    material = {
        "merchant": merchant_id,
        "backend": backend.identity,
        "version": backend.version,
        "options": backend.option_fingerprint(),
        "plan": plan.to_dict(),
        "inputs": inputs,
        "profile": profile.to_dict(),
    }
    if seed:
        # Only re-renders carry a seed, so every segment rendered before seeds existed keeps
        # its key.
        material["seed"] = seed
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def segment_specs(
    *,
    product: Product,
    context: ShopperContext,
    aspect: str,
    backend_alias: str | None = None,
    seconds: dict[str, float] | None = None,
    seed: int = 0,
    make_cutouts: bool = True,
) -> list[SegmentSpec]:
    """The segments of one video, with their cache keys and prices.

    ``seed`` varies the personalized scene only (a re-render of a rejected variant): the
    shared opening, offer and closing shots stay shared. ``make_cutouts=False`` is for
    estimates: a product whose cutout is not made yet gets keys that match nothing, so its
    segments count as still to render, which they are.
    """
    profile = profile_for(aspect)
    routing = routing_for(merchant_id=product.merchant_id)
    backend_for(backend_alias)  # an unknown alias is refused even if every kind is routed
    brand_kit = BrandKit.objects.filter(merchant_id=product.merchant_id).first()
    plans = scene_plans_for(product=product, context=context, brand_kit=brand_kit, seconds=seconds)
    # The content policy, before any key, price or backend: a refusal names the term and field.
    policy_check_plans(product=product, plans=plans)
    image_only = licensed_assets_only(merchant_id=product.merchant_id)
    product_inputs = _product_inputs(product=product, brand_kit=brand_kit, make_cutout=make_cutouts)
    brand_inputs = _brand_inputs(brand_kit=brand_kit)
    specs = []
    for plan in plans:
        # The outro shows no product: its key depends on the brand alone, so it is shared by
        # every product of the merchant and only a new logo or font re-renders it.
        inputs = brand_inputs if plan.kind == "outro" else product_inputs
        plan_seed = seed if plan.kind == "scene" else 0
        backend = merchant_backend(
            routing.alias_for(kind=plan.kind, bucket=context.bucket, requested=backend_alias),
            merchant_id=product.merchant_id,
        )
        if image_only and not inputs.get("product_image") and not backend.synchronous:
            # Licensed assets only: a shot without the product's own image (the outro) would
            # be text-to-video on a provider; the built-in renderer draws it from the logo.
            backend = merchant_backend("local", merchant_id=product.merchant_id)
        key = segment_key(
            merchant_id=product.merchant_id,
            backend=backend,
            plan=plan,
            inputs=inputs,
            profile=profile,
            seed=plan_seed,
        )
        specs.append(
            SegmentSpec(
                key=key,
                plan=plan,
                profile=profile,
                backend=backend,
                inputs=inputs,
                seed=plan_seed,
                cost=segment_price(backend=backend, plan=plan, profile=profile),
            )
        )
    return specs


def segment_price(*, backend: RenderBackend, plan: ScenePlan, profile: OutputProfile) -> Decimal:
    """What rendering this segment costs in USD: per second of the clip the provider makes,
    from the operator's price table (SCENECART_PRICES, by alias or ``provider:model``), else
    the provider's list price (providers.prices), else the backend's own
    estimate (the built-in renderer is free)."""
    per_second = price_per_second(
        alias=backend.alias,
        provider=backend.provider,
        model=backend.model,
        table=settings.SCENECART_PRICES,
    )
    if per_second is not None:
        # Providers bill the clip length they make (Kling: 5 or 10 s), not the part we keep.
        billed = backend.duration_for(plan.seconds)
        return (Decimal(str(per_second)) * Decimal(str(billed))).quantize(Decimal("0.0001"))
    return backend.estimate_cost(
        RenderJob(plan=plan, profile=profile, assets=RenderAssets(), seed=0)
    )


def segment_ensure(*, spec: SegmentSpec, merchant_id: int) -> Segment:
    """The cached segment for this spec, created PENDING if it does not exist yet."""
    segment, _ = Segment.objects.get_or_create(
        key=spec.key,
        defaults={
            "merchant_id": merchant_id,
            "kind": spec.plan.kind,
            "backend": spec.backend.alias,
            "backend_version": spec.backend.version,
            "plan": spec.plan.to_dict(),
            "inputs": spec.inputs,
            "profile": spec.profile.to_dict(),
            "seed": spec.seed,
            "cost": spec.cost,
        },
    )
    return segment


def segment_enqueue(segments: Iterable[Segment]) -> None:
    """Queue renders for these segments once the surrounding transaction commits: the local
    renderer's on ``render.local``, a provider's submission on ``render.remote``."""
    local: list[int] = []
    remote: list[int] = []
    for segment in segments:
        (remote if is_remote(segment.backend) else local).append(segment.pk)
    dispatch.render_segments(local)
    dispatch.submit_segments(remote)


def segment_render(*, segment: Segment) -> Segment:
    """Render a segment if nobody has, or is; return it as it now stands.

    Idempotent: a READY segment is returned untouched, a segment another worker is rendering
    is left to it (unless its claim is older than SCENECART_RENDER_STALE_AFTER, i.e. that
    worker died). The file is verified before the row says READY.
    """
    now = timezone.now()
    claimed = segment_claim(segment=segment, now=now)
    segment.refresh_from_db()
    if not claimed:
        return segment

    plan = ScenePlan.from_dict(segment.plan)
    profile = OutputProfile(**segment.profile)
    started = time.perf_counter()
    try:
        backend = backend_for(segment.backend)
        job = RenderJob(
            plan=plan, profile=profile, assets=segment_assets(segment), seed=segment.seed
        )
        with tempfile.TemporaryDirectory(prefix="scenecart-segment-") as workdir:
            out_path = Path(workdir) / f"{segment.key}.mp4"
            seconds = profile.frames_for(plan.seconds) / profile.fps
            if backend.house_format:
                backend.render(job, out_path)
            else:
                raw = Path(workdir) / "backend-output.mp4"
                backend.render(job, raw)
                house_normalize(raw, out_path, profile, seconds=seconds)
            name, probed = segment_file_store(
                segment=segment, path=out_path, profile=profile, seconds=seconds
            )
    except StorageWriteError as exc:
        # The render is fine; the storage may come back. The segment waits for the task's
        # retry instead of failing, and nothing READY points at a file that is not there.
        logger.warning("Segment %s rendered but not stored: %s", segment.key[:12], exc)
        Segment.objects.filter(pk=segment.pk, claimed_at=now).update(
            status=Segment.Status.PENDING, error=str(exc)[:2000], claimed_at=None
        )
        segment.refresh_from_db()
        raise
    except Exception as exc:
        logger.exception("Rendering segment %s (%s) failed", segment.key[:12], segment.kind)
        segment_fail(segment=segment, reason=f"{type(exc).__name__}: {exc}")
        raise
    Segment.objects.filter(pk=segment.pk, claimed_at=now).update(
        status=Segment.Status.READY,
        file=name,
        duration=probed.duration,
        rendered_at=timezone.now(),
        render_seconds=time.perf_counter() - started,
    )
    segment.refresh_from_db()
    logger.info(
        "Rendered segment %s (%s) in %.2f s",
        segment.key[:12],
        segment.kind,
        segment.render_seconds or 0,
    )
    return segment


def segment_fail(*, segment: Segment, reason: str) -> None:
    """Mark a segment FAILED, and every unfinished video that needs it, with the reason."""
    with transaction.atomic():
        Segment.objects.filter(pk=segment.pk).update(
            status=Segment.Status.FAILED, error=reason[:2000]
        )
        for video in videos_waiting_for(segment=segment):
            Video.objects.filter(pk=video.pk).update(
                status=Video.Status.FAILED,
                error=f"The {segment.kind} segment failed: {reason}"[:2000],
            )
            _video_changed(video)


def segment_followups(*, segment: Segment) -> None:
    """After a segment's task: queue assembly of every waiting video whose segments are ready.

    Runs whether or not this task did the render, which closes the race with a request that
    added a video while the segment was being rendered.
    """
    if segment.status != Segment.Status.READY:
        return
    dispatch.assemble_videos(
        video.pk
        for video in videos_waiting_for(segment=segment)
        if not video.parts.exclude(segment__status=Segment.Status.READY).exists()
    )


def _video_backend(specs: list[SegmentSpec]) -> str:
    """The backend a video is said to be made by: its personalized scene's."""
    return next((s.backend.alias for s in specs if s.plan.kind == "scene"), specs[0].backend.alias)


def recipe_key(keys: Iterable[str], *, music: str = "") -> str:
    """A video's version: the hash of its ordered segment keys and of the merchant's own music
    (``music``: its content hash; without one, every recipe stays what it always was)."""
    material = "\n".join(keys) + (f"\nmusic:{music}" if music else "")
    return hashlib.sha256(material.encode()).hexdigest()


def music_of(brand_kit: BrandKit | None) -> str:
    """The content hash of the merchant's own music bed, which goes into every recipe."""
    return brand_kit.music_hash if brand_kit is not None and brand_kit.music else ""


# Shots drawn only from the merchant's own data (the catalog's price and claim, the brand kit):
# re-made by the built-in renderer, they keep an approved variant approved unless the policy
# asks for a review (BucketPolicy.review_data_refresh).
DATA_SHOTS = frozenset({"offer", "outro"})


def _refresh_needs_review(*, video: Video, segments: list[Segment], merchant_id: int) -> bool:
    """Whether the version replacing a finished video's file needs the merchant's review."""
    if video.approval != Video.Approval.APPROVED:
        # Nothing approved to keep (a rejected variant's re-render is reviewed afresh).
        return video.approval == Video.Approval.REJECTED
    before = dict(video.parts.values_list("position", "segment__key"))
    changed = [s for index, s in enumerate(segments) if before.get(index) != s.key]
    if len(before) != len(segments) or any(
        s.kind not in DATA_SHOTS or is_remote(s.backend) for s in changed
    ):
        return True
    return bool(
        BucketPolicy.objects.filter(merchant_id=merchant_id)
        .values_list("review_data_refresh", flat=True)
        .first()
    )


def _refresh_reason(*, video: Video, facts: dict[str, str], reason: str) -> str:
    """What the merchant reads while the new version renders: the facts that changed, else
    the change that asked for it."""
    changed = facts_changed(video.facts, facts)
    if changed:
        return (", ".join(changed) + " changed")[:200]
    return (reason or "re-made")[:200]


def video_request(
    *,
    product: Product,
    context: ShopperContext,
    aspect: str,
    backend_alias: str | None = None,
    seconds: dict[str, float] | None = None,
    specs: list[SegmentSpec] | None = None,
    reason: str = "",
    retry_failed: bool = True,
) -> VideoRequest:
    """Make sure the video for this product, context and aspect exists or is on its way.

    Only segments missing from the cache are rendered; a video whose segments all exist is
    queued straight for assembly; a video that is READY with the same recipe is left alone.
    A variant the merchant rejected keeps its new seed. ``specs`` are this video's segments
    when the caller has planned them already (``video_specs``).

    A finished video whose recipe changed (the catalog or the brand kit changed) keeps its
    file until the new version replaces it (``video_assemble``); the storefront serves the
    old file meanwhile only if it still states the catalog's facts. ``reason`` says why, for
    the merchant, when no fact changed ("brand colors changed"). ``retry_failed=False``
    leaves a failed video whose recipe did not change as it is (a refresh never pays again
    for a render a provider refused).
    """
    if specs is None:
        try:
            specs = video_specs(
                product=product,
                context=context,
                aspect=aspect,
                backend_alias=backend_alias,
                seconds=seconds,
            )
        except ContentPolicyRefusal as refusal:
            # Refused before any row of work exists: the variant says why, nothing is queued.
            video = video_refuse(
                product=product, bucket=context.bucket, aspect=aspect, reason=str(refusal)
            )
            return VideoRequest(video=video, segments=[], to_render=[])
    brand_kit = BrandKit.objects.filter(merchant_id=product.merchant_id).first()
    facts = video_facts(product, brand_kit=brand_kit)
    with transaction.atomic():
        segments = [
            _stand_in_for(segment_ensure(spec=spec, merchant_id=product.merchant_id))
            for spec in specs
        ]
        recipe = recipe_key((s.key for s in segments), music=music_of(brand_kit))
        if (
            not retry_failed
            and Video.objects.filter(
                product=product,
                bucket=context.bucket,
                aspect=profile_for(aspect).aspect,
                recipe_key=recipe,
                status=Video.Status.FAILED,
            ).exists()
        ):
            video = Video.objects.get(
                product=product, bucket=context.bucket, aspect=profile_for(aspect).aspect
            )
            return VideoRequest(video=video, segments=[], to_render=[])
        retry = [s for s in segments if s.status == Segment.Status.FAILED]
        if retry:
            Segment.objects.filter(pk__in=[s.pk for s in retry]).update(
                status=Segment.Status.PENDING, error=""
            )
            for s in retry:
                s.status = Segment.Status.PENDING
        video, created = Video.objects.get_or_create(
            product=product,
            bucket=context.bucket,
            aspect=profile_for(aspect).aspect,
            defaults={"recipe_key": recipe, "backend": _video_backend(specs)},
        )
        video = Video.objects.select_for_update().get(pk=video.pk)
        if created or video.recipe_key != recipe or video.status == Video.Status.FAILED:
            if video.recipe_key != recipe and video.file:
                # A new version of a finished video: its file stays until this one replaces
                # it, and says why meanwhile.
                video.refresh_reason = _refresh_reason(video=video, facts=facts, reason=reason)
                video.review_on_swap = _refresh_needs_review(
                    video=video, segments=segments, merchant_id=product.merchant_id
                )
            elif video.recipe_key != recipe:
                # New pixels with nothing finished before them need a review.
                video.approval = Video.Approval.PENDING
            video.recipe_key = recipe
            video.backend = _video_backend(specs)
            video.requested_backend = backend_alias or ""
            video.status = Video.Status.PENDING
            video.error = ""
            video.planned_facts = facts
            video.save(
                update_fields=[
                    "recipe_key", "backend", "requested_backend", "status", "error", "approval",
                    "planned_facts", "refresh_reason", "review_on_swap", "updated_at",
                ]
            )  # fmt: skip
            if video.file:
                # A file whose facts are no longer true leaves the public prefix now.
                transaction.on_commit(lambda: video_publication_sync(video=video))
            video.parts.all().delete()
            VideoSegment.objects.bulk_create(
                VideoSegment(video=video, segment=segment, position=index)
                for index, segment in enumerate(segments)
            )
            _video_changed(video)
        elif video.planned_facts != facts or (video.file and video.facts != facts):
            # The same pixels (a change no segment shows, or facts the video states the same
            # way): the file states the catalog's facts as they are now.
            video.planned_facts = facts
            fields = ["planned_facts", "updated_at"]
            if video.status == Video.Status.READY:
                video.facts = facts
                fields.append("facts")
            video.save(update_fields=fields)
            if video.file:
                transaction.on_commit(lambda: video_publication_sync(video=video))
            _video_changed(video)
        to_render = [s for s in segments if s.status != Segment.Status.READY]
        pending = [s for s in to_render if s.status == Segment.Status.PENDING]
        if pending:
            segment_enqueue(pending)
        elif not to_render and video.status != Video.Status.READY:
            dispatch.assemble_videos([video.pk])
    return VideoRequest(video=video, segments=segments, to_render=to_render)


def _stand_in_for(segment: Segment) -> Segment:
    """A segment whose provider failed for good is stood in for by the next backend's
    (``rendering.remote``): every video that plans it gets the stand-in, not another try."""
    if segment.status != Segment.Status.FAILED:
        return segment
    stand_in = segment.fallbacks.exclude(status=Segment.Status.FAILED).order_by("pk").first()
    return stand_in or segment


def video_refuse(*, product: Product, bucket: str, aspect: str, reason: str) -> Video:
    """Fail a variant the content policy refuses, with the refusal's words. A file it had is
    deleted: the policy now refuses what those pixels show."""
    video, _ = Video.objects.get_or_create(
        product=product,
        bucket=bucket,
        aspect=profile_for(aspect).aspect,
        defaults={"recipe_key": "", "backend": settings.SCENECART_DEFAULT_BACKEND},
    )
    names = [name for name in (video.file.name, video.poster.name) if name]
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.FAILED,
        error=reason[:2000],
        file="",
        poster="",
        refresh_reason="",
        updated_at=timezone.now(),
    )
    files_discard(names)
    _video_changed(video)
    video.refresh_from_db()
    return video


def video_specs(
    *,
    product: Product,
    context: ShopperContext,
    aspect: str,
    backend_alias: str | None = None,
    seconds: dict[str, float] | None = None,
    make_cutouts: bool = True,
) -> list[SegmentSpec]:
    """``segment_specs`` for the variant's own seed (a rejected variant keeps its re-render)."""
    seed = (
        Video.objects.filter(
            product=product, bucket=context.bucket, aspect=profile_for(aspect).aspect
        )
        .values_list("seed", flat=True)
        .first()
        or 0
    )
    return segment_specs(
        product=product,
        context=context,
        aspect=aspect,
        backend_alias=backend_alias,
        seconds=seconds,
        seed=seed,
        make_cutouts=make_cutouts,
    )


def video_assemble(*, video: Video) -> Video:
    """Join a video's segments by stream copy, write its poster, verify, store, mark READY."""
    claimed = claim(
        Video.objects.filter(pk=video.pk),
        free=Q(status=Video.Status.PENDING),
        held=Q(status=Video.Status.ASSEMBLING),
        held_since="updated_at",
        status=Video.Status.ASSEMBLING,
        updated_at=timezone.now(),
    )
    video.refresh_from_db()
    if not claimed:
        return video
    recipe = video.recipe_key
    parts = list(
        video.parts.select_related("segment", "video__product__merchant").order_by("position")
    )
    if not parts or any(p.segment.status != Segment.Status.READY for p in parts):
        Video.objects.filter(pk=video.pk).update(status=Video.Status.PENDING)
        video.refresh_from_db()
        return video
    product = video.product
    profile = profile_for(video.aspect)
    expected = sum(p.segment.duration or 0 for p in parts)
    stem = (
        f"videos/{product.merchant.slug}/{slugify(product.sku) or product.pk}/"
        f"{_bucket_slug(video.bucket)}-{video.aspect.replace(':', 'x')}-{recipe[:12]}"
    )
    if video_is_published(video=video, once_ready=True):
        # Stored where it will be served from, so most videos are never moved.
        stem = published_name(stem)
    try:
        with tempfile.TemporaryDirectory(prefix="scenecart-video-") as workdir:
            work = Path(workdir)
            local_parts = [
                _local_copy(_segment_file(p.segment), work / f"part{p.position}.mp4") for p in parts
            ]
            out_path = work / "video.mp4"
            bed = _music_bed(video=video, seconds=expected, workdir=work)
            # The voice-over, if one is configured, with the music ducked under it. Mixed per
            # video: the stored bed above is shared by every video of that length and mood.
            bed = voice_bed(video=video, bed=bed, workdir=work)
            concat_copy(local_parts, out_path, audio=bed)
            probed = verify(
                out_path, profile, seconds=expected, tolerance=0.1 + 0.05 * len(parts), audio=True
            )
            poster_path = work / "poster.jpg"
            # The poster shows the personalized scene, not the shared opening shot.
            first = parts[0].segment.duration or 0
            poster_jpeg(out_path, poster_path, at_seconds=min(probed.duration * 0.9, first + 1.0))
            # Content Credentials (C2PA): what made the video, signed into the file itself.
            sign_video(video=video, source=out_path, dest=out_path)
            file_name = _store(out_path, f"{stem}.mp4")
            poster_name = _store(poster_path, f"{stem}.jpg")
    except Exception as exc:
        logger.exception("Assembling video %s failed", video.pk)
        Video.objects.filter(pk=video.pk).update(
            status=Video.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        _video_changed(video)
        raise
    swapped = video_swap(
        video=video,
        recipe=recipe,
        file=file_name,
        poster=poster_name,
        duration=probed.duration,
    )
    if swapped is None:
        # A newer version was planned while this one was assembled: it never goes live (a
        # re-assembly of the version on show wrote its own file again, which stays).
        video.refresh_from_db()
        live = (video.file.name, video.poster.name)
        files_discard([name for name in (file_name, poster_name) if name not in live])
        return video
    # The review may have changed while it was assembled.
    return video_publication_sync(video=swapped)


def video_swap(
    *, video: Video, recipe: str, file: str, poster: str, duration: float
) -> Video | None:
    """Put a finished version in place of the video's file, if it is still the version
    planned (``None`` if a newer one was planned meanwhile). The file it replaces is deleted
    once this commits; the facts it states become the video's; a refresh that needs a review
    makes the variant wait for one."""
    with transaction.atomic():
        current = Video.objects.select_for_update().filter(pk=video.pk, recipe_key=recipe).first()
        if current is None:
            return None
        replaced = [
            name
            for name in (current.file.name, current.poster.name)
            if name and name not in (file, poster)
        ]
        if current.review_on_swap:
            current.approval = Video.Approval.PENDING
        current.status = Video.Status.READY
        current.file = file
        current.poster = poster
        current.duration = duration
        current.error = ""
        current.facts = current.planned_facts
        current.refresh_reason = ""
        current.review_on_swap = False
        current.ready_at = timezone.now()
        current.save(
            update_fields=[
                "status", "file", "poster", "duration", "error", "facts", "refresh_reason",
                "review_on_swap", "approval", "ready_at", "updated_at",
            ]
        )  # fmt: skip
        files_discard(replaced)
        _video_changed(current)
    return current


def _video_changed(video: Video) -> None:
    """Drop the storefront's cached table of this product's variants, now and (if a
    transaction is open) again once it commits, so no reader caches the old state."""

    def forget() -> None:
        product_variants_forget(product_id=video.product_id, aspect=video.aspect)

    forget()
    transaction.on_commit(forget)


# A variant the storefront asked for whose planning task never ran (lost with a broker that
# went down) is asked for again after this long.
PLANNING_RETRY_AFTER = timedelta(minutes=10)


def video_request_once(*, product_id: int, bucket: str, aspect: str) -> bool:
    """Ask for a variant on behalf of the storefront; True if this call queued the work.

    Safe under a stampede: the Video row is unique per (product, bucket, aspect), so of a
    thousand concurrent requests for a missing variant one inserts the row and queues its
    planning; the others find the row and queue nothing. Planning (``video_plan``) runs in a
    worker, never in the shopper's request.
    """
    with transaction.atomic():
        video, created = Video.objects.get_or_create(
            product_id=product_id,
            bucket=bucket,
            aspect=aspect,
            defaults={"recipe_key": "", "backend": settings.SCENECART_DEFAULT_BACKEND},
        )
        if not created:
            # Re-queue only a request whose planning was lost, and only once per period.
            created = bool(
                Video.objects.filter(
                    pk=video.pk,
                    recipe_key="",
                    status=Video.Status.PENDING,
                    updated_at__lt=timezone.now() - PLANNING_RETRY_AFTER,
                ).update(updated_at=timezone.now())
            )
        if created:
            dispatch.plan_video(video.pk)
    _video_changed(video)
    return created


def video_plan(*, video: Video) -> Video:
    """Plan a variant the storefront asked for: choose its segments and queue what is missing."""
    if video.recipe_key:
        return video
    try:
        return video_request(
            product=Product.objects.get(pk=video.product_id),
            context=ShopperContext.parse(video.bucket),
            aspect=video.aspect,
            backend_alias=video.backend or None,
        ).video
    except Exception as exc:
        logger.exception("Planning video %s failed", video.pk)
        Video.objects.filter(pk=video.pk).update(
            status=Video.Status.FAILED, error=f"Planning failed: {type(exc).__name__}: {exc}"[:2000]
        )
        _video_changed(video)
        video.refresh_from_db()
        return video


def _music_bed(*, video: Video, seconds: float, workdir: Path) -> Path:
    """The video's audio bed, encoded once per (music, aesthetic, length) and kept in storage:
    the merchant's own music fitted to the length, else Scenecart's bed for the aesthetic."""
    kit = BrandKit.objects.filter(merchant_id=video.product.merchant_id).first()
    millis = round(seconds * 1000)
    if kit is not None and kit.music.name and kit.music_hash:
        name = f"audio/{video.product.merchant.slug}/{kit.music_hash[:16]}-{millis}ms.m4a"
        source = _local_copy(kit.music.name, workdir / "music-source")
    else:
        aesthetic = ShopperContext.parse(video.bucket).aesthetic
        name = f"audio/beds/{aesthetic or 'generic'}-{millis}ms-v{AUDIO_BED_VERSION}.m4a"
        source = None
    if default_storage.exists(name):
        return _local_copy(name, workdir / "bed.m4a")
    bed = bed_for(
        aesthetic=str(ShopperContext.parse(video.bucket).aesthetic or "") or None,
        seconds=seconds,
        out=workdir / "bed.m4a",
        music=source,
    )
    _store(bed, name)
    return bed


def segment_export(*, segment: Segment, out_path: Path) -> Path:
    """Copy a READY segment's file to a path outside storage (the render_segment command)."""
    if segment.status != Segment.Status.READY:
        raise MediaError(
            f"Segment {segment.key[:12]} is {segment.status}, not ready: {segment.error}"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.part")
    with default_storage.open(_segment_file(segment), "rb") as source, partial.open("wb") as target:
        shutil.copyfileobj(source, target, length=1024 * 1024)
    partial.replace(out_path)
    return out_path


def _product_inputs(
    *, product: Product, brand_kit: BrandKit | None, make_cutout: bool = True
) -> dict[str, str]:
    """Content hashes of what product segments are drawn from: the product's cutout (made now
    if the upload task has not got to it yet, so keys never change under a finished render)
    and the caption font."""
    image = product.images.order_by("position", "id").first()
    if image is not None and not image.cutout_kind:
        if not make_cutout:
            return {"product_image": f"uncut:{image.content_hash}", "product_kind": "", "font": ""}
        image = product_image_cutout(image=image)
    return {
        "product_image": image.cutout_hash if image else "",
        "product_kind": image.cutout_kind if image else "",
        "font": brand_kit.font_hash if brand_kit and brand_kit.font else "",
    }


def _brand_inputs(*, brand_kit: BrandKit | None) -> dict[str, str]:
    return {
        "logo": brand_kit.logo_hash if brand_kit and brand_kit.logo else "",
        "font": brand_kit.font_hash if brand_kit and brand_kit.font else "",
    }


def segment_assets(segment: Segment) -> RenderAssets:
    """Load the input files named by the segment's input hashes."""
    hashes: dict[str, Any] = segment.inputs
    kit = BrandKit.objects.filter(merchant_id=segment.merchant_id).first()
    image_bytes = None
    if hashes.get("product_image"):
        image = ProductImage.objects.filter(
            cutout_hash=hashes["product_image"], product__merchant_id=segment.merchant_id
        ).first()
        if image is None:
            raise MediaError("The product image this segment was planned with no longer exists.")
        image_bytes = stored_bytes(image.cutout)
    return RenderAssets(
        product_image=image_bytes,
        font=stored_bytes(kit.font) if kit and hashes.get("font") else None,
        logo=stored_bytes(kit.logo) if kit and hashes.get("logo") else None,
        hashes=dict(hashes),
    )


def stored_bytes(field: Any) -> bytes:
    """The whole content of a stored file field (local or S3)."""
    with field.open("rb") as handle:
        return handle.read()


class StorageWriteError(Exception):
    """A finished file could not be written to storage (disk full, S3 down): worth a retry."""


def house_normalize(raw: Path, out_path: Path, profile: OutputProfile, *, seconds: float) -> None:
    """Re-encode a backend's clip into the house format, once, before it is stored."""
    normalize(raw, out_path, profile, seconds=seconds, **settings.SCENECART_HOUSE_ENCODER)


def segment_file_store(
    *, segment: Segment, path: Path, profile: OutputProfile, seconds: float
) -> tuple[str, Probe]:
    """Verify a finished segment file against the house format, then store it under the
    segment's key: nothing unverified is ever stored, and nothing READY lacks its file."""
    probed = verify(path, profile, seconds=seconds)
    return store_or_raise(path, f"segments/{segment.key[:2]}/{segment.key}.mp4"), probed


def store_or_raise(path: Path, name: str) -> str:
    """``_store``, with any failure of the storage reported as ``StorageWriteError``."""
    try:
        return _store(path, name)
    except Exception as exc:
        raise StorageWriteError(f"Storage refused {name}: {type(exc).__name__}: {exc}") from exc


def _store(path: Path, name: str) -> str:
    """Save a finished file under ``name``; a leftover from an earlier attempt is replaced."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with path.open("rb") as handle:
        return default_storage.save(name, File(handle, name=Path(name).name))


def _segment_file(segment: Segment) -> str:
    """The storage name of a READY segment's file (a segment is READY once its file is stored)."""
    if not segment.file.name:
        raise MediaError(f"Segment {segment.key[:12]} is ready but has no file.")
    return segment.file.name


def _local_copy(name: str, dest: Path) -> Path:
    """A local path for a stored file: the file itself on local storage, else a download."""
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        with default_storage.open(name, "rb") as source, dest.open("wb") as target:
            shutil.copyfileobj(source, target, length=1024 * 1024)
        return dest


def _bucket_slug(bucket: str) -> str:
    return slugify(bucket.replace("=", "-").replace(",", "_")) or "generic"


class ReviewError(ValueError):
    """A review that cannot be applied to the variant as it stands; the message says why."""


def video_approve(*, video: Video, user: "User | AnonymousUser | None" = None) -> Video:
    """Approve a READY variant's pixels: where the merchant requires approval, the storefront
    serves it from now on."""
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video.pk)
        if video.status != Video.Status.READY:
            raise ReviewError(
                f"Only a ready video can be approved; this one is {video.get_status_display().lower()}."
            )
        video.approval = Video.Approval.APPROVED
        video.reviewed_by = user if user is not None and user.is_authenticated else None
        video.reviewed_at = timezone.now()
        video.save(update_fields=["approval", "reviewed_by", "reviewed_at", "updated_at"])
    _video_changed(video)
    return video_publication_sync(video=video)


def video_reject(
    *, video: Video, note: str = "", user: "User | AnonymousUser | None" = None
) -> Video:
    """Reject a variant and re-render its personalized scene with the next seed.

    The shared shots (opening, offer, closing) are kept: they are the same in every variant
    of the product. The rejected pixels are never served; the re-render needs a new review.
    """
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video.pk)
        if video.status not in (Video.Status.READY, Video.Status.FAILED):
            raise ReviewError("This video is still being made; review it once it is ready.")
        video.approval = Video.Approval.REJECTED
        video.review_note = note.strip()[:2000]
        video.reviewed_by = user if user is not None and user.is_authenticated else None
        video.reviewed_at = timezone.now()
        video.seed += 1
        video.save(
            update_fields=[
                "approval", "review_note", "reviewed_by", "reviewed_at", "seed", "updated_at"
            ]
        )  # fmt: skip
        _video_changed(video)
        video_request(
            product=video.product,
            context=ShopperContext.parse(video.bucket),
            aspect=video.aspect,
            backend_alias=video.requested_backend or None,
            reason="a new scene after your rejection",
        )
    # Withdrawn at once: the rejected pixels leave the public prefix.
    return video_publication_sync(video=video)
