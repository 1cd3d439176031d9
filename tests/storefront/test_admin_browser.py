"""The merchant workspace in headless Chromium: the bulk generation progress bar moves on its
own while a real worker renders; the review buttons on a product page work in a browser."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from catalog.services import membership_grant
from personalization.context import ShopperContext
from rendering.bulk import bulk_job_create
from rendering.models import BulkJob, Video
from rendering.tasks import submit_bulk_job
from tests.support.factories import make_merchant, make_product, make_ready_video


def signed_in(user: AbstractUser) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def waiting_job(celery_worker: object) -> tuple[BulkJob, str]:
    """A confirmed job not yet handed to the worker, and a signed-in merchant's session."""
    merchant = make_merchant(slug="alpha", name="Alpha Outfitters")
    products = [
        make_product(merchant, sku="A-1", title="Alpha Rain Jacket"),
        make_product(merchant, sku="A-2", title="Alpha Fleece", color="#2E86AB"),
    ]
    job = bulk_job_create(
        merchant=merchant,
        products=products,
        contexts=[ShopperContext.parse("climate=rainy"), ShopperContext.parse("climate=sunny")],
        aspects=["16:9"],
        backend="local",
        submit=False,
    )
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=merchant, user=user)
    return job, signed_in(user)


@pytest.mark.worker
def test_the_progress_bar_moves_by_itself_to_100_percent(
    waiting_job: tuple[BulkJob, str], page: Page, live_server: LiveServer
) -> None:
    job, session = waiting_job
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(live_server.url + reverse("admin:rendering_bulkjob_progress", args=[job.pk]))
    assert page.locator("#job-bar").get_attribute("value") == "0"
    assert page.locator("#job-remaining").inner_text() == "4"

    submit_bulk_job.delay(job.pk)  # the worker plans and renders; nobody reloads the page

    page.wait_for_function(
        "document.getElementById('job-state').textContent === 'finished'", timeout=120_000
    )
    assert page.locator("#job-bar").get_attribute("value") == "100"
    assert page.locator("#job-percent").inner_text() == "100 %"
    assert page.locator("#job-done").inner_text() == "4"
    assert page.locator("#job-failed").inner_text() == "0"
    assert page.locator("#job-failures").count() == 0


@pytest.fixture
def variant_to_review(transactional_db: None, small_videos: None) -> tuple[Video, str]:
    merchant = make_merchant(slug="alpha", name="Alpha Outfitters")
    video = make_ready_video(make_product(merchant, sku="A-1"), "climate=rainy")
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=merchant, user=user)
    return video, signed_in(user)


def test_approve_and_reject_on_the_product_page_in_a_browser(
    variant_to_review: tuple[Video, str], page: Page, live_server: LiveServer
) -> None:
    video, session = variant_to_review
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(live_server.url + reverse("admin:catalog_product_change", args=[video.product_id]))
    card = page.locator(f"#variant-{video.pk}")
    assert card.get_attribute("data-approval") == "pending"
    # The card's player plays the variant.
    page.evaluate(f"document.querySelector('#variant-{video.pk} video').play()")
    page.wait_for_function(
        f"document.querySelector('#variant-{video.pk} video').currentTime > 0.2", timeout=20_000
    )

    card.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.locator(".messagelist").inner_text().startswith("Approved climate=rainy")
    assert page.locator(f"#variant-{video.pk}").get_attribute("data-approval") == "approved"

    card = page.locator(f"#variant-{video.pk}")
    card.get_by_role("textbox").fill("The jacket is too dark")
    card.get_by_role("button", name="Reject and re-render").click()
    page.wait_for_load_state()
    card = page.locator(f"#variant-{video.pk}")
    assert card.get_attribute("data-status") == "pending"
    assert "Last rejection: “The jacket is too dark”" in card.inner_text()
