"""Writes of segments rendered by HTTP providers: submit once, poll without blocking, store
the output once, fall back when a provider fails for good.

The life of a remote segment:

1. ``segment_submit`` (task ``rendering.submit_segment``, queue ``render.remote``) claims the
   PENDING segment, creates the provider job and records its id on the row at once. A
   redelivered task finds the id and only schedules a poll: a job is never created twice.
2. ``segment_poll`` (task ``rendering.poll_segment``) asks the provider once and re-schedules
   itself with a growing countdown while the job runs: no worker sleeps while a provider
   works. A webhook only queues a poll now (``segment_poke``): its body is never trusted.
3. When the job succeeded, one caller takes ``finishing_at`` (a conditional UPDATE, so a poll
   and a webhook's poll racing each other store one file), downloads the output at once (it
   expires), normalizes it to the house format, verifies it by probing and stores it.
4. A final failure: moderation fails the segment with the provider's reason (the same prompt is
   not sent elsewhere); any other final failure hands the segment to the next backend of the
   fallback chain, re-pointing the videos that wait for it.
"""

import hashlib
import logging
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from catalog.models import BrandKit
from providers.remote import JobStatus, ProviderFailure, RemoteBackend, Submitted
from videokit.job import OutputProfile, RenderError, RenderJob
from videokit.plan import ScenePlan

from . import dispatch
from .claims import claim, segment_claim
from .models import Segment, Video, VideoSegment
from .routing import fallback_chain, merchant_backend
from .selectors import merchant_spend_this_month, videos_waiting_for
from .services import (
    SegmentSpec,
    StorageWriteError,
    house_normalize,
    music_of,
    recipe_key,
    segment_assets,
    segment_enqueue,
    segment_ensure,
    segment_fail,
    segment_file_store,
    segment_followups,
    segment_key,
    segment_price,
)

logger = logging.getLogger(__name__)

WEBHOOK_SALT = "scenecart.webhook"
# Polls start at the backend's interval and grow by this factor up to MAX_POLL_SECONDS.
POLL_GROWTH = 1.5
MAX_POLL_SECONDS = 60.0
# A transient failure to submit is tried again this many times before it counts as final.
MAX_SUBMIT_ATTEMPTS = 5


def webhook_token(segment: Segment) -> str:
    return signing.dumps(segment.pk, salt=WEBHOOK_SALT, compress=True)


def webhook_url(segment: Segment) -> str:
    """Where the provider calls back; empty (polling only) without SCENECART_PUBLIC_URL."""
    base = settings.SCENECART_PUBLIC_URL.rstrip("/")
    if not base:
        return ""
    path = reverse("rendering-webhook", args=[segment.backend, webhook_token(segment)])
    return f"{base}{path}"


def segment_from_webhook(*, alias: str, token: str) -> Segment | None:
    try:
        pk = signing.loads(token, salt=WEBHOOK_SALT)
    except signing.BadSignature:
        return None
    return Segment.objects.filter(pk=pk, backend=alias).first()


def _schedule_poll(segment_id: int, countdown: float) -> None:
    dispatch.poll_segment(segment_id, countdown=countdown)


def _next_poll_in(backend: RemoteBackend, polls: int) -> float:
    return min(MAX_POLL_SECONDS, backend.poll_interval * POLL_GROWTH ** max(0, polls - 1))


def segment_submit(*, segment: Segment) -> Segment:
    """Create the provider job of a PENDING segment, once; resume a segment that has one."""
    if segment.provider_job_id:
        if segment.status == Segment.Status.RENDERING:
            _schedule_poll(segment.pk, 0)
        return segment
    now = timezone.now()
    claimed = segment_claim(segment=segment, now=now, provider_job_id="")
    segment.refresh_from_db()
    if not claimed:
        return segment
    backend = _backend(segment)
    job = RenderJob(
        plan=ScenePlan.from_dict(segment.plan),
        profile=OutputProfile(**segment.profile),
        assets=segment_assets(segment),
        seed=segment.seed,
    )
    over = _over_budget(segment)
    if over:
        return _failed(segment, backend.failure("funds", over), stage="submit")
    try:
        job = _with_public_image(job, backend, segment)
        submitted = backend.submit(
            job, callback_url=webhook_url(segment), reference=segment.key[:32]
        )
    except ProviderFailure as failure:
        return _failed(segment, failure, stage="submit")
    except RenderError as exc:  # the product image cannot be put in the form the provider takes
        return _failed(segment, backend.failure("invalid", str(exc)), stage="submit")
    # Recorded before anything else can go wrong: from here on the job is resumed, not redone.
    Segment.objects.filter(pk=segment.pk, claimed_at=now).update(
        provider_job_id=submitted.job_id,
        provider_data=submitted.data,
        submitted_at=timezone.now(),
    )
    logger.info(
        "Submitted segment %s to %s as %s", segment.key[:12], segment.backend, submitted.job_id
    )
    segment.refresh_from_db()
    with transaction.atomic():
        _schedule_poll(segment.pk, backend.poll_interval)
    return segment


def _over_budget(segment: Segment) -> str:
    """Why this paid segment may not be submitted (the merchant's monthly budget), or "".

    Work planned in bulk was checked against the budget already; this catches what the
    storefront asks for on demand and what a raised price made dearer."""
    budget = segment.merchant.monthly_budget
    if budget is None or segment.cost <= 0:
        return ""
    spent = merchant_spend_this_month(merchant=segment.merchant, excluding=segment)
    if spent + segment.cost <= budget:
        return ""
    return (
        f"the monthly budget is reached (${spent:.2f} of ${budget:.2f} spent; this segment "
        f"costs ${segment.cost:.2f})"
    )


def _with_public_image(job: RenderJob, backend: RemoteBackend, segment: Segment) -> RenderJob:
    """For providers that fetch the product image by URL (Luma): store the image as they take
    it and put its storage URL (presigned on S3) in the job. Only an absolute http(s) URL is
    of use to them; the adapter refuses anything else."""
    if not backend.needs_image_url:
        return job
    prepared = backend.image_to_publish(job)
    if prepared is None:
        return job
    data, mime = prepared
    suffix = "png" if mime == "image/png" else "jpg"
    name = f"published/{segment.merchant.slug}/{hashlib.sha256(data).hexdigest()[:32]}.{suffix}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    hashes = {**job.assets.hashes, "product_image_url": default_storage.url(name)}
    return replace(job, assets=replace(job.assets, hashes=hashes))


def segment_poll(*, segment: Segment) -> Segment:
    """Ask the provider how the job stands; finish, fail or poll again later."""
    if segment.status != Segment.Status.RENDERING or not segment.provider_job_id:
        return segment
    backend = _backend(segment)
    submitted = Submitted(job_id=segment.provider_job_id, data=segment.provider_data)
    Segment.objects.filter(pk=segment.pk).update(polls=F("polls") + 1, polled_at=timezone.now())
    segment.refresh_from_db()
    try:
        status = backend.poll(submitted)
    except ProviderFailure as failure:
        if failure.final:
            return _failed(segment, failure, stage="poll")
        status = JobStatus("running")
    if status.state == "running":
        with transaction.atomic():
            _schedule_poll(segment.pk, _next_poll_in(backend, segment.polls))
        return segment
    if status.state == "failed":
        return _failed(
            segment, status.failure or backend.failure("invalid", "the job failed"), stage="job"
        )
    return _finish(segment, backend, status)


def segment_poke(*, segment: Segment) -> None:
    """A provider said the job changed: poll it now (the callback's body is not trusted)."""
    if segment.status == Segment.Status.RENDERING and segment.provider_job_id:
        _schedule_poll(segment.pk, 0)


def _finish(segment: Segment, backend: RemoteBackend, status: JobStatus) -> Segment:
    now = timezone.now()
    won = claim(
        Segment.objects.filter(pk=segment.pk, status=Segment.Status.RENDERING),
        free=Q(finishing_at__isnull=True),
        held=Q(),
        held_since="finishing_at",
        finishing_at=now,
    )
    if not won:
        segment.refresh_from_db()
        return segment  # another poll is storing it
    profile = OutputProfile(**segment.profile)
    plan = ScenePlan.from_dict(segment.plan)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="scenecart-remote-") as workdir:
            raw = backend.download(status, Path(workdir) / "provider.mp4")
            out_path = Path(workdir) / f"{segment.key}.mp4"
            seconds = profile.frames_for(plan.seconds) / profile.fps
            house_normalize(raw, out_path, profile, seconds=seconds)
            name, probed = segment_file_store(
                segment=segment, path=out_path, profile=profile, seconds=seconds
            )
    except StorageWriteError as exc:
        # Storage is down: try again at the next poll (the provider's file lasts hours).
        logger.warning("Segment %s fetched but not stored: %s", segment.key[:12], exc)
        Segment.objects.filter(pk=segment.pk).update(finishing_at=None, error=str(exc)[:2000])
        with transaction.atomic():
            _schedule_poll(segment.pk, _next_poll_in(backend, segment.polls + 3))
        return segment
    except ProviderFailure as failure:
        Segment.objects.filter(pk=segment.pk).update(finishing_at=None)
        if failure.final:
            return _failed(segment, failure, stage="download")
        with transaction.atomic():
            _schedule_poll(segment.pk, _next_poll_in(backend, segment.polls))
        return segment
    except Exception as exc:
        logger.exception("Storing the output of segment %s failed", segment.key[:12])
        Segment.objects.filter(pk=segment.pk).update(finishing_at=None)
        return _failed(
            segment, backend.failure("invalid", f"unusable output: {exc}"), stage="store"
        )
    Segment.objects.filter(pk=segment.pk, finishing_at=now).update(
        status=Segment.Status.READY,
        file=name,
        duration=probed.duration,
        rendered_at=timezone.now(),
        render_seconds=(timezone.now() - (segment.submitted_at or now)).total_seconds()
        + (time.perf_counter() - started),
    )
    segment.refresh_from_db()
    logger.info("Stored segment %s from %s", segment.key[:12], segment.backend)
    segment_followups(segment=segment)
    return segment


def _failed(segment: Segment, failure: ProviderFailure, *, stage: str) -> Segment:
    """A transient failure is submitted again later (a job that failed for a transient
    reason, e.g. the provider's queue expired it, is created anew: providers charge for
    finished clips only); a final one falls back or fails."""
    retry = stage in ("submit", "job")
    if not failure.final and retry and segment.attempts < MAX_SUBMIT_ATTEMPTS:
        Segment.objects.filter(pk=segment.pk).update(
            status=Segment.Status.PENDING,
            error=f"{failure} (will retry)",
            provider_job_id="",
            provider_data={},
            finishing_at=None,
        )
        backend = _backend(segment)
        delay = failure.retry_after or backend.delay(segment.attempts + 2)
        dispatch.submit_segments([segment.pk], countdown=max(1.0, delay))
        segment.refresh_from_db()
        return segment
    Segment.objects.filter(pk=segment.pk).update(failure_kind=failure.kind)
    if failure.kind == "moderation":
        segment_fail(
            segment=segment,
            reason=f"The provider refused the content ({segment.backend}): {failure}",
        )
    else:
        fallback = segment_fall_back(segment=segment, reason=str(failure))
        if fallback is None:
            segment_fail(segment=segment, reason=f"{segment.backend} failed at {stage}: {failure}")
    segment.refresh_from_db()
    return segment


def _backend(segment: Segment) -> RemoteBackend:
    backend = merchant_backend(segment.backend, merchant_id=segment.merchant_id)
    if not isinstance(backend, RemoteBackend):
        raise TypeError(f"{segment.backend!r} is not a remote provider.")
    return backend


def segment_fall_back(*, segment: Segment, reason: str) -> Segment | None:
    """Hand a failed segment to the next backend of its fallback chain: the same plan and
    inputs, rendered elsewhere; the videos waiting for it wait for the stand-in instead.
    None when the chain is exhausted."""
    chain = fallback_chain(segment.backend, merchant_id=segment.merchant_id)
    # Walk past backends this segment's lineage already tried.
    tried = {segment.backend}
    origin = segment
    while origin.fallback_for_id:
        origin = Segment.objects.get(pk=origin.fallback_for_id)
        tried.add(origin.backend)
        chain = chain or fallback_chain(origin.backend, merchant_id=segment.merchant_id)
    remaining = [alias for alias in chain if alias not in tried]
    if not remaining:
        return None
    backend = merchant_backend(remaining[0], merchant_id=segment.merchant_id)
    plan = ScenePlan.from_dict(segment.plan)
    profile = OutputProfile(**segment.profile)
    key = segment_key(
        merchant_id=segment.merchant_id,
        backend=backend,
        plan=plan,
        inputs=segment.inputs,
        profile=profile,
        seed=segment.seed,
    )
    spec = SegmentSpec(
        key=key,
        plan=plan,
        profile=profile,
        backend=backend,
        inputs=segment.inputs,
        seed=segment.seed,
        cost=segment_price(backend=backend, plan=plan, profile=profile),
    )
    music = music_of(BrandKit.objects.filter(merchant_id=segment.merchant_id).first())
    with transaction.atomic():
        stand_in = segment_ensure(spec=spec, merchant_id=segment.merchant_id)
        if stand_in.fallback_for_id is None and stand_in.pk != segment.pk:
            Segment.objects.filter(pk=stand_in.pk).update(fallback_for=segment)
        Segment.objects.filter(pk=segment.pk).update(
            status=Segment.Status.FAILED,
            error=f"{segment.backend} failed: {reason}; rendering on {backend.alias} instead"[
                :2000
            ],
        )
        for video in videos_waiting_for(segment=segment):
            VideoSegment.objects.filter(video=video, segment=segment).update(segment=stand_in)
            keys = list(video.parts.order_by("position").values_list("segment__key", flat=True))
            Video.objects.filter(pk=video.pk).update(recipe_key=recipe_key(keys, music=music))
        if stand_in.status in (Segment.Status.PENDING, Segment.Status.FAILED):
            Segment.objects.filter(pk=stand_in.pk).update(status=Segment.Status.PENDING, error="")
            stand_in.refresh_from_db()
            segment_enqueue([stand_in])
    logger.warning(
        "Segment %s: %s failed (%s); falling back to %s",
        segment.key[:12], segment.backend, reason, backend.alias,
    )  # fmt: skip
    stand_in.refresh_from_db()
    return stand_in


# A remote segment not polled for this long has lost its poll chain (a worker killed between
# polls, a broker restarted); the periodic sweep schedules a poll again.
RESUME_AFTER = timedelta(minutes=5)


def segments_resume(*, now: datetime | None = None) -> int:
    """Schedule a poll for every submitted segment whose polls stopped, and a submission for
    every claimed one that never got a job id; the number resumed. Never creates a job for a
    segment that has one."""
    now = now or timezone.now()
    cutoff = now - RESUME_AFTER
    resumed = 0
    stuck = Segment.objects.filter(status=Segment.Status.RENDERING).exclude(provider_job_id="")
    for pk in stuck.filter(
        Q(polled_at__lt=cutoff) | Q(polled_at__isnull=True, submitted_at__lt=cutoff)
    ).values_list("pk", flat=True):
        with transaction.atomic():
            _schedule_poll(pk, 0)
        resumed += 1
    return resumed
