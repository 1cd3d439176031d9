"""The bulk generation progress page in headless Chromium: the bar moves on its own while a
real worker renders, and settles at 100 % with every video ready."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from catalog.services import membership_grant
from personalization.context import ShopperContext
from rendering.bulk import bulk_job_create
from rendering.models import BulkJob
from rendering.tasks import submit_bulk_job
from tests.factories import make_merchant, make_product

pytestmark = [pytest.mark.worker]


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
    client = Client()
    client.force_login(user)
    return job, client.cookies["sessionid"].value


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
