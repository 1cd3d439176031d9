"""Rendering's tasks that a policy change calls for, queued by name after commit
(``scenecart.dispatch``): personalization does not import rendering."""

from scenecart.dispatch import queue_on_commit

# rendering.dispatch.SYNC_PUBLICATION: requiring approval withdraws unreviewed videos.
SYNC_PUBLICATION = "rendering.sync_publication"
# rendering.dispatch.REFRESH_VIDEOS: a content policy change re-plans every video of the shop.
REFRESH_VIDEOS = "rendering.refresh_videos"


def sync_publication(merchant_id: int) -> None:
    queue_on_commit(SYNC_PUBLICATION, merchant_id)


def refresh_videos(merchant_id: int, *, reason: str) -> None:
    queue_on_commit(REFRESH_VIDEOS, merchant_id, product_ids=None, reason=reason)
