"""The OpenAI Videos adapter against a local server speaking that API, over real HTTP."""

from collections.abc import Iterator
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
import requests
from PIL import Image

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.openai_videos import OpenAIVideosBackend
from providers.remote import JobStatus, ProviderFailure, Submitted
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_openai_videos import API_KEY, MODERATION_MESSAGE, FakeOpenAIVideos
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def openai(provider_mp4: bytes) -> Iterator[FakeOpenAIVideos]:
    yield from serve(FakeOpenAIVideos(provider_mp4))


def backend(server: FakeOpenAIVideos, **options: object) -> OpenAIVideosBackend:
    return OpenAIVideosBackend(
        alias="sora",
        api_key=API_KEY,
        base_url=server.url,
        timeout=1.0,
        retries=3,
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


def job(*, image: bool = True, aspect: str = "16:9") -> RenderJob:
    """The rainy scene of a rain jacket, as the planner makes it."""
    product = Product(
        merchant=Merchant(name="Northwind", slug="northwind"),
        title="Stormline Rain Jacket",
        price=Decimal("129.00"),
        currency="USD",
    )
    plan = next(
        p
        for p in scene_plans_for(product=product, context=ShopperContext.parse("climate=rainy"))
        if p.kind == "scene"
    )
    return RenderJob(
        plan=plan,
        profile=OutputProfile(aspect=aspect, width=320, height=180, fps=15),
        assets=RenderAssets(product_image=photo_bytes(size=(600, 800)) if image else None),
    )


def run_to_end(adapter: OpenAIVideosBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(
    openai: FakeOpenAIVideos, tmp_path: Path
) -> None:
    adapter = backend(openai)
    render_job = job()
    submitted = adapter.submit(render_job, callback_url="https://videos.example.com/hook")
    created = openai.requests[-1]
    assert created.path == "/v1/videos"
    assert created.headers["content-type"].startswith("multipart/form-data")
    video = openai.jobs[submitted.job_id]
    # The 8 s scene asks for the 8 s clip; the fields went as form fields, not JSON.
    assert video.request == {
        "model": "sora-2",
        "prompt": render_job.plan.prompt,
        "seconds": "8",
        "size": "1280x720",
    }
    reference, mime = openai.references[submitted.job_id]
    assert mime in ("image/png", "image/jpeg")
    with Image.open(BytesIO(reference)) as image:
        assert image.size == (1280, 720) and image.mode == "RGB"

    statuses = [adapter.poll(submitted)]
    while statuses[-1].state == "running":
        statuses.append(adapter.poll(submitted))
    assert statuses[0].progress is not None and 0 <= statuses[0].progress < 1
    status = statuses[-1]
    assert status.state == "succeeded" and status.progress == 1.0
    assert status.output_url == f"{openai.url}/v1/videos/{submitted.job_id}/content"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640


def test_without_an_image_the_request_is_json(openai: FakeOpenAIVideos) -> None:
    backend(openai).submit(job(image=False, aspect="9:16"))
    created = openai.requests[-1]
    assert created.headers["content-type"] == "application/json"
    assert created.body["size"] == "720x1280" and "input_reference" not in created.body


@pytest.mark.parametrize(("aspect", "size"), [("9:16", (720, 1280)), ("1:1", (1280, 720))])
def test_the_reference_matches_the_video_size_of_each_aspect(
    openai: FakeOpenAIVideos, aspect: str, size: tuple[int, int]
) -> None:
    submitted = backend(openai).submit(job(aspect=aspect))
    assert openai.jobs[submitted.job_id].request["size"] == f"{size[0]}x{size[1]}"
    with Image.open(BytesIO(openai.references[submitted.job_id][0])) as image:
        assert image.size == size


def test_429_then_success_retries_the_same_request(openai: FakeOpenAIVideos) -> None:
    openai.fault("429", times=2, prefix="/v1/videos")
    submitted = backend(openai).submit(job())
    assert submitted.job_id and openai.created == 1
    assert len([r for r in openai.requests if r.method == "POST"]) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(openai: FakeOpenAIVideos) -> None:
    openai.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(openai).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert openai.created == 0


def test_a_timeout_is_retried(openai: FakeOpenAIVideos) -> None:
    openai.stall_seconds = 1.5
    openai.fault("timeout", times=1)
    assert backend(openai).submit(job()).job_id
    assert openai.created == 1


def test_moderation_refusal_is_final_with_the_providers_reason(openai: FakeOpenAIVideos) -> None:
    openai.outcome = "moderation"
    adapter = backend(openai)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert MODERATION_MESSAGE in str(status.failure)
    assert status.failure.code == "moderation_blocked"


def test_a_prompt_refused_at_creation_is_moderation_not_retried(
    openai: FakeOpenAIVideos,
) -> None:
    openai.refuse_at_create = True
    with pytest.raises(ProviderFailure) as failure:
        backend(openai).submit(job())
    assert failure.value.kind == "moderation" and failure.value.code == "moderation_blocked"
    assert MODERATION_MESSAGE in str(failure.value)
    assert len(openai.requests) == 1 and openai.created == 0


def test_a_failed_video_is_final_but_not_moderation(openai: FakeOpenAIVideos) -> None:
    openai.outcome = "failed"
    adapter = backend(openai)
    status = run_to_end(adapter, adapter.submit(job(image=False)))
    assert status.failure is not None and status.failure.kind == "invalid"


def test_a_wrong_key_is_an_auth_failure_not_retried(openai: FakeOpenAIVideos) -> None:
    adapter = OpenAIVideosBackend(
        alias="sora", api_key="sk-wrong", base_url=openai.url, retries=3, backoff=0.01
    )
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.code == "invalid_api_key"
    assert len(openai.requests) == 1


def test_insufficient_quota_is_a_final_funds_failure(openai: FakeOpenAIVideos) -> None:
    openai.quota_exhausted = True
    with pytest.raises(ProviderFailure) as failure:
        backend(openai).submit(job())
    assert failure.value.kind == "funds" and failure.value.final
    assert failure.value.status == 429 and failure.value.code == "insufficient_quota"
    assert len(openai.requests) == 1, "a spent quota is not retried like a rate limit"


def test_the_content_is_downloaded_with_the_key_and_refused_without(
    openai: FakeOpenAIVideos,
) -> None:
    adapter = backend(openai)
    status = run_to_end(adapter, adapter.submit(job(image=False)))
    assert status.download_headers == {"Authorization": f"Bearer {API_KEY}"}
    assert requests.get(status.output_url, timeout=5).status_code == 401


def test_an_expired_output_is_a_final_failure_of_the_download(
    openai: FakeOpenAIVideos, tmp_path: Path
) -> None:
    adapter = backend(openai)
    status = run_to_end(adapter, adapter.submit(job(image=False)))
    openai.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_it_takes_no_webhooks(openai: FakeOpenAIVideos) -> None:
    adapter = backend(openai)
    assert adapter.webhooks is False
    with pytest.raises(NotImplementedError):
        adapter.webhook({"id": "video_1"}, {})
