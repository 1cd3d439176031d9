"""A merchant's bucket policy as the storefront applies it: which variant a shopper's context
maps to, which variants may stand in for it, and which may be rendered on demand.

Lookup order for a context: the exact bucket (its dimensions cut to those the merchant counts),
then the same with dimensions dropped one at a time in ``FALLBACK_ORDER``, then the generic
video. Only approved buckets (and the generic one) are ever rendered on demand.
"""

from dataclasses import dataclass
from functools import lru_cache

from catalog.models import Merchant
from scenecart.cache import forget, read_through

from .context import DIMENSIONS, GENERIC_BUCKET, ShopperContext
from .models import DEFAULT_DIMENSIONS, BucketPolicy

# The least telling dimension goes first: a rainy-evening video is a better stand-in for a
# rainy-night shopper than an evening video with no rain. Climate, the headline, goes last.
FALLBACK_ORDER = ("time", "season", "locale", "aesthetic", "climate")
POLICY_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Policy:
    """What the storefront needs of a ``BucketPolicy``: plain values, cheap to cache."""

    dimensions: tuple[str, ...] = tuple(DEFAULT_DIMENSIONS)
    approved: frozenset[str] = frozenset()
    allow_public_hints: bool = False
    require_consent: bool = False
    holdout_percent: int = 0
    require_approval: bool = False

    def project(self, context: ShopperContext) -> ShopperContext:
        """The context cut to the dimensions this merchant's variants differ by."""
        extra = [d for d in DIMENSIONS if d not in self.dimensions and getattr(context, d)]
        return context.without(*extra) if extra else context

    def approves(self, bucket: str) -> bool:
        return bucket == GENERIC_BUCKET or bucket in self.approved


@lru_cache(maxsize=4096)
def candidates(context: ShopperContext) -> tuple[ShopperContext, ...]:
    """The exact context, then stand-ins with dimensions dropped in ``FALLBACK_ORDER``, ending
    with the generic context; no bucket twice. Memoized: contexts are few and immutable."""
    found = [context]
    current = context
    for dimension in FALLBACK_ORDER:
        if getattr(current, dimension) is None:
            continue
        current = current.without(dimension)
        found.append(current)
    if not found[-1].is_generic:
        found.append(ShopperContext())
    return tuple(found)


def _cache_key(merchant_id: int) -> str:
    return f"bucket-policy:v2:{merchant_id}"


def policy_for(*, merchant: Merchant) -> Policy:
    """The merchant's policy (cached; ``bucket_policy_update`` drops the entry). A merchant that
    never set one counts climate and aesthetic, renders only the generic video on demand, and
    takes no hints from the page."""
    return read_through(
        _cache_key(merchant.pk),
        ttl=POLICY_CACHE_SECONDS,
        load=lambda: _policy_from_row(BucketPolicy.objects.filter(merchant=merchant).first()),
    )


def _policy_from_row(row: BucketPolicy | None) -> Policy:
    if row is None:
        return Policy()
    return Policy(
        dimensions=tuple(row.dimensions),
        approved=frozenset(row.approved_buckets),
        allow_public_hints=row.allow_public_hints,
        require_consent=row.require_consent,
        holdout_percent=row.holdout_percent,
        require_approval=row.require_approval,
    )


def policy_forget(*, merchant_id: int) -> None:
    forget(_cache_key(merchant_id))
