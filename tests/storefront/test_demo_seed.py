import json
from io import StringIO

import pytest
from django.core.management import call_command

from catalog.models import Merchant
from personalization.models import BucketPolicy
from personalization.policy import policy_for
from personalization.services import bucket_policy_update

pytestmark = pytest.mark.django_db


def seed() -> dict[str, object]:
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_demo_shop_gets_a_policy_its_switcher_can_show_and_keeps_the_merchants_edits() -> None:
    assert seed()["policy_created"] is True
    demo = Merchant.objects.get(slug="demo")
    policy = policy_for(merchant=demo)
    assert policy.allow_public_hints
    # Every consenting demo shopper's own variant is approved.
    assert {"climate=rainy,aesthetic=minimalist", "climate=snowy,aesthetic=cozy",
            "climate=arid,aesthetic=outdoorsy"} <= policy.approved  # fmt: skip
    bucket_policy_update(merchant=demo, holdout_percent=10, approved_buckets=["climate=rainy"])
    assert seed()["policy_created"] is False
    kept = BucketPolicy.objects.get(merchant=demo)
    assert (kept.holdout_percent, kept.approved_buckets) == (10, ["climate=rainy"])
