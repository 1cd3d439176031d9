"""Writes of the storefront: playback events into per-variant counters."""

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import NotRequired, TypedDict

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Merchant
from rendering.models import Video

from .models import VariantStats

# The counter each event adds one to, by (type, quartile).
EVENT_COUNTERS: dict[tuple[str, int | None], str] = {
    ("impression", None): "impressions",
    ("play", None): "plays",
    ("progress", 25): "progress_25",
    ("progress", 50): "progress_50",
    ("progress", 75): "progress_75",
    ("complete", None): "completes",
    ("click", None): "clicks",
}


class PlaybackEvent(TypedDict):
    """One event as ``storefront.serializers.EventSerializer`` validates it."""

    type: str
    video: int
    quartile: NotRequired[int]  # progress events only
    holdout: NotRequired[bool]


def playback_events_record(
    *, merchant: Merchant, events: Iterable[PlaybackEvent]
) -> tuple[int, list[dict[str, object]]]:
    """Count validated events (``type``, ``video``, ``quartile``, ``holdout``) into today's
    ``VariantStats`` rows. Returns (accepted, rejected): an event naming a video that is not
    this merchant's is rejected with its index; the rest are kept.

    A batch becomes one UPDATE per (video, group) row, whatever its size.
    """
    batch = list(events)
    own = set(
        Video.objects.filter(
            pk__in={int(e["video"]) for e in batch},
            product__merchant=merchant,
        ).values_list("pk", flat=True)
    )
    counts: dict[tuple[int, bool], Counter[str]] = {}
    rejected: list[dict[str, object]] = []
    for index, event in enumerate(batch):
        video_id = int(event["video"])
        if video_id not in own:
            rejected.append(
                {"index": index, "error": f"Video {video_id} is not one of {merchant.slug!r}'s."}
            )
            continue
        quartile = event.get("quartile") if event["type"] == "progress" else None
        counter = EVENT_COUNTERS[(str(event["type"]), quartile)]
        counts.setdefault((video_id, bool(event.get("holdout"))), Counter())[counter] += 1
    day = timezone.now().date()
    for (video_id, holdout), added in counts.items():
        _add(merchant=merchant, video_id=video_id, day=day, holdout=holdout, added=added)
    return len(batch) - len(rejected), rejected


def _add(
    *, merchant: Merchant, video_id: int, day: date, holdout: bool, added: Counter[str]
) -> None:
    row = VariantStats.objects.filter(video_id=video_id, day=day, holdout=holdout)
    if row.update(**{name: F(name) + n for name, n in added.items()}):
        return
    try:
        with transaction.atomic():
            VariantStats.objects.create(
                merchant=merchant, video_id=video_id, day=day, holdout=holdout, **added
            )
    except IntegrityError:
        # Another request created today's row between our UPDATE and INSERT.
        row.update(**{name: F(name) + n for name, n in added.items()})
