"""A thousand shoppers asking at once for a variant nobody has made: one render job.

Real concurrency against the live server (a threaded WSGI server on the test database), and
the broker itself is read back to count what was queued: the filesystem broker in the first
pass of scripts/test, Redis in the second.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from pytest_django.live_server_helper import LiveServer

from personalization.services import bucket_policy_update
from rendering.models import Video
from scenecart.celery import app
from tests.support.factories import make_merchant, make_product, make_ready_video
from tests.support.workers import purge_broker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("small_videos")]

REQUESTS = 1000
CONCURRENCY = 32


def queued_tasks() -> Counter[str]:
    """Take every message off the default queue, counting them by task name."""
    found: Counter[str] = Counter()
    with app.connection_for_read() as conn, conn.SimpleQueue("default", no_ack=True) as queue:
        while True:
            try:
                message = queue.get(timeout=1)
            except queue.Empty:
                return found
            found[message.headers["task"]] += 1


def test_a_thousand_concurrent_misses_queue_one_render(live_server: LiveServer) -> None:
    merchant = make_merchant(slug="shop")
    bucket_policy_update(
        merchant=merchant,
        dimensions=["climate", "aesthetic"],
        approved_buckets=["climate=rainy"],
        allow_public_hints=True,
    )
    product = make_product(merchant, sku="JACKET")
    make_ready_video(product)
    purge_broker()  # only what the storefront queues from here on counts

    url = f"{live_server.url}/api/v1/videos/shop/JACKET?aspect=16:9&climate=rainy"
    local = threading.local()

    def ask(_: int) -> tuple[int, str, str]:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.get(url, timeout=60)
        body = response.json()
        return response.status_code, body["status"], body["requested"]

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = Counter(pool.map(ask, range(REQUESTS)))

    # Every shopper got the generic video at once while the rainy one is on its way...
    assert answers == Counter({(200, "fallback", "rendering"): REQUESTS})
    # ...and exactly one job was queued for it, for one new variant.
    assert queued_tasks() == Counter({"rendering.plan_video": 1})
    assert Video.objects.filter(product=product, bucket="climate=rainy").count() == 1
    assert Video.objects.count() == 2


def test_an_unapproved_variant_queues_nothing_under_load(live_server: LiveServer) -> None:
    merchant = make_merchant(slug="shop")
    bucket_policy_update(merchant=merchant, allow_public_hints=True)
    product = make_product(merchant, sku="JACKET")
    make_ready_video(product)
    purge_broker()

    url = f"{live_server.url}/api/v1/videos/shop/JACKET?climate=snowy&aesthetic=cozy"
    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(
            pool.map(lambda _: requests.get(url, timeout=60).json()["requested"], range(100))
        )
    assert statuses == Counter({"unapproved": 100})
    assert queued_tasks() == Counter()
    assert list(Video.objects.values_list("bucket", flat=True)) == ["generic"]
