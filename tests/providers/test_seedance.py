"""The Seedance adapter against a local server speaking Ark's protocol, over real HTTP."""

import base64
import io
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.remote import JobStatus, ProviderFailure, Submitted
from providers.seedance import SeedanceBackend
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_seedance import API_KEY, TASKS, FakeSeedance
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def seedance(provider_mp4: bytes) -> Iterator[FakeSeedance]:
    yield from serve(FakeSeedance(provider_mp4))


def backend(server: FakeSeedance, **options: object) -> SeedanceBackend:
    return SeedanceBackend(
        alias="seedance",
        api_key=options.pop("api_key", API_KEY),  # type: ignore[arg-type]
        base_url=server.base_url,
        timeout=1.0,
        retries=3,
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


def job(*, image: bool = True, seed: int = 0) -> RenderJob:
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
        profile=OutputProfile(aspect="16:9", width=320, height=180, fps=15),
        assets=RenderAssets(product_image=photo_bytes(size=(600, 800)) if image else None),
        seed=seed,
    )


def run_to_end(adapter: SeedanceBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(
    seedance: FakeSeedance, tmp_path: Path
) -> None:
    adapter = backend(seedance)
    scene = job(seed=3)
    submitted = adapter.submit(scene, callback_url="https://videos.example.com/hook")
    body = seedance.requests[-1].body
    assert body["model"] == "seedance-1-0-pro-250528"
    # The 8 s scene asks for an 8 s clip: Seedance makes any whole length from 2 to 12 s.
    assert body["duration"] == 8 and body["ratio"] == "16:9" and body["resolution"] == "720p"
    assert body["seed"] == 3 and body["watermark"] is False and body["camera_fixed"] is False
    assert body["callback_url"] == "https://videos.example.com/hook"
    text, frame = body["content"]
    # Seedance has no negative prompt: only the prompt goes, and nothing else pretends to be one.
    assert text == {"type": "text", "text": scene.plan.prompt}
    assert "negative_prompt" not in body
    assert frame["role"] == "first_frame"
    head, _, payload = frame["image_url"]["url"].partition(",")
    assert head in ("data:image/png;base64", "data:image/jpeg;base64")
    with Image.open(io.BytesIO(base64.b64decode(payload))) as first:
        # The portrait packshot is padded to the clip's 16:9, so Ark crops none of the product.
        assert abs(first.width / first.height - 16 / 9) < 0.01
        assert first.height >= 800
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640


def test_text_to_video_without_an_image_sends_only_the_prompt(seedance: FakeSeedance) -> None:
    backend(seedance).submit(job(image=False))
    body = seedance.requests[-1].body
    assert [item["type"] for item in body["content"]] == ["text"]
    assert body["ratio"] == "16:9"


def test_the_china_region_uses_volcengine_and_its_model_ids() -> None:
    adapter = SeedanceBackend(alias="seedance", api_key="k", region="cn-beijing")
    assert adapter.base_url == "https://ark.cn-beijing.volces.com/api/v3"
    assert adapter.model == "doubao-seedance-1-0-pro-250528"
    # Pointing only the base URL at Volcengine picks Volcengine's model id as well.
    volces = SeedanceBackend(alias="s", base_url="https://ark.cn-beijing.volces.com/api/v3")
    assert volces.model == "doubao-seedance-1-0-pro-250528"
    byteplus = SeedanceBackend(alias="s")
    assert byteplus.base_url == "https://ark.ap-southeast.bytepluses.com/api/v3"
    assert byteplus.model == "seedance-1-0-pro-250528"
    with pytest.raises(ValueError, match="resolution"):
        SeedanceBackend(alias="s", resolution="4k")


def test_a_segment_longer_than_seedance_makes_is_refused_before_paying(
    seedance: FakeSeedance,
) -> None:
    scene = job()
    long_scene = replace(scene, plan=replace(scene.plan, seconds=15.0))
    with pytest.raises(ProviderFailure) as failure:
        backend(seedance).submit(long_scene)
    assert failure.value.kind == "invalid" and "at most 12 s" in str(failure.value)
    assert not seedance.requests


def test_429_then_success_retries_the_same_request(seedance: FakeSeedance) -> None:
    seedance.fault("429", times=2, prefix=TASKS)
    submitted = backend(seedance).submit(job())
    assert submitted.job_id.startswith("cgt-") and seedance.created == 1
    assert len([r for r in seedance.requests if r.method == "POST"]) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(seedance: FakeSeedance) -> None:
    seedance.fault("500", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(seedance).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert seedance.created == 0


def test_a_timeout_is_retried(seedance: FakeSeedance) -> None:
    seedance.stall_seconds = 1.5
    seedance.fault("timeout", times=1)
    assert backend(seedance).submit(job()).job_id
    assert seedance.created == 1


def test_a_refused_video_is_final_with_the_providers_reason(seedance: FakeSeedance) -> None:
    seedance.outcome = "moderation"
    adapter = backend(seedance)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert status.failure.code == "OutputVideoSensitiveContentDetected"
    assert "output video may contain sensitive information" in str(status.failure)


def test_a_refused_product_image_is_final_at_submit(seedance: FakeSeedance) -> None:
    seedance.refuse_input = "InputImageSensitiveContentDetected"
    with pytest.raises(ProviderFailure) as failure:
        backend(seedance).submit(job())
    assert failure.value.kind == "moderation" and failure.value.status == 400
    assert "input image may contain sensitive information" in str(failure.value)
    assert len(seedance.requests) == 1, "a refusal is not retried"


def test_failed_expired_and_cancelled_tasks_end_the_job(
    seedance: FakeSeedance,
) -> None:
    seedance.outcome = "failed"
    adapter = backend(seedance)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.failure is not None and status.failure.kind == "invalid"
    assert "unexpected error" in str(status.failure)
    queued = adapter.submit(job())
    seedance.jobs[queued.job_id].extra["status"] = "expired"
    status = adapter.poll(queued)
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "transient" and "expired in the queue" in str(status.failure)
    cancelled = adapter.submit(job())
    seedance.jobs[cancelled.job_id].extra["status"] = "cancelled"
    status = adapter.poll(cancelled)
    assert status.failure is not None and status.failure.kind == "invalid"


def test_a_wrong_key_is_an_auth_failure_not_retried(seedance: FakeSeedance) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(seedance, api_key="ark-wrong").submit(job())
    assert failure.value.kind == "auth" and failure.value.status == 401
    assert len(seedance.requests) == 1


def test_a_model_not_activated_tells_the_operator_to_activate_it(seedance: FakeSeedance) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(seedance, model="seedance-1-0-lite-i2v-250428").submit(job())
    assert failure.value.kind == "auth" and failure.value.code == "ModelNotOpen"
    assert "activate seedance-1-0-lite-i2v-250428" in str(failure.value)
    assert len(seedance.requests) == 1


def test_an_overdue_account_is_out_of_funds_not_an_auth_error(seedance: FakeSeedance) -> None:
    seedance.overdue = True
    with pytest.raises(ProviderFailure) as failure:
        backend(seedance).submit(job())
    assert failure.value.kind == "funds" and failure.value.code == "AccountOverdueError"
    assert "overdue balance" in str(failure.value)
    assert len(seedance.requests) == 1


def test_an_expired_output_is_a_final_failure_of_the_download(
    seedance: FakeSeedance, tmp_path: Path
) -> None:
    adapter = backend(seedance)
    status = run_to_end(adapter, adapter.submit(job()))
    seedance.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_the_webhook_body_is_read_like_a_poll(seedance: FakeSeedance) -> None:
    adapter = backend(seedance)
    submitted = adapter.submit(job())
    task = seedance.jobs[submitted.job_id]
    job_id, status = adapter.webhook(seedance.callback_body(task, "running"), {})
    assert job_id == submitted.job_id and status.state == "running"
    job_id, status = adapter.webhook(seedance.callback_body(task, "succeeded"), {})
    assert job_id == submitted.job_id and status.output_url == seedance.output_url(task)
    seedance.outcome = "moderation"
    _, status = adapter.webhook(seedance.callback_body(task, "failed"), {})
    assert status.failure is not None and status.failure.kind == "moderation"
