"""Rendering's task that a policy change calls for, queued by name after commit
(``scenecart.dispatch``): personalization does not import rendering."""

from scenecart.dispatch import queue_on_commit

# rendering.dispatch.SYNC_PUBLICATION: requiring approval withdraws unreviewed videos.
SYNC_PUBLICATION = "rendering.sync_publication"


def sync_publication(merchant_id: int) -> None:
    queue_on_commit(SYNC_PUBLICATION, merchant_id)
