"""Bulk generation in-process: the estimate, the budget cap, retries of held items, and the
command's estimate and progress output. The worker end to end is in test_bulk_worker.py."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django import Settings

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from rendering.bulk import (
    bulk_job_create,
    bulk_job_retry,
    bulk_job_submit,
    generation_estimate,
)
from rendering.models import BulkItem, Segment, Video
from rendering.selectors import bulk_progress, merchant_spend_this_month
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]

RAINY_SUNNY = [ShopperContext.parse("climate=rainy"), ShopperContext.parse("climate=sunny")]


@pytest.fixture
def priced_studio(settings: Settings) -> str:
    """A second backend alias with a price: the built-in renderer, billed at $0.10 a second
    through the price table, as a paid provider would be."""
    settings.SCENECART_BACKENDS = {
        **settings.SCENECART_BACKENDS,
        "studio": {
            "BACKEND": "providers.local.LocalBackend",
            "OPTIONS": {"preset": "ultrafast", "crf": 30},
        },
    }
    settings.SCENECART_PRICES = {"studio": "0.10"}
    return "studio"


def catalog(merchant: Merchant, count: int) -> list[Product]:
    colors = ["#E4572E", "#2E86AB", "#3B7A57", "#7B2CBF"]
    return [
        make_product(merchant, sku=f"P{i}", title=f"Product {i}", color=colors[i % len(colors)])
        for i in range(count)
    ]


def test_estimate_counts_segments_to_render_against_the_cache() -> None:
    merchant = make_merchant(slug="m1")
    products = catalog(merchant, 2)

    before = generation_estimate(
        merchant=merchant,
        products=products,
        contexts=RAINY_SUNNY,
        aspects=["16:9"],
        backend="local",
    )
    # 2 products × 2 contexts: 2 heroes, 4 scenes, 2 offers and 1 shared outro.
    assert (before.videos, before.segments_needed, before.segments_unique) == (4, 16, 9)
    assert (before.segments_to_render, before.segments_cached) == (9, 0)
    assert before.cost == Decimal("0")
    assert before.speed_measured is False and before.wall_seconds > 0
    assert Segment.objects.count() == 0, "an estimate queues nothing"

    make_ready_video(products[0], "climate=rainy")
    after = generation_estimate(
        merchant=merchant,
        products=products,
        contexts=RAINY_SUNNY,
        aspects=["16:9"],
        backend="local",
    )
    # The first product's hero, rainy scene, offer and the shared outro are cached now.
    assert (after.segments_to_render, after.segments_cached, after.videos_ready) == (5, 4, 1)
    assert after.speed_measured is True
    measured = sum(s.render_seconds for s in Segment.objects.all()) / sum(
        s.duration for s in Segment.objects.all()
    )
    assert after.work_seconds == pytest.approx(5 * 1.0 * measured, rel=1e-6)


def test_estimate_prices_paid_work_and_compares_it_with_the_budget(priced_studio: str) -> None:
    merchant = make_merchant(slug="m1")
    Merchant.objects.filter(pk=merchant.pk).update(monthly_budget=Decimal("0.50"))
    merchant.refresh_from_db()
    estimate = generation_estimate(
        merchant=merchant,
        products=catalog(merchant, 2),
        contexts=RAINY_SUNNY,
        aspects=["16:9"],
        backend=priced_studio,
    )
    # 9 one-second segments at $0.10.
    assert estimate.cost == Decimal("0.9000")
    assert estimate.over_budget is True
    assert estimate.budget_left == Decimal("0.50")


def test_budget_cap_holds_new_paid_work_and_retry_submits_it_after_a_raise(
    priced_studio: str,
) -> None:
    merchant = make_merchant(slug="m1")
    Merchant.objects.filter(pk=merchant.pk).update(monthly_budget=Decimal("0.50"))
    merchant.refresh_from_db()
    products = catalog(merchant, 3)
    job = bulk_job_create(
        merchant=merchant,
        products=products,
        contexts=[ShopperContext()],
        aspects=["16:9"],
        backend=priced_studio,
        submit=False,
    )

    report = bulk_job_submit(job=job)

    # The first video needs hero, scene, offer and outro ($0.40); the second would need $0.30
    # more, over the $0.50 cap: it and everything after it are held.
    assert (report.submitted, report.held) == (1, 2)
    assert merchant_spend_this_month(merchant=merchant) == Decimal("0.4000")
    held = list(job.items.filter(state=BulkItem.State.HELD).order_by("pk"))
    assert [i.product.sku for i in held] == ["P1", "P2"]
    assert "Budget reached: $0.40 of $0.50 spent this month" in held[0].error
    job.refresh_from_db()
    assert "stopped at $0.40 of the $0.50 monthly budget" in job.stopped_reason
    # Nothing was planned for the held products: no segment rows, no videos.
    assert (
        not Segment.objects.filter(inputs__product_image__isnull=False)
        .exclude(parts__video__product=products[0])
        .exclude(kind="outro")
        .exists()
    )
    assert Video.objects.filter(product__in=products[1:]).count() == 0
    progress = bulk_progress(job=job)
    assert (progress.failed, progress.remaining) == (2, 1)
    assert {f.sku for f in progress.failures} == {"P1", "P2"}

    Merchant.objects.filter(pk=merchant.pk).update(monthly_budget=Decimal("10"))
    assert bulk_job_retry(job=job, submit=False) == 2
    again = bulk_job_submit(job=job)
    assert (again.submitted, again.held) == (2, 0)
    assert merchant_spend_this_month(merchant=merchant) == Decimal("1.0000")
    job.refresh_from_db()
    assert job.stopped_reason == ""
    assert Video.objects.filter(product__in=products).count() == 3


def test_free_work_goes_on_when_the_budget_is_spent(priced_studio: str) -> None:
    merchant = make_merchant(slug="m1")
    Merchant.objects.filter(pk=merchant.pk).update(monthly_budget=Decimal("0"))
    merchant.refresh_from_db()
    job = bulk_job_create(
        merchant=merchant,
        products=catalog(merchant, 2),
        contexts=[ShopperContext()],
        aspects=["16:9"],
        backend="local",
        submit=False,
    )
    report = bulk_job_submit(job=job)
    assert (report.submitted, report.held) == (2, 0)


def test_submitting_twice_submits_each_item_once() -> None:
    merchant = make_merchant(slug="m1")
    job = bulk_job_create(
        merchant=merchant,
        products=catalog(merchant, 2),
        contexts=RAINY_SUNNY,
        aspects=["16:9"],
        backend="local",
        submit=False,
    )
    first = bulk_job_submit(job=job)
    second = bulk_job_submit(job=job)  # a redelivered task
    assert (first.submitted, second.submitted) == (4, 0)
    assert Video.objects.count() == 4 and Segment.objects.count() == 9


def test_generate_videos_estimate_prints_the_figures_and_queues_nothing(
    priced_studio: str,
) -> None:
    merchant = make_merchant(slug="m1")
    catalog(merchant, 2)
    out = StringIO()
    call_command(
        "generate_videos", "--merchant", "m1", "--all", "--contexts", "climate=rainy",
        "--contexts", "climate=sunny", "--backend", "studio", "--estimate", "--json", stdout=out,
    )  # fmt: skip
    estimate = json.loads(out.getvalue())
    assert estimate["segments_to_render"] == 9 and estimate["cost"] == "0.9000"
    text = StringIO()
    call_command(
        "generate_videos", "--merchant", "m1", "--all", "--backend", "studio", "--estimate",
        stdout=text,
    )  # fmt: skip
    assert "Segments: 7 to render, 0 cached" in text.getvalue()
    assert "Cost: $0.70" in text.getvalue()
    assert Segment.objects.count() == 0 and Video.objects.count() == 0


def test_generate_videos_retry_of_an_unknown_job_is_a_clear_error() -> None:
    make_merchant(slug="m1")
    with pytest.raises(CommandError, match="'m1' has no bulk job #999"):
        call_command("generate_videos", "--merchant", "m1", "--retry", "999")
