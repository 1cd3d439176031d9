"""The rendering tasks, queued by name after commit (``scenecart.dispatch``); the names are
the contract with ``rendering.tasks``."""

from collections.abc import Iterable

from scenecart.dispatch import queue_on_commit

RENDER_SEGMENT = "rendering.render_segment"
SUBMIT_SEGMENT = "rendering.submit_segment"
POLL_SEGMENT = "rendering.poll_segment"
PLAN_VIDEO = "rendering.plan_video"
ASSEMBLE_VIDEO = "rendering.assemble_video"
SUBMIT_BULK_JOB = "rendering.submit_bulk_job"
SYNC_PUBLICATION = "rendering.sync_publication"
REFRESH_VIDEOS = "rendering.refresh_videos"


def render_segments(segment_ids: Iterable[int]) -> None:
    for pk in segment_ids:
        queue_on_commit(RENDER_SEGMENT, pk)


def submit_segments(segment_ids: Iterable[int], *, countdown: float | None = None) -> None:
    for pk in segment_ids:
        queue_on_commit(SUBMIT_SEGMENT, pk, countdown=countdown)


def poll_segment(segment_id: int, *, countdown: float) -> None:
    queue_on_commit(POLL_SEGMENT, segment_id, countdown=countdown)


def plan_video(video_id: int) -> None:
    queue_on_commit(PLAN_VIDEO, video_id)


def assemble_videos(video_ids: Iterable[int]) -> None:
    for pk in video_ids:
        queue_on_commit(ASSEMBLE_VIDEO, pk)


def submit_bulk_job(job_id: int) -> None:
    queue_on_commit(SUBMIT_BULK_JOB, job_id)


def refresh_videos(merchant_id: int, *, product_ids: list[int] | None, reason: str) -> None:
    queue_on_commit(REFRESH_VIDEOS, merchant_id, product_ids=product_ids, reason=reason)
