"""Writes of the personalization app."""

from typing import Any

from django.db import transaction

from catalog.models import Merchant

from . import dispatch
from .models import BucketPolicy
from .policy import policy_forget


def bucket_policy_update(*, merchant: Merchant, **fields: Any) -> BucketPolicy:
    """Create or change a merchant's bucket policy; the storefront sees it on the next request."""
    policy = BucketPolicy.objects.filter(merchant=merchant).first() or BucketPolicy(
        merchant=merchant
    )
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean()
    with transaction.atomic():
        policy.save()
        transaction.on_commit(lambda: policy_forget(merchant_id=merchant.pk))
        # Requiring approval withdraws unreviewed videos: rendering moves their files out of
        # the public prefix.
        dispatch.sync_publication(merchant.pk)
    policy_forget(merchant_id=merchant.pk)
    return policy
