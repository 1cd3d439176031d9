"""Catalog freshness (issue 15): a change withdraws every video whose facts it made wrong at
once, re-renders only the segments whose inputs changed, and swaps the new video in.

In-process: the refresh a change queues is run here (``refresh``), segment by segment, as a
worker would; tests/rendering/test_freshness_worker.py runs the same paths through a real one.
"""

import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product
from catalog.services import brand_kit_update, membership_grant, product_image_add, product_update
from personalization.content_policy import content_policy_update
from personalization.services import bucket_policy_update
from rendering.freshness import RefreshReport, videos_refresh
from rendering.models import Segment, Video
from rendering.publication import products_delete
from rendering.services import recipe_key, segment_render, video_approve, video_assemble
from storefront.dashboard import merchant_dashboard
from tests.support.factories import make_merchant, make_product, make_ready_video, photo_bytes
from tests.support.migrations import remigrate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


@pytest.fixture
def shop() -> tuple[Merchant, Product]:
    """Sunglasses with the generic and the sunny video ready, hints allowed."""
    merchant = make_merchant(slug="shades")
    bucket_policy_update(
        merchant=merchant,
        dimensions=["climate"],
        approved_buckets=["climate=sunny"],
        allow_public_hints=True,
    )
    glasses = make_product(merchant, sku="SUN-01", title="Aviator Sunglasses", price="59.00")
    make_ready_video(glasses, "generic")
    make_ready_video(glasses, "climate=sunny")
    return merchant, glasses


def lookup(client: Client, sku: str = "SUN-01", **hints: str) -> dict[str, object]:
    response = client.get(reverse("storefront:video-lookup", args=["shades", sku]), hints)
    return {"http": response.status_code, **response.json()}


def refresh(merchant: Merchant, *, product_ids: list[int] | None = None) -> RefreshReport:
    """What the ``rendering.refresh_videos`` task a change queued does, then the renders and
    assemblies it queues, in this process."""
    ids = product_ids or list(merchant.products.values_list("pk", flat=True))
    report = videos_refresh(merchant_id=merchant.pk, product_ids=ids)
    for segment in Segment.objects.filter(pk__in=report.segments_queued):
        segment_render(segment=segment)
    for video in Video.objects.filter(product__merchant=merchant, status=Video.Status.PENDING):
        video_assemble(video=video)
    return report


def rendered_kinds(report: RefreshReport) -> list[str]:
    return sorted(
        Segment.objects.filter(pk__in=report.segments_queued).values_list("kind", flat=True)
    )


def test_a_price_change_withdraws_the_video_at_once_and_renders_only_the_offer(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    before = lookup(client, climate="sunny")
    assert (before["status"], before["variant"]) == ("ready", "climate=sunny")
    old = Video.objects.get(product=glasses, bucket="climate=sunny")

    product_update(product=glasses, price="49.00")
    # The very next answer: never the file that says $59.00, nothing else to stand in.
    during = lookup(client, climate="sunny")
    assert during["src"] is None
    assert (during["status"], during["requested"]) == ("pending", "refreshing")

    report = refresh(merchant)
    # Both videos share one offer shot (same locale, same aspect): one render, nothing else.
    assert rendered_kinds(report) == ["offer"]
    assert (report.refreshing, report.unchanged) == (2, 0)
    after = lookup(client, climate="sunny")
    new = Video.objects.get(pk=old.pk)
    assert after["status"] == "ready"
    assert str(after["src"]).endswith(new.file.url)
    assert new.file.name != old.file.name and new.facts["price"] == "49.00"
    offer = new.parts.get(segment__kind="offer").segment
    assert offer.plan["caption"] == "$49.00"
    # The old file is gone from storage, not left behind at a public address.
    assert not default_storage.exists(old.file.name)


def test_an_approved_variant_stays_approved_through_a_price_refresh(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    bucket_policy_update(merchant=merchant, require_approval=True)
    for video in Video.objects.filter(product=glasses):
        video_approve(video=video)

    product_update(product=glasses, price="45.00", compare_at_price="59.00")
    refresh(merchant)

    sunny = Video.objects.get(product=glasses, bucket="climate=sunny")
    assert sunny.approval == Video.Approval.APPROVED
    assert (sunny.facts["price"], sunny.facts["compare_at_price"]) == ("45.00", "59.00")
    assert lookup(client, climate="sunny")["status"] == "ready"


def test_the_policy_can_ask_for_a_review_of_price_refreshes(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    bucket_policy_update(merchant=merchant, require_approval=True, review_data_refresh=True)
    for video in Video.objects.filter(product=glasses):
        video_approve(video=video)

    product_update(product=glasses, price="45.00")
    refresh(merchant)

    assert set(Video.objects.filter(product=glasses).values_list("approval", flat=True)) == {
        Video.Approval.PENDING
    }
    answer = lookup(client, climate="sunny")
    assert (answer["src"], answer["requested"]) == (None, "in_review")


def test_a_new_title_is_a_new_creative_and_needs_a_review(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    bucket_policy_update(merchant=merchant, require_approval=True)
    for video in Video.objects.filter(product=glasses):
        video_approve(video=video)

    product_update(product=glasses, title="Pilot Sunglasses")
    report = refresh(merchant)

    assert "hero" in rendered_kinds(report)
    assert set(Video.objects.filter(product=glasses).values_list("approval", flat=True)) == {
        Video.Approval.PENDING
    }


def test_new_brand_colors_keep_the_old_video_playing_until_the_new_one_replaces_it(
    client: Client,
    shop: tuple[Merchant, Product],
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    merchant, glasses = shop
    old = Video.objects.get(product=glasses, bucket="climate=sunny")

    with django_capture_on_commit_callbacks() as callbacks:
        brand_kit_update(merchant=merchant, primary_color="#0B3D91")
    queued = [
        cb.keywords
        for cb in callbacks
        if getattr(cb, "args", ())[:1] == ("rendering.refresh_videos",)
    ]
    # Every video of the shop, with the reason the merchant will read.
    assert queued == [
        {
            "args": (merchant.pk,),
            "kwargs": {"product_ids": None, "reason": "brand colors changed"},
            "options": {},
        }
    ]
    videos_refresh(merchant_id=merchant.pk, product_ids=[glasses.pk], reason="brand colors changed")
    # Re-planned, not yet rendered: the colors are not a fact, so the old file still plays.
    pending = Video.objects.get(pk=old.pk)
    assert (pending.status, pending.refresh_reason) == ("pending", "brand colors changed")
    during = lookup(client, climate="sunny")
    assert (during["status"], during["video"]) == ("ready", old.pk)
    assert str(during["src"]).endswith(old.file.url)

    refresh(merchant)
    after = lookup(client, climate="sunny")
    assert after["status"] == "ready" and not str(after["src"]).endswith(old.file.url)
    assert Video.objects.get(pk=old.pk).refresh_reason == ""


def test_a_new_logo_withdraws_every_video_of_the_shop_at_once(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, _ = shop
    assert lookup(client)["status"] == "ready"  # the cache is warm

    brand_kit_update(merchant=merchant, logo=("logo.png", photo_bytes("#1D3557")))

    assert lookup(client)["src"] is None
    report = refresh(merchant)
    # The closing shot shows the logo; the product's own shots are reused.
    assert rendered_kinds(report) == ["outro"]
    assert lookup(client)["status"] == "ready"


def test_a_new_first_photo_withdraws_the_video_and_renders_the_product_shots(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    product_image_add(
        product=glasses, filename="front.png", content=photo_bytes("#2A9D8F"), position=0
    )
    assert lookup(client, climate="sunny")["src"] is None

    report = refresh(merchant)
    assert "outro" not in rendered_kinds(report)
    assert {"hero", "scene", "offer"} <= set(rendered_kinds(report))
    assert lookup(client, climate="sunny")["status"] == "ready"


def test_a_change_no_video_shows_re_renders_nothing(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    # The claim is the description's first sentence: it is on the offer shot.
    product_update(product=glasses, description="Polarized lenses. Made in Italy.")
    assert lookup(client, climate="sunny")["src"] is None
    assert rendered_kinds(refresh(merchant)) == ["offer"]
    served = lookup(client, climate="sunny")["src"]

    # A later sentence and the tags are on no shot: the videos stay as they are.
    product_update(product=glasses, description="Polarized lenses. Made in Portugal.")
    product_update(product=glasses, tags=["summer"])
    assert lookup(client, climate="sunny")["src"] == served
    report = refresh(merchant)
    assert report.segments_queued == set() and report.unchanged == 2
    assert lookup(client, climate="sunny")["src"] == served


def test_an_archived_product_answers_404_at_once_despite_the_cache(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    _, glasses = shop
    assert lookup(client)["http"] == 200

    product_update(product=glasses, status=Product.Status.ARCHIVED)

    gone = lookup(client)
    assert gone["http"] == 404 and "SUN-01" in str(gone["error"])


def test_a_deleted_product_answers_404_and_its_files_are_deleted(
    client: Client,
    shop: tuple[Merchant, Product],
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    _, glasses = shop
    files = [v.file.name for v in Video.objects.filter(product=glasses)]
    assert lookup(client)["http"] == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert products_delete(product_ids=[glasses.pk]) == 1

    assert lookup(client)["http"] == 404
    assert not any(default_storage.exists(name) for name in files)


def test_a_content_policy_term_withdraws_the_videos_that_show_it(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    content_policy_update(merchant=merchant, extra_terms="Aviator")
    refresh(merchant)

    video = Video.objects.get(product=glasses, bucket="climate=sunny")
    assert video.status == Video.Status.FAILED and "Aviator" in video.error
    assert not video.file
    assert lookup(client, climate="sunny")["src"] is None


def test_the_merchant_sees_what_is_refreshing_and_why(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant, glasses = shop
    owner = get_user_model().objects.create_user("owner", password="pw", is_staff=True)
    membership_grant(merchant=merchant, user=owner, role="owner")
    client.force_login(owner)

    product_update(product=glasses, price=Decimal("49.00"))
    page = client.get(reverse("admin:catalog_product_change", args=[glasses.pk])).content.decode()
    assert page.count('data-refreshing="price changed"') == 2
    assert "Refreshing: price changed. Shoppers are not shown this version" in page

    videos_refresh(merchant_id=merchant.pk, product_ids=[glasses.pk])
    assert merchant_dashboard(merchant=merchant).videos_refreshing == 2
    home = client.get(reverse("admin:index")).content.decode()
    assert '<span data-figure="refreshing">2</span> refreshing' in home

    refresh(merchant)
    page = client.get(reverse("admin:catalog_product_change", args=[glasses.pk])).content.decode()
    assert "data-refreshing" not in page
    assert merchant_dashboard(merchant=merchant).videos_refreshing == 0


def test_refresh_videos_re_plans_a_shop_after_an_upgrade(shop: tuple[Merchant, Product]) -> None:
    _, glasses = shop
    # A price written behind Scenecart's back (a database edited by hand, an old version).
    Product.objects.filter(pk=glasses.pk).update(price=Decimal("39.00"))
    out = io.StringIO()
    call_command("refresh_videos", "--merchant", "shades", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["videos"], summary["refreshing"], summary["segments_queued"]) == (2, 2, 1)
    assert Video.objects.get(product=glasses, bucket="generic").planned_facts["price"] == "39.00"

    with pytest.raises(CommandError, match="--sku: 'shades' has no product with SKU NOPE"):
        call_command("refresh_videos", "--merchant", "shades", "--sku", "NOPE")
    with pytest.raises(CommandError, match="--merchant: No merchant with slug 'nope'"):
        call_command("refresh_videos", "--merchant", "nope")


def test_the_upgrade_records_what_existing_videos_state(
    transactional_db: None, client: Client, shop: tuple[Merchant, Product]
) -> None:
    """rendering 0009 on a table with videos: each finished one records its product's facts
    (and is served as before); one never finished records none."""
    _, glasses = shop
    Video.objects.create(product=glasses, bucket="climate=rainy", aspect="16:9", backend="local")
    remigrate(
        "rendering", before="0008_signing_certificate_moves_to_provenance", after="0009_video_facts"
    )

    facts = dict(Video.objects.values_list("bucket", "facts"))
    assert facts["climate=sunny"]["price"] == "59.00"
    assert facts["climate=sunny"]["title"] == "Aviator Sunglasses"
    assert facts["climate=rainy"] == {}
    assert lookup(client, climate="sunny")["status"] == "ready"


def test_generate_videos_reports_the_videos_refreshing(shop: tuple[Merchant, Product]) -> None:
    _, glasses = shop
    product_update(product=glasses, price="52.00")
    out = io.StringIO()
    call_command(
        "generate_videos", "--merchant", "shades", "--sku", "SUN-01", "--contexts", "generic",
        "--contexts", "climate=sunny", "--aspects", "16:9", "--json", stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue())
    assert sorted(summary["refreshing"], key=lambda item: item["bucket"]) == [
        {"sku": "SUN-01", "bucket": bucket, "aspect": "16:9", "reason": "price changed",
         "withheld": True}
        for bucket in ("climate=sunny", "generic")
    ]  # fmt: skip


def test_a_refresh_keeps_stand_ins_and_never_retries_a_refused_render(
    shop: tuple[Merchant, Product],
) -> None:
    merchant, glasses = shop
    sunny = Video.objects.get(product=glasses, bucket="climate=sunny")
    generic = Video.objects.get(product=glasses, bucket="generic")
    # The sunny scene's provider failed for good and another backend's render stands in for
    # it (rendering.remote does this); the generic scene was refused by moderation.
    failed = sunny.parts.get(segment__kind="scene").segment
    stand_in = Segment.objects.create(
        key="f" * 64, merchant=merchant, kind="scene", backend="local", backend_version="1",
        plan=failed.plan, profile=failed.profile, status=Segment.Status.READY,
        file=failed.file.name, fallback_for=failed,
    )  # fmt: skip
    Segment.objects.filter(pk=failed.pk).update(status=Segment.Status.FAILED)
    sunny.parts.filter(segment=failed).update(segment=stand_in)
    keys = sunny.parts.order_by("position").values_list("segment__key", flat=True)
    Video.objects.filter(pk=sunny.pk).update(recipe_key=recipe_key(keys))
    refused = generic.parts.get(segment__kind="scene").segment
    Segment.objects.filter(pk=refused.pk).update(
        status=Segment.Status.FAILED, failure_kind="moderation"
    )
    Video.objects.filter(pk=generic.pk).update(status=Video.Status.FAILED, error="refused")

    # A change that touches neither: nothing is rendered, nobody is asked again.
    product_update(product=glasses, tags=["summer"])
    report = refresh(merchant)

    assert report.segments_queued == set() and report.unchanged == 2
    assert Segment.objects.get(pk=failed.pk).status == Segment.Status.FAILED
    assert Segment.objects.get(pk=refused.pk).status == Segment.Status.FAILED
    assert sunny.parts.get(segment__kind="scene").segment_id == stand_in.pk
    assert Video.objects.get(pk=generic.pk).status == Video.Status.FAILED
