"""Which variant a shopper is shown, and what they are waiting for: the lookup's domain logic.

The shopper's context gives a ladder of candidates (the exact variant, then stand-ins with
dimensions dropped in a fixed order, ending with the generic video). The variant *served* is
the first candidate the storefront publishes; the *target* is the best one the merchant
approves for this shopper. When the served variant is not the target, the target's state says
what the shopper waits for, and a missing target is asked for once (never an unapproved one).
"""

from dataclasses import dataclass

from django.utils import timezone

from personalization.context import GENERIC_BUCKET, ShopperContext
from personalization.policy import Policy, candidates
from rendering.selectors import ProductVariants, Variant
from rendering.services import PLANNING_RETRY_AFTER, video_request_once


@dataclass(frozen=True, slots=True)
class VariantChoice:
    served: Variant | None  # what the shopper is shown now
    served_bucket: str | None
    target_bucket: str  # the best variant the merchant approves for this shopper
    # where the target stands: ready, unapproved, rendering, refreshing, failed, in_review
    requested: str
    error: str = ""  # why the target failed

    @property
    def status(self) -> str:
        """ready: nothing better is coming (the shopper's own variant, or the best one the
        merchant approves for them); fallback: a stand-in while a better one renders (or after
        it failed); pending: nothing to show yet."""
        if self.served is None:
            return "pending"
        return "ready" if self.requested in ("ready", "unapproved", "in_review") else "fallback"

    @property
    def personalized(self) -> bool:
        return self.served_bucket is not None and self.served_bucket != GENERIC_BUCKET


def variant_choose(
    *, table: ProductVariants, context: ShopperContext, policy: Policy, aspect: str
) -> VariantChoice:
    """The variant to show this shopper, queuing the one they should get if nobody has yet."""
    ladder = candidates(context)
    variants = table.variants
    require = policy.require_approval
    served = next(
        (
            c.bucket
            for c in ladder
            if (v := variants.get(c.bucket)) and table.servable(v, require_approval=require)
        ),
        None,
    )
    target = next(c.bucket for c in ladder if policy.approves(c.bucket))
    chosen = variants[served] if served else None
    if served == ladder[0].bucket:
        return VariantChoice(chosen, served, target, "ready")
    if served is not None and _rung(ladder, served) <= _rung(ladder, target):
        return VariantChoice(chosen, served, target, "unapproved")
    requested, error = _target_state(table, target, aspect, require)
    if served is None and target != GENERIC_BUCKET and GENERIC_BUCKET not in variants:
        # Nothing to show at all: the generic video, everyone's stand-in, is queued too, so a
        # shopper is never left with nothing if their variant fails.
        video_request_once(product_id=table.product_id, bucket=GENERIC_BUCKET, aspect=aspect)
    return VariantChoice(chosen, served, target, requested, error)


def _target_state(
    table: ProductVariants, bucket: str, aspect: str, require: bool
) -> tuple[str, str]:
    """Where the variant to wait for stands; queue it (once) if nobody has asked yet."""
    product_id = table.product_id
    variant = table.variants.get(bucket)
    if variant is None:
        video_request_once(product_id=product_id, bucket=bucket, aspect=aspect)
        return "rendering", ""
    if variant.ready and not table.fresh(variant):
        # The catalog changed what the video states; the change queued its refresh.
        return "refreshing", ""
    if variant.status == "failed":
        return "failed", variant.error
    if variant.ready and not table.servable(variant, require_approval=require):
        # Rendered, waiting for the merchant's review: nothing to poll for.
        return "in_review", ""
    if not variant.planned and variant.updated_at < timezone.now() - PLANNING_RETRY_AFTER:
        video_request_once(product_id=product_id, bucket=bucket, aspect=aspect)
    return "rendering", ""


def _rung(ladder: tuple[ShopperContext, ...], bucket: str) -> int:
    return next(i for i, context in enumerate(ladder) if context.bucket == bucket)
