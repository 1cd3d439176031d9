"""The one rule for what a shopper may see of a product's videos.

The storefront's lookup, the iframe player's fallback, oEmbed's thumbnail, the provenance page
and where a video's files are stored (``rendering.publication``) all ask this, so nothing the
lookup withholds is reachable through another public URL.
"""

from .models import Video


def is_published(
    *, status: str, has_file: bool, approval: str, require_approval: bool, active: bool = True
) -> bool:
    """Ready with a file, of an active product, never rejected, and approved where the
    merchant requires approval."""
    if not (active and status == Video.Status.READY and has_file):
        return False
    if approval == Video.Approval.REJECTED:
        return False
    return approval == Video.Approval.APPROVED or not require_approval
