"""Claiming work by a conditional UPDATE: of all the workers that try, one wins, and a claim
older than ``SCENECART_RENDER_STALE_AFTER`` (its worker died) is taken over.

Used by every step that must happen once per row however often its task is delivered: a
segment's render or provider submission, storing a provider's clip, a video's assembly.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet

from .models import Segment


def stale_before(now: datetime) -> datetime:
    """Claims made before this belong to a worker that died."""
    return now - timedelta(seconds=settings.SCENECART_RENDER_STALE_AFTER)


def claim(rows: QuerySet[Any], *, free: Q, held: Q, held_since: str, **update: Any) -> bool:
    """Take the row if it is ``free``, or ``held`` since before the stale limit; ``update``
    records the claim (its time in ``held_since``). True if this call took it."""
    stale = stale_before(update[held_since])
    return bool(rows.filter(free | (held & Q(**{f"{held_since}__lt": stale}))).update(**update))


def segment_claim(*, segment: Segment, now: datetime, **only: Any) -> bool:
    """Claim a pending segment for rendering or submission (``only``: further conditions, e.g.
    no provider job yet); counts the attempt."""
    return claim(
        Segment.objects.filter(pk=segment.pk, **only),
        free=Q(status=Segment.Status.PENDING),
        held=Q(status=Segment.Status.RENDERING),
        held_since="claimed_at",
        status=Segment.Status.RENDERING,
        claimed_at=now,
        error="",
        attempts=F("attempts") + 1,
    )
