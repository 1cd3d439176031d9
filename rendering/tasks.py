"""Celery tasks: thin, id-taking, idempotent. The work is in ``rendering.services``."""

import random
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from catalog.models import Merchant

from . import bulk, dispatch, freshness, publication, remote, services
from .backends import is_remote
from .housekeeping import housekeeping_sweep
from .models import BulkJob, Segment, Video
from .sweeps import stale_work_requeue

# Storage that refuses writes is retried for about 10 minutes before the segment fails.
STORAGE_RETRIES = 6


@shared_task(name="rendering.render_segment", bind=True, acks_late=True, reject_on_worker_lost=True)
def render_segment(self: Task, segment_id: int) -> None:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return
    if is_remote(segment.backend):
        # Queued before its backend became a provider (or by hand): submit, don't render.
        dispatch.submit_segments([segment.pk])
        return
    try:
        segment = services.segment_render(segment=segment)
    except services.StorageWriteError as exc:
        if self.request.retries >= STORAGE_RETRIES:
            services.segment_fail(segment=segment, reason=str(exc))
            return
        # Backoff with jitter: 5 s, 10 s, 20 s… capped at 5 minutes.
        countdown = min(300, 5 * 2**self.request.retries) * random.uniform(0.8, 1.2)
        raise self.retry(countdown=countdown, exc=exc) from exc
    except Exception:
        # segment_render has recorded the failure on the segment and its videos; a local render
        # that failed once fails the same way again, so there is nothing to retry.
        return
    services.segment_followups(segment=segment)


@shared_task(name="rendering.submit_segment", acks_late=True, reject_on_worker_lost=True)
def submit_segment(segment_id: int) -> None:
    """Create a provider job for the segment, once (a redelivery resumes the recorded one)."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is not None:
        remote.segment_submit(segment=segment)


@shared_task(name="rendering.poll_segment", acks_late=True, reject_on_worker_lost=True)
def poll_segment(segment_id: int) -> None:
    """Ask the provider once; the service re-schedules this task while the job runs."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is not None:
        remote.segment_poll(segment=segment)


@shared_task(name="rendering.requeue_stale_work")
def requeue_stale_work() -> None:
    """Periodic: work whose message was lost (a killed worker, a restarted broker) is queued
    again; see rendering.sweeps."""
    stale_work_requeue()


@shared_task(name="rendering.plan_video", acks_late=True, reject_on_worker_lost=True)
def plan_video(video_id: int) -> None:
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return
    services.video_plan(video=video)


@shared_task(name="rendering.assemble_video", acks_late=True, reject_on_worker_lost=True)
def assemble_video(video_id: int) -> None:
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return
    try:
        services.video_assemble(video=video)
    except Exception:
        # Recorded on the video (status FAILED with the reason); a new request retries it.
        return


@shared_task(name="rendering.sync_publication", acks_late=True, reject_on_worker_lost=True)
def sync_publication(merchant_id: int, product_ids: list[int] | None = None) -> None:
    """Queued by name (``rendering.publication.SYNC_TASK``) when a merchant's policy or a
    product's status changes: files of videos no longer published leave the public prefix."""
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is not None:
        publication.merchant_publication_sync(merchant=merchant, product_ids=product_ids)


@shared_task(name="rendering.refresh_videos", acks_late=True, reject_on_worker_lost=True)
def refresh_videos(
    merchant_id: int, product_ids: list[int] | None = None, reason: str = ""
) -> None:
    """Queued by name (``catalog.dispatch.refresh_videos`` and the like) after a change of what
    videos show: re-plan them; only what changed is rendered again."""
    freshness.videos_refresh(merchant_id=merchant_id, product_ids=product_ids, reason=reason)


@shared_task(name="rendering.submit_bulk_job", acks_late=True, reject_on_worker_lost=True)
def submit_bulk_job(job_id: int) -> None:
    job = BulkJob.objects.filter(pk=job_id).select_related("merchant").first()
    if job is None:
        return
    bulk.bulk_job_submit(job=job)


@shared_task(name="rendering.housekeeping_sweep")
def housekeeping_sweep_task() -> None:
    # Periodic (CELERY_BEAT_SCHEDULE), routed to the default queue.
    housekeeping_sweep(grace=timedelta(hours=settings.SCENECART_HOUSEKEEPING_GRACE_HOURS))
