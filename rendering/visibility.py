"""The one rule for what a shopper may see of a product's videos.

The storefront's lookup, the iframe player's fallback, oEmbed's thumbnail, the provenance page
and where a video's files are stored (``rendering.publication``) all ask this, so nothing the
lookup withholds is reachable through another public URL.
"""

from .models import Video


def is_published(
    *,
    has_file: bool,
    approval: str,
    require_approval: bool,
    active: bool = True,
    fresh: bool = True,
) -> bool:
    """A finished file of an active product that still states the catalog's facts
    (``catalog.facts``), never rejected, and approved where the merchant requires approval.

    A file stays published while a refresh re-makes the video for a change that leaves its
    facts true (brand colors, music); the new file replaces it when it is ready.
    """
    if not (active and has_file and fresh):
        return False
    if approval == Video.Approval.REJECTED:
        return False
    return approval == Video.Approval.APPROVED or not require_approval
