"""The merchant's side of bulk generation and review in the admin: choose, see the estimate,
confirm, follow the progress page; approve and reject variants on the product page, and what
the storefront then serves."""

import re
from pathlib import Path

import av
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product
from catalog.services import membership_grant
from personalization.services import bucket_policy_update
from rendering.models import BulkItem, BulkJob, Segment, Video
from rendering.services import segment_render, video_assemble
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


@pytest.fixture
def shop() -> tuple[Merchant, list[Product], AbstractUser]:
    merchant = make_merchant(slug="alpha", name="Alpha Outfitters")
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=merchant, user=user)
    products = [
        make_product(merchant, sku="A-1", title="Alpha Rain Jacket"),
        make_product(merchant, sku="A-2", title="Alpha Fleece", color="#2E86AB"),
    ]
    return merchant, products, user


def text_of(response: object) -> str:
    return re.sub(r"\s+", " ", response.content.decode())  # type: ignore[attr-defined]


def test_the_product_list_action_leads_to_the_generation_page(
    client: Client, shop: tuple[Merchant, list[Product], AbstractUser]
) -> None:
    _merchant, products, user = shop
    client.force_login(user)
    response = client.post(
        reverse("admin:catalog_product_changelist"),
        {"action": "generate_videos", "_selected_action": [products[0].pk]},
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "1 selected products" in text_of(page)
    whole = client.get(reverse("admin:catalog_product_changelist"))
    assert "Generate videos for the whole catalog" in text_of(whole)


def test_estimate_then_confirm_starts_a_job_and_shows_its_progress(
    client: Client, shop: tuple[Merchant, list[Product], AbstractUser]
) -> None:
    merchant, _products, user = shop
    bucket_policy_update(merchant=merchant, approved_buckets=["climate=rainy"])
    client.force_login(user)
    url = reverse("admin:rendering_bulkjob_new")
    form = {
        "merchant": merchant.pk,
        "products": "",
        "contexts": ["generic", "climate=rainy"],
        "more_contexts": "climate=snowy,aesthetic=cozy",
        "aspects": ["16:9"],
        "backend": "local",
    }
    page = client.get(url)
    # The approved variants are offered as choices.
    assert 'value="climate=rainy"' in text_of(page)

    estimate = client.post(url, {**form, "estimate": "Estimate"})
    body = text_of(estimate)
    # 2 products × 3 contexts: per product a hero, an offer and 3 scenes, and 1 shared outro.
    assert re.search(r'id="segments-to-render">11<', body), body[-3000:]
    assert re.search(r'id="segments-cached">0<', body)
    assert 'id="cost">$0.00<' in body
    assert "Start generating 6 videos" in body
    assert BulkJob.objects.count() == 0 and Video.objects.count() == 0

    confirmed = client.post(url, {**form, "confirm": "Start"})
    job = BulkJob.objects.get()
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("admin:rendering_bulkjob_progress", args=[job.pk])
    assert job.items.count() == 6 and job.estimate["segments_to_render"] == 11
    assert job.created_by == user

    progress = client.get(confirmed["Location"])
    body = text_of(progress)
    assert '<progress id="job-bar" max="100" value="0"' in body
    assert "0 %" in body and "to go of 6 videos" in body
    data = client.get(reverse("admin:rendering_bulkjob_progress_json", args=[job.pk])).json()
    assert (data["total"], data["done"], data["remaining"], data["state"]) == (6, 0, 6, "planning")


def test_bad_context_on_the_generation_page_names_the_value(
    client: Client, shop: tuple[Merchant, list[Product], AbstractUser]
) -> None:
    merchant, _, user = shop
    client.force_login(user)
    response = client.post(
        reverse("admin:rendering_bulkjob_new"),
        {
            "merchant": merchant.pk,
            "contexts": ["generic"],
            "more_contexts": "climate=foggy",
            "aspects": ["16:9"],
            "backend": "local",
            "estimate": "Estimate",
        },
    )
    assert response.status_code == 200
    errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', text_of(response))
    assert errors and "climate=&#x27;foggy&#x27; is not a known climate" in errors.group(1)
    assert BulkJob.objects.count() == 0


def test_failed_items_are_listed_with_reasons_and_can_be_retried_from_the_page(
    client: Client, shop: tuple[Merchant, list[Product], AbstractUser]
) -> None:
    merchant, products, user = shop
    job = BulkJob.objects.create(
        merchant=merchant, backend="local", contexts=["generic"], aspects=["16:9"]
    )
    BulkItem.objects.create(
        job=job,
        product=products[0],
        bucket="generic",
        aspect="16:9",
        state=BulkItem.State.ERROR,
        error="ValueError: the product image is unreadable",
    )
    client.force_login(user)
    page = text_of(client.get(reverse("admin:rendering_bulkjob_progress", args=[job.pk])))
    assert "Failed (1)" in page and "the product image is unreadable" in page
    assert "Retry the failed videos" in page

    client.post(reverse("admin:rendering_bulkjob_retry", args=[job.pk]))
    item = job.items.get()
    assert item.state == BulkItem.State.QUEUED and item.error == ""


def lookup(client: Client, merchant: Merchant, sku: str, **hints: str) -> dict[str, object]:
    return client.get(f"/api/v1/videos/{merchant.slug}/{sku}", hints).json()


def middle_frame(video: Video) -> np.ndarray:
    with av.open(str(Path(default_storage.path(video.file.name)))) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # The scene is the second of four one-second segments.
    return frames[len(frames) * 3 // 8].astype(np.int16)


def test_review_on_the_product_page_decides_what_the_storefront_serves(
    client: Client, shop: tuple[Merchant, list[Product], AbstractUser]
) -> None:
    merchant, products, user = shop
    product = products[0]
    bucket_policy_update(
        merchant=merchant,
        approved_buckets=["climate=rainy"],
        allow_public_hints=True,
        require_approval=True,
    )
    video = make_ready_video(product, "climate=rainy")
    shopper = Client()

    # Ready but not reviewed: nothing is served where the merchant requires approval.
    answer = lookup(shopper, merchant, product.sku, climate="rainy")
    assert answer["src"] is None and answer["requested"] == "in_review"

    client.force_login(user)
    page = text_of(client.get(reverse("admin:catalog_product_change", args=[product.pk])))
    assert f'id="variant-{video.pk}"' in page and "Awaiting review" in page
    assert video.file.url in page

    review = reverse("admin:rendering_video_review", args=[video.pk])
    client.post(review, {"decision": "approve"})
    video.refresh_from_db()
    assert video.approval == Video.Approval.APPROVED and video.reviewed_by == user
    answer = lookup(shopper, merchant, product.sku, climate="rainy")
    assert answer["status"] == "ready" and answer["video"] == video.pk
    assert str(answer["src"]).endswith(video.file.url)

    # Rejecting re-renders the scene with a new seed; the shared shots are kept.
    old_frame = middle_frame(video)
    old_keys = {p.segment.kind: p.segment.key for p in video.parts.select_related("segment")}
    client.post(review, {"decision": "reject", "note": "Too dark, the jacket disappears"})
    video.refresh_from_db()
    assert video.seed == 1 and video.review_note == "Too dark, the jacket disappears"
    assert video.status == Video.Status.PENDING
    new_keys = {p.segment.kind: p.segment.key for p in video.parts.select_related("segment")}
    assert {k for k in new_keys if new_keys[k] != old_keys[k]} == {"scene"}
    scene = Segment.objects.get(key=new_keys["scene"])
    assert scene.seed == 1
    # Rejected pixels are never served.
    answer = lookup(shopper, merchant, product.sku, climate="rainy")
    assert answer["src"] is None

    segment_render(segment=scene)
    video = video_assemble(video=video)
    assert video.status == Video.Status.READY and video.approval == Video.Approval.PENDING
    difference = np.abs(middle_frame(video) - old_frame).mean()
    assert difference > 2.0, f"the re-rendered scene looks the same (mean diff {difference:.2f})"
    page = text_of(client.get(reverse("admin:catalog_product_change", args=[product.pk])))
    assert "Last rejection: “Too dark, the jacket disappears”" in page
    assert lookup(shopper, merchant, product.sku, climate="rainy")["requested"] == "in_review"

    # Without the approval requirement every ready, unrejected variant is served.
    bucket_policy_update(merchant=merchant, require_approval=False)
    answer = lookup(shopper, merchant, product.sku, climate="rainy")
    assert answer["status"] == "ready" and answer["video"] == video.pk


def test_a_video_still_rendering_cannot_be_approved(
    client: Client, shop: tuple[Merchant, list[Product], AbstractUser]
) -> None:
    _merchant, products, user = shop
    video = make_ready_video(products[0])
    Video.objects.filter(pk=video.pk).update(status=Video.Status.PENDING)
    client.force_login(user)
    response = client.post(
        reverse("admin:rendering_video_review", args=[video.pk]),
        {"decision": "approve"},
        follow=True,
    )
    assert "Only a ready video can be approved" in text_of(response)
    video.refresh_from_db()
    assert video.approval == Video.Approval.PENDING
