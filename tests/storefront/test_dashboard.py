"""The merchant dashboard on the admin's home page: the figures of the user's own shops."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product
from catalog.services import membership_grant
from personalization.context import ShopperContext
from rendering.bulk import bulk_job_create
from rendering.models import Segment, Video
from storefront.services import playback_events_record
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def figure(page: str, slug: str, name: str) -> str:
    card = re.search(rf'<section class="card" id="dashboard-{slug}">(.*?)</section>', page, re.S)
    assert card, f"no dashboard card for {slug}"
    found = re.search(rf'data-figure="{name}">(.*?)</(?:dd|span)>', card.group(1), re.S)
    assert found, f"no {name} figure on {slug}'s card"
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()


def test_the_home_page_shows_each_of_the_users_shops_at_a_glance(client: Client) -> None:
    alpha = make_merchant(slug="alpha", name="Alpha Outfitters")
    bravo = make_merchant(slug="bravo", name="Bravo Provisions")
    Merchant.objects.filter(pk=alpha.pk).update(monthly_budget=Decimal("20"))
    jacket = make_product(alpha, sku="A-1")
    make_product(alpha, sku="A-2", color="#2E86AB")
    Product.objects.filter(sku="A-2").update(status=Product.Status.DRAFT)
    ready = make_ready_video(jacket)
    make_ready_video(jacket, "climate=rainy")
    Video.objects.filter(product=jacket, bucket="climate=rainy").update(
        status=Video.Status.FAILED, error="boom"
    )
    # Paid work this month: two segments priced by a provider.
    Segment.objects.filter(pk__in=Segment.objects.values("pk")[:2]).update(cost=Decimal("1.25"))
    playback_events_record(
        merchant=alpha,
        events=[
            {"type": "impression", "video": ready.pk},
            {"type": "impression", "video": ready.pk},
            {"type": "play", "video": ready.pk},
            {"type": "click", "video": ready.pk},
        ],
    )
    job = bulk_job_create(
        merchant=alpha,
        products=[jacket],
        contexts=[ShopperContext()],
        aspects=["16:9"],
        backend="local",
        submit=False,
    )
    make_product(bravo, sku="B-1", title="Bravo Camp Stove")
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=alpha, user=user)
    client.force_login(user)

    page = client.get(reverse("admin:index")).content.decode()

    assert figure(page, "alpha", "products") == "2 (1 active)"
    assert (figure(page, "alpha", "ready"), figure(page, "alpha", "failed")) == ("1", "1")
    assert figure(page, "alpha", "review") == "1 awaiting your review"
    assert figure(page, "alpha", "spend").startswith("$2.50 of $20.00")
    assert figure(page, "alpha", "playback").startswith("2 impressions, 1 plays, 1 clicks")
    storage = figure(page, "alpha", "storage")
    assert storage.endswith("KB") or storage.endswith("MB"), storage
    assert f"Generation #{job.pk}" in page
    # Another shop's card is never shown to this shop's staff.
    assert "dashboard-bravo" not in page and "Bravo Provisions" not in page
