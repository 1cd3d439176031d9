"""Feed sync: a catalog export the merchant publishes at a URL, imported again on a schedule.

Beat runs ``catalog.sync_due_feeds`` every minute; it queues ``catalog.sync_feed`` for each
enabled feed whose ``next_due_at`` has passed, pushing that time on first so the next tick (or
a second beat started by mistake) does not queue it again. A sync:

* claims the feed by a conditional UPDATE of ``syncing_since``, so two workers (or a worker and
  the ``sync_feed`` command) never sync one feed at once; a claim older than the task's hard
  time limit belongs to a worker that was killed and is taken over;
* fetches it with the safe fetcher (``catalog.fetch.document_fetch``: no private addresses,
  redirects checked hop by hop, the import's size cap), conditionally, with the ETag and
  Last-Modified of the copy last imported: an unchanged feed answers 304 and nothing is parsed;
* imports a changed feed like an upload (``catalog_import``), which leaves unchanged products
  untouched, and keeps the report;
* records a failure (refused address, HTTP error, timeout, a file that is no catalog) with its
  reason, keeps the last good report and validators, and tries again at the next due time.
"""

import logging
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import dispatch
from .fetch import FetchRefused, document_fetch
from .importers import ImportFormatError
from .importing import catalog_import
from .models import CatalogFeed, Merchant

logger = logging.getLogger(__name__)

# The refused rows a stored report keeps (with the total): enough to fix a feed by, without
# a broken feed of 50,000 rows turning every admin page that reads the row into megabytes.
MAX_REFUSED_KEPT = 100


class CatalogFeedBusy(Exception):
    """Another worker is syncing the feed right now; the message says since when."""


def catalog_feed_create(
    *,
    merchant: Merchant,
    url: str,
    format: str = CatalogFeed.Format.DETECT,
    role: str = CatalogFeed.Role.PRIMARY,
    every_minutes: int = 60,
    enabled: bool = True,
) -> CatalogFeed:
    """Register a feed; it is due at once, so beat syncs it within a minute."""
    feed = CatalogFeed(
        merchant=merchant,
        url=url.strip(),
        format=format,
        role=role,
        every_minutes=every_minutes,
        enabled=enabled,
    )
    feed.full_clean()
    feed.save()
    return feed


def catalog_feed_update(
    *,
    feed: CatalogFeed,
    url: str | None = None,
    format: str | None = None,
    role: str | None = None,
    every_minutes: int | None = None,
    enabled: bool | None = None,
) -> CatalogFeed:
    """Change what the merchant sets on a feed; ``None`` leaves a field as it is.

    A new URL, format or role makes the feed a different document: its validators are
    dropped and it is due at once. Only the fields changed here are written, so a sync
    finishing meanwhile keeps its results.
    """
    wanted: dict[str, object] = {
        "url": url.strip() if url is not None else None,
        "format": format,
        "role": role,
        "every_minutes": every_minutes,
        "enabled": enabled,
    }
    changed = [
        name for name, value in wanted.items() if value is not None and value != getattr(feed, name)
    ]
    if not changed:
        return feed
    for name in changed:
        setattr(feed, name, wanted[name])
    if {"url", "format", "role"} & set(changed):
        feed.etag = feed.last_modified = ""
        feed.next_due_at = timezone.now()
        changed += ["etag", "last_modified", "next_due_at"]
    elif "every_minutes" in changed and feed.last_checked_at is not None:
        feed.next_due_at = feed.last_checked_at + timedelta(minutes=feed.every_minutes)
        changed.append("next_due_at")
    feed.full_clean()
    feed.save(update_fields=changed)
    return feed


def catalog_feeds_due(*, now: datetime) -> QuerySet[CatalogFeed]:
    """Enabled feeds whose next sync is due at ``now``, the longest overdue first."""
    return CatalogFeed.objects.filter(enabled=True, next_due_at__lte=now).order_by("next_due_at")


def catalog_feeds_queue_due(*, now: datetime | None = None) -> int:
    """Queue a sync of every due feed (beat, every minute); returns how many were queued."""
    now = now or timezone.now()
    queued = 0
    for pk, every_minutes in catalog_feeds_due(now=now).values_list("pk", "every_minutes"):
        # Still due: of two beats, one queues it. Its next due time moves on before the sync
        # runs, so a lost message is made good by the next due time, not by a flood.
        pushed = CatalogFeed.objects.filter(pk=pk, next_due_at__lte=now).update(
            next_due_at=now + timedelta(minutes=every_minutes)
        )
        if pushed:
            dispatch.sync_feed(pk)
            queued += 1
    return queued


def catalog_feed_sync_request(*, feed: CatalogFeed) -> None:
    """Sync the feed now, in a worker (the admin's "Sync now")."""
    dispatch.sync_feed(feed.pk)


def catalog_feed_sync(*, feed: CatalogFeed) -> CatalogFeed:
    """Fetch the feed and import it if it changed; returns the feed with the outcome recorded.

    Raises ``CatalogFeedBusy`` if another worker is syncing it. A failure is recorded on the
    feed (``last_outcome`` failed, ``last_error`` the reason), not raised; an unexpected
    error is recorded too, and raised.
    """
    claimed = timezone.now()
    stale = claimed - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    free = Q(syncing_since__isnull=True) | Q(syncing_since__lt=stale)
    if not CatalogFeed.objects.filter(free, pk=feed.pk).update(syncing_since=claimed):
        feed.refresh_from_db(fields=["syncing_since"])
        since = feed.syncing_since or claimed  # a sync that finished this instant
        raise CatalogFeedBusy(
            f"The feed {feed.url} is being synced by a worker since {since:%Y-%m-%d %H:%M:%S %Z}."
        )
    feed.refresh_from_db()  # the validators of the last sync, whoever ran it
    try:
        results = _fetch_and_import(feed)
    except Exception as exc:
        _record(
            feed, claimed, _failed(f"The sync stopped unexpectedly ({type(exc).__name__}: {exc}).")
        )
        raise
    _record(feed, claimed, results)
    feed.refresh_from_db()
    logger.info(
        "Feed %s of %s: %s %s", feed.pk, feed.merchant_id, feed.last_outcome, feed.last_error
    )
    return feed


def _fetch_and_import(feed: CatalogFeed) -> dict[str, Any]:
    try:
        fetched = document_fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
    except FetchRefused as exc:
        return _failed(f"Could not fetch the feed: {exc}.")
    validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
    if fetched.not_modified:
        return {"last_outcome": CatalogFeed.Outcome.NOT_MODIFIED, "last_error": "", **validators}
    try:
        report = catalog_import(
            merchant=feed.merchant,
            content=fetched.content,
            filename=_filename(fetched.url),
            format=feed.format or None,
            supplemental=feed.role == CatalogFeed.Role.SUPPLEMENTAL,
        )
    except ImportFormatError as exc:
        # The validators stay those of the last good copy: the same broken file is fetched
        # (and refused) again, and a fixed one is imported.
        return _failed(f"The feed could not be read: {exc}")
    stored = report.to_dict()
    if len(report.refused) > MAX_REFUSED_KEPT:
        kept = report.refused[:MAX_REFUSED_KEPT]
        stored["refused"] = [{"line": row.line, "reason": row.reason} for row in kept]
        stored["refused_total"] = len(report.refused)
    return {
        "last_outcome": CatalogFeed.Outcome.OK,
        "last_error": "",
        "last_report": stored,
        "last_changed_at": timezone.now(),
        **validators,
    }


def _failed(reason: str) -> dict[str, Any]:
    return {"last_outcome": CatalogFeed.Outcome.FAILED, "last_error": reason}


def _record(feed: CatalogFeed, claimed: datetime, results: dict[str, Any]) -> None:
    """Write the outcome and release the claim, if it is still this sync's."""
    finished = timezone.now()
    written = CatalogFeed.objects.filter(pk=feed.pk, syncing_since=claimed).update(
        **results,
        syncing_since=None,
        last_checked_at=finished,
        next_due_at=finished + timedelta(minutes=feed.every_minutes),
    )
    if not written:
        logger.warning("Feed %s: the sync's claim was taken over; its outcome is dropped", feed.pk)


def _filename(url: str) -> str:
    """The name the feed goes by in the import's messages: the last part of its path."""
    parts = urlsplit(url)
    return PurePosixPath(parts.path).name or parts.hostname or "feed"
