"""Remote providers through the rendering core and real Celery workers, against the Kling
protocol server: non-blocking submit and poll, one job per segment even when a worker dies,
one stored file when a webhook and a poll race, fallback on failure, none on moderation."""

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from personalization.context import ShopperContext
from rendering import remote
from rendering.models import Segment, Video
from rendering.routing import render_routing_update
from rendering.services import video_request
from rendering.tasks import submit_segment
from tests.support.factories import make_merchant, make_product
from tests.support.protocols.fake_kling import ACCESS_KEY, SECRET_KEY, FakeKling
from tests.support.protocols.fixtures import serve
from tests.support.workers import WorkerStarter
from videokit.media import probe

KLING = "providers.kling.KlingBackend"


@pytest.fixture
def kling(provider_mp4: bytes) -> Iterator[FakeKling]:
    yield from serve(FakeKling(provider_mp4))


@pytest.fixture
def kling_config(kling: FakeKling, settings: Settings, worker_starter: WorkerStarter) -> FakeKling:
    """The ``kling`` alias on the protocol server, in this process and in the workers, with
    short polls; fallbacks to the built-in renderer; a price of $0.07 a second."""
    options = {
        "api_key": f"{ACCESS_KEY}:{SECRET_KEY}",
        "base_url": kling.url,
        "poll_interval": 0.2,
        "timeout": 2.0,
        "retries": 2,
        "backoff": 0.05,
    }
    backends = {"kling": {"BACKEND": KLING, "OPTIONS": options}}
    settings.SCENECART_BACKENDS = {**settings.SCENECART_BACKENDS, **backends}
    settings.SCENECART_FALLBACKS = {"kling": ["local"]}
    settings.SCENECART_PRICES = {"kling": "0.07"}
    worker_starter.extra_env.update(
        SCENECART_EXTRA_BACKENDS=json.dumps(backends),
        SCENECART_FALLBACKS=json.dumps({"kling": ["local"]}),
        SCENECART_PRICES=json.dumps({"kling": "0.07"}),
    )
    return kling


def scene_on_kling(sku: str = "JACKET") -> Video:
    """A rainy video whose scene goes to Kling; hero, offer and outro stay on the free
    renderer (the merchant's routing)."""
    merchant = make_merchant(slug="shop")
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "kling"})
    product = make_product(merchant, sku=sku)
    return video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    ).video


def wait_for(check, timeout: float = 120, what: str = "it"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"Timed out waiting for {what}.")


def settled(video: Video) -> Video:
    def done() -> Video | None:
        video.refresh_from_db()
        return video if video.status in (Video.Status.READY, Video.Status.FAILED) else None

    return wait_for(done, what=f"video {video.pk}")


@pytest.mark.worker
def test_the_scene_is_made_by_the_provider_and_the_rest_locally(
    kling_config: FakeKling, worker_starter: WorkerStarter
) -> None:
    worker_starter.start()
    video = settled(scene_on_kling())

    assert video.status == Video.Status.READY, video.error
    assert kling_config.created == 1
    created = next(r for r in kling_config.requests if r.method == "POST")
    assert created.path == "/v1/videos/image2video"
    scene = Segment.objects.get(kind="scene")
    assert scene.backend == "kling" and scene.provider_job_id in kling_config.jobs
    # The provider's 640×360 24 fps clip is stored in the house format, trimmed to the plan.
    stored = probe(Path(default_storage.path(scene.file.name)))
    assert (stored.width, stored.height, stored.fps) == (320, 180, 15)
    assert stored.duration == pytest.approx(1.0, abs=0.1)
    # Kling bills its 5 s clip at $0.07 a second.
    assert scene.cost == Decimal("0.3500")
    assert set(Segment.objects.exclude(kind="scene").values_list("backend", flat=True)) == {"local"}
    assert probe(Path(default_storage.path(video.file.name))).duration == pytest.approx(
        4.0, abs=0.2
    )


@pytest.mark.worker
def test_a_worker_killed_between_submit_and_poll_resumes_without_a_second_submit(
    kling_config: FakeKling, worker_starter: WorkerStarter
) -> None:
    kling_config.polls_to_finish = 10_000  # the provider keeps working while the worker dies
    first = worker_starter.start()
    video = scene_on_kling()
    scene = video.parts.get(segment__kind="scene").segment
    wait_for(
        lambda: Segment.objects.filter(pk=scene.pk).exclude(provider_job_id="").exists(),
        what="the provider job id on the segment",
    )
    wait_for(lambda: any(r.method == "GET" for r in kling_config.requests), what="a first poll")
    # The local shots are done (a local render killed midway is issue 8's sweep, not this).
    wait_for(
        lambda: (
            not video.parts.exclude(segment__kind="scene")
            .exclude(segment__status=Segment.Status.READY)
            .exists()
        ),
        what="the local segments",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    kling_config.polls_to_finish = 0  # done at the next poll
    # What the periodic sweep and a redelivered submission do after the crash:
    later = timezone.now() + remote.RESUME_AFTER + timezone.timedelta(seconds=1)
    assert remote.segments_resume(now=later) == 1
    submit_segment.delay(scene.pk)
    worker_starter.start()

    video = settled(video)
    assert video.status == Video.Status.READY, video.error
    assert kling_config.created == 1, "the provider job was created once"
    assert Segment.objects.get(pk=scene.pk).status == Segment.Status.READY


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("small_videos")
def test_a_webhook_and_polls_racing_store_one_file(
    kling: FakeKling, settings: Settings, media_root: Path
) -> None:
    settings.SCENECART_BACKENDS = {
        **settings.SCENECART_BACKENDS,
        "kling": {
            "BACKEND": KLING,
            "OPTIONS": {
                "api_key": f"{ACCESS_KEY}:{SECRET_KEY}",
                "base_url": kling.url,
                "retries": 1,
            },
        },
    }
    settings.SCENECART_PUBLIC_URL = "https://videos.example.com"
    kling.polls_to_finish = 1
    video = scene_on_kling()
    scene = video.parts.get(segment__kind="scene").segment
    remote.segment_submit(segment=scene)
    scene.refresh_from_db()
    callback = kling.requests[-1].body["callback_url"]
    assert callback.startswith("https://videos.example.com/webhooks/kling/")

    # The provider calls back (it schedules a poll: the body is not trusted) ...
    response = Client().post(
        callback.removeprefix("https://videos.example.com"),
        data=json.dumps(kling.callback_body(kling.jobs[scene.provider_job_id], "succeed")),
        content_type="application/json",
    )
    assert response.status_code == 200
    # ... while polls from three workers arrive at the same moment.
    barrier = threading.Barrier(3)

    def poll() -> None:
        from django.db import connection

        barrier.wait()
        remote.segment_poll(segment=Segment.objects.get(pk=scene.pk))
        connection.close()

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scene.refresh_from_db()
    assert scene.status == Segment.Status.READY
    stored = list((media_root / "segments").rglob("*.mp4"))
    assert [p.name for p in stored if scene.key in p.name] == [f"{scene.key}.mp4"]
    assert kling.created == 1


@pytest.mark.django_db
def test_a_forged_webhook_token_is_refused(client: Client) -> None:
    response = client.post(
        "/webhooks/kling/not-a-token", data="{}", content_type="application/json"
    )
    assert response.status_code == 404


@pytest.mark.worker
def test_a_final_provider_failure_falls_back_to_the_next_backend(
    kling_config: FakeKling, worker_starter: WorkerStarter
) -> None:
    kling_config.outcome = "failed"
    worker_starter.start()
    video = settled(scene_on_kling())

    assert video.status == Video.Status.READY, video.error
    failed = Segment.objects.get(backend="kling")
    assert failed.status == Segment.Status.FAILED and failed.failure_kind == "invalid"
    assert "internal rendering error" in failed.error and "on local instead" in failed.error
    stand_in = video.parts.get(position=1).segment
    assert stand_in.backend == "local" and stand_in.fallback_for_id == failed.pk
    assert stand_in.status == Segment.Status.READY


@pytest.mark.worker
def test_a_moderation_refusal_is_shown_and_not_sent_elsewhere(
    kling_config: FakeKling, worker_starter: WorkerStarter
) -> None:
    kling_config.outcome = "moderation"
    worker_starter.start()
    video = settled(scene_on_kling())

    assert video.status == Video.Status.FAILED
    assert "The provider refused the content (kling)" in video.error
    assert "risk control" in video.error
    refused = Segment.objects.get(backend="kling")
    assert refused.failure_kind == "moderation"
    assert not Segment.objects.filter(fallback_for=refused).exists()
    assert kling_config.created == 1
