"""The periodic sweep that re-queues work a lost message left behind.

Messages are lost: a worker killed mid-task on a broker that does not redeliver (the
filesystem broker), a Redis restarted without persistence, a task whose soft time limit
fired. Every piece of work is recorded in rows first, so the sweep finds it there:

- a segment claimed by a render that has not finished within SCENECART_RENDER_STALE_AFTER
  (its worker died): queued again; the render's conditional claim lets exactly one worker
  take it, and a READY segment is never rendered again;
- a segment PENDING for longer than that with nothing rendering it: queued again;
- a remote segment whose polls stopped: polled again (never submitted twice:
  rendering.remote.segments_resume);
- a video whose segments are all READY but which is still waiting: assembled.

Run by beat every minute (``rendering.requeue_stale_work``). Queuing twice is harmless:
every task is idempotent.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from . import dispatch
from .models import Segment, Video
from .remote import segments_resume
from .services import segment_enqueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    segments: int
    polls: int
    videos: int


def stale_work_requeue(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.SCENECART_RENDER_STALE_AFTER)
    stuck = Segment.objects.filter(
        Q(status=Segment.Status.RENDERING, claimed_at__lt=stale, provider_job_id="")
        | Q(status=Segment.Status.PENDING, created_at__lt=stale)
        & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))
    )
    segments = list(stuck)
    if segments:
        # Bumps claimed_at of PENDING ones so the next sweep waits a full period again.
        Segment.objects.filter(
            pk__in=[s.pk for s in segments], status=Segment.Status.PENDING
        ).update(claimed_at=now)
        segment_enqueue(segments)
    polls = segments_resume(now=now)
    waiting = (
        Video.objects.filter(status=Video.Status.PENDING, updated_at__lt=stale)
        .exclude(recipe_key="")
        .annotate(open_parts=Count("parts", filter=~Q(parts__segment__status=Segment.Status.READY)))
        .filter(open_parts=0)
    )
    videos = list(waiting.values_list("pk", flat=True))
    dispatch.assemble_videos(videos)
    if segments or polls or videos:
        logger.warning(
            "Re-queued %d stale segment(s), %d lost poll(s), %d video(s) to assemble",
            len(segments), polls, len(videos),
        )  # fmt: skip
    return SweepResult(segments=len(segments), polls=polls, videos=len(videos))
