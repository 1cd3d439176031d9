"""Every provider through the rendering core, against its protocol server over real HTTP: the
segment is submitted once (a redelivered submission resumes the recorded job), polls racing
each other store one file, and what is stored is the house format."""

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from pytest_django import Settings

from personalization.context import ShopperContext
from rendering import remote
from rendering.models import Segment, Video
from rendering.routing import merchant_backend, render_routing_update
from rendering.services import video_request
from tests.support.factories import make_merchant, make_product
from tests.support.protocols import (
    fake_fal,
    fake_kling,
    fake_luma,
    fake_minimax,
    fake_openai_videos,
    fake_replicate,
    fake_runway,
    fake_seedance,
    fake_veo,
)
from tests.support.protocols.fixtures import serve
from tests.support.protocols.server import FakeProvider
from videokit.media import probe

REMOTE = "providers"


@dataclass(frozen=True)
class Provider:
    backend: str
    fake: type[FakeProvider]
    key: str
    url: Callable[[Any], str] = lambda server: server.url
    s3: bool = False  # fetches the product image by URL: storage must be reachable


PROVIDERS = {
    "kling": Provider(f"{REMOTE}.kling.KlingBackend", fake_kling.FakeKling, f"{fake_kling.ACCESS_KEY}:{fake_kling.SECRET_KEY}"),
    "seedance": Provider(f"{REMOTE}.seedance.SeedanceBackend", fake_seedance.FakeSeedance, fake_seedance.API_KEY, lambda s: s.base_url),
    "minimax": Provider(f"{REMOTE}.minimax.MiniMaxBackend", fake_minimax.FakeMiniMax, fake_minimax.API_KEY),
    "runway": Provider(f"{REMOTE}.runway.RunwayBackend", fake_runway.FakeRunway, fake_runway.SECRET),
    "veo": Provider(f"{REMOTE}.veo.VeoBackend", fake_veo.FakeVeo, fake_veo.API_KEY),
    "replicate": Provider(f"{REMOTE}.replicate.ReplicateBackend", fake_replicate.FakeReplicate, fake_replicate.API_TOKEN),
    "fal": Provider(f"{REMOTE}.fal.FalBackend", fake_fal.FakeFal, fake_fal.FAL_KEY),
    "luma": Provider(f"{REMOTE}.luma.LumaBackend", fake_luma.FakeLuma, fake_luma.API_KEY, s3=True),
    "sora": Provider(f"{REMOTE}.openai_videos.OpenAIVideosBackend", fake_openai_videos.FakeOpenAIVideos, fake_openai_videos.API_KEY),
}  # fmt: skip


@pytest.fixture(params=sorted(PROVIDERS))
def provider(
    request: pytest.FixtureRequest, provider_mp4: bytes, settings: Settings
) -> Iterator[tuple[str, FakeProvider]]:
    alias = request.param
    spec = PROVIDERS[alias]
    if spec.s3:
        request.getfixturevalue("s3_storage")
    for server in serve(spec.fake(provider_mp4)):
        server.polls_to_finish = 1
        settings.SCENECART_BACKENDS = {
            **settings.SCENECART_BACKENDS,
            alias: {
                "BACKEND": spec.backend,
                "OPTIONS": {
                    "api_key": spec.key,
                    "base_url": spec.url(server),
                    "retries": 2,
                    "backoff": 0.01,
                },
            },
        }
        yield alias, server


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("small_videos")
def test_the_provider_makes_the_scene_once_and_racing_polls_store_it_once(
    provider: tuple[str, FakeProvider], tmp_path: Path, settings: Settings
) -> None:
    alias, server = provider
    settings.SCENECART_PUBLIC_URL = "https://videos.example.com"
    merchant = make_merchant(slug="shop")
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": alias})
    video = video_request(
        product=make_product(merchant), context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    ).video
    scene = video.parts.get(segment__kind="scene").segment
    assert scene.backend == alias

    remote.segment_submit(segment=scene)
    scene.refresh_from_db()
    assert scene.provider_job_id, scene.error
    remote.segment_submit(segment=scene)  # a redelivered task
    assert server.created == 1

    backend = merchant_backend(alias, merchant_id=merchant.pk)
    if backend.webhooks:
        # The provider was given our callback; a call to it is answered at once and only
        # makes a poll happen sooner (the body is not trusted, so any body will do).
        sent = " ".join(json.dumps(r.body) + str(r.query) for r in server.requests)
        found = re.search(rf"https://videos\.example\.com(/webhooks/{alias}/[^\"'\s\]]+)", sent)
        assert found, "the provider was not given our callback URL"
        path = found.group(1)
        client = Client()
        answer = client.post(path, data={"status": "done"}, content_type="application/json")
        assert answer.status_code == 200, answer.content
        if alias == "minimax":  # MiniMax first checks the URL with a challenge to echo
            echo = client.post(path, data={"challenge": "c-123"}, content_type="application/json")
            assert echo.json() == {"challenge": "c-123"}

    barrier = threading.Barrier(3)

    def poll() -> None:
        barrier.wait()
        remote.segment_poll(segment=Segment.objects.get(pk=scene.pk))
        connection.close()

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scene.refresh_from_db()
    assert scene.status == Segment.Status.READY, scene.error
    assert server.created == 1
    local = tmp_path / "stored.mp4"  # the file may be on S3: probe a copy
    with default_storage.open(scene.file.name, "rb") as handle:
        local.write_bytes(handle.read())
    found = probe(local)
    assert (found.width, found.height, found.fps, found.codec) == (320, 180, 15, "h264")
    assert found.duration == pytest.approx(1.0, abs=0.1)
    # The local segments' renders are not run here; the video waits for them.
    assert Video.objects.get(pk=video.pk).status == Video.Status.PENDING
