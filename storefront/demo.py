"""The demo shop as the storefront shows it: the catalog from ``catalog.demo`` plus a bucket
policy whose variants the shop page's shopper switcher can show.

Seeding lives here, at the top of the dependency chain, because the policy belongs to
``personalization`` and ``catalog`` imports nothing above itself.
"""

from django.db import transaction

from catalog.demo import DEMO_SLUG, SeedReport, demo_seed
from catalog.models import Merchant
from personalization.models import BucketPolicy
from personalization.services import bucket_policy_update

# The variants the demo renders on demand: one per demo shopper, each climate on its own, and
# two times of day, so every choice in the shop page's switcher shows a different video.
DEMO_POLICY = {
    "dimensions": ["climate", "aesthetic", "time"],
    "approved_buckets": [
        "climate=rainy,aesthetic=minimalist",
        "climate=sunny,aesthetic=playful",
        "climate=snowy,aesthetic=cozy",
        "climate=arid,aesthetic=outdoorsy",
        "climate=rainy",
        "climate=sunny",
        "climate=snowy",
        "climate=arid",
        "climate=overcast",
        "climate=humid-tropical",
        "climate=rainy,aesthetic=minimalist,time=night",
        "climate=sunny,aesthetic=playful,time=golden-hour",
    ],
    # The demo page sets the shopper's context from its switcher.
    "allow_public_hints": True,
}


def demo_shop_seed(*, staff_password: str | None = None) -> tuple[SeedReport, bool]:
    """``demo_seed`` and the demo bucket policy; returns the report and whether the policy was
    created. Idempotent: an existing policy is left as the merchant set it."""
    with transaction.atomic():
        report = demo_seed(staff_password=staff_password)
        merchant = Merchant.objects.get(slug=DEMO_SLUG)
        if BucketPolicy.objects.filter(merchant=merchant).exists():
            return report, False
        bucket_policy_update(merchant=merchant, **DEMO_POLICY)
    return report, True
