"""Bulk generation over a real Celery worker: the job is submitted and rendered by the worker,
progress goes from 0 to 100 %, its figures match the stored segments, and a failed item
shows its reason and succeeds on retry."""

import shutil
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from catalog.models import Product, ProductImage
from personalization.context import ShopperContext
from rendering.bulk import bulk_job_create, bulk_job_retry
from rendering.models import BulkJob, Segment, Video
from rendering.selectors import BulkProgress, bulk_progress
from tests.support.factories import make_merchant, make_product
from videokit.media import probe

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker")]


def follow(job: BulkJob, timeout: float = 180) -> list[BulkProgress]:
    """Every distinct progress reading until the job settles."""
    seen: list[BulkProgress] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        progress = bulk_progress(job=job)
        if not seen or progress.to_dict() != seen[-1].to_dict():
            seen.append(progress)
        if progress.state == "finished":
            return seen
        time.sleep(0.1)
    pytest.fail(f"Bulk job still running after {timeout} s: {seen[-1].to_dict()}")


def cutout_made_by_worker(product: Product) -> ProductImage:
    """The product's image once the worker's upload task has made its cutout."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        image = product.images.get()
        if image.cutout_kind:
            return image
        time.sleep(0.1)
    pytest.fail("The worker made no cutout within 60 s.")


def test_bulk_job_runs_on_the_worker_from_0_to_100_percent_and_retries_a_failure() -> None:
    merchant = make_merchant(slug="shop")
    good = make_product(merchant, sku="GOOD", title="Trail Boot")
    broken = make_product(merchant, sku="BROKEN", title="Camp Mug", color="#2E86AB")
    # The broken product's cutout is lost from storage (a disk or bucket mishap): its renders
    # fail until the file is back.
    image = cutout_made_by_worker(broken)
    cutout_path = Path(default_storage.path(image.cutout.name))
    hidden = cutout_path.with_suffix(".away")
    shutil.move(cutout_path, hidden)

    job = bulk_job_create(
        merchant=merchant,
        products=[good, broken],
        contexts=[ShopperContext.parse("climate=rainy"), ShopperContext.parse("climate=snowy")],
        aspects=["16:9"],
        backend="local",
    )
    readings = follow(job)

    assert readings[0].percent == 0 and readings[0].done == 0
    percents = [r.percent for r in readings]
    assert percents == sorted(percents), "progress never goes backwards"
    last = readings[-1]
    assert (last.percent, last.total, last.done, last.failed, last.remaining) == (100, 4, 2, 2, 0)
    assert {(f.sku, f.bucket) for f in last.failures} == {
        ("BROKEN", "climate=rainy"),
        ("BROKEN", "climate=snowy"),
    }
    assert all("FileNotFoundError" in f.reason or "No such file" in f.reason for f in last.failures)
    # The figures are the stored segments': each product's hero, offer and two scenes, and
    # the shared outro; the good product's four and the outro are ready.
    stored = Segment.objects.filter(merchant=merchant)
    assert last.segments_total == stored.count() == 9
    assert last.segments_ready == stored.filter(status=Segment.Status.READY).count() == 5
    for video in Video.objects.filter(product=good):
        assert probe(Path(default_storage.path(video.file.name))).width == 320

    shutil.move(hidden, cutout_path)
    assert bulk_job_retry(job=job) == 2
    retried = follow(job)[-1]
    assert (retried.done, retried.failed, retried.percent) == (4, 0, 100)
    assert stored.filter(status=Segment.Status.READY).count() == 9
    assert set(Video.objects.values_list("status", flat=True)) == {Video.Status.READY}


def test_generate_videos_wait_draws_a_progress_bar_to_the_end() -> None:
    merchant = make_merchant(slug="shop")
    make_product(merchant, sku="A")
    out, err = StringIO(), StringIO()
    call_command(
        "generate_videos", "--merchant", "shop", "--all", "--contexts", "climate=rainy",
        "--wait", "--timeout", "180", stdout=out, stderr=err,
    )  # fmt: skip
    job = BulkJob.objects.get()
    assert f"Bulk job #{job.pk}" in err.getvalue()
    assert "100%" in err.getvalue() and "1/1" in err.getvalue()
    assert f"Bulk job #{job.pk}: 1 videos (1 ready, 0 failed, 0 pending)" in out.getvalue()
