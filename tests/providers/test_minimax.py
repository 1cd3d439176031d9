"""The MiniMax Hailuo adapter against a local server speaking MiniMax's protocol, over real HTTP."""

import base64
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.minimax import MiniMaxBackend
from providers.remote import JobStatus, ProviderFailure, Submitted
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_minimax import API_KEY, FakeMiniMax
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def minimax(provider_mp4: bytes) -> Iterator[FakeMiniMax]:
    yield from serve(FakeMiniMax(provider_mp4))


def backend(server: FakeMiniMax, **options: object) -> MiniMaxBackend:
    return MiniMaxBackend(
        alias="minimax",
        api_key=options.pop("api_key", API_KEY),  # type: ignore[arg-type]
        base_url=server.url,
        timeout=1.0,
        retries=3,
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


def job(*, image: bool = True, kind: str = "scene") -> RenderJob:
    """The rainy scene (or another segment) of a rain jacket, as the planner makes it."""
    product = Product(
        merchant=Merchant(name="Northwind", slug="northwind"),
        title="Stormline Rain Jacket",
        price=Decimal("129.00"),
        currency="USD",
    )
    plan = next(
        p
        for p in scene_plans_for(product=product, context=ShopperContext.parse("climate=rainy"))
        if p.kind == kind
    )
    return RenderJob(
        plan=plan,
        profile=OutputProfile(aspect="16:9", width=320, height=180, fps=15),
        assets=RenderAssets(product_image=photo_bytes(size=(600, 800)) if image else None),
    )


def run_to_end(adapter: MiniMaxBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def creates(server: FakeMiniMax) -> int:
    return len([r for r in server.requests if r.path == "/v1/video_generation"])


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(
    minimax: FakeMiniMax, tmp_path: Path
) -> None:
    adapter = backend(minimax)
    scene = job()
    submitted = adapter.submit(scene, callback_url="https://videos.example.com/hook")
    body = minimax.requests[-1].body
    # The 8 s scene asks for the 10 s clip (trimmed when normalized).
    assert body["model"] == "MiniMax-Hailuo-02" and body["duration"] == 10
    assert body["resolution"] == "768P" and body["prompt_optimizer"] is False
    assert body["prompt"] == scene.plan.prompt
    assert body["callback_url"] == "https://videos.example.com/hook"
    # MiniMax has no negative prompt and no seed: neither is sent.
    assert set(body) == {
        "model",
        "prompt",
        "duration",
        "resolution",
        "prompt_optimizer",
        "first_frame_image",
        "callback_url",
    }
    head, _, payload = body["first_frame_image"].partition(",")
    assert head in ("data:image/png;base64", "data:image/jpeg;base64")
    with Image.open(io.BytesIO(base64.b64decode(payload))) as first:
        # MiniMax shapes the clip like its first frame: the packshot is padded to 16:9.
        assert abs(first.width / first.height - 16 / 9) < 0.01
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    # The finished task names a file; its URL came from the files API.
    retrieved = [r for r in minimax.requests if r.path == "/v1/files/retrieve"]
    assert retrieved[-1].query == {"file_id": [minimax.jobs[submitted.job_id].extra["file_id"]]}
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640


def test_a_configured_group_id_goes_to_the_files_api(minimax: FakeMiniMax) -> None:
    # Older MiniMax accounts' files API wanted GroupId; sent only when configured.
    adapter = backend(minimax, group_id="1920000000000000001")
    assert run_to_end(adapter, adapter.submit(job())).state == "succeeded"
    retrieved = next(r for r in minimax.requests if r.path == "/v1/files/retrieve")
    assert retrieved.query["GroupId"] == ["1920000000000000001"]


def test_text_to_video_without_an_image_sends_the_prompt_only(minimax: FakeMiniMax) -> None:
    backend(minimax).submit(job(image=False))
    body = minimax.requests[-1].body
    assert "first_frame_image" not in body and body["prompt"]


def test_1080p_makes_6_second_clips_and_refuses_longer_scenes_before_paying(
    minimax: FakeMiniMax,
) -> None:
    adapter = backend(minimax, resolution="1080P")
    hero = job(kind="hero")
    assert hero.plan.seconds <= 6
    assert adapter.submit(hero).job_id
    assert minimax.requests[-1].body["duration"] == 6
    # The 8 s scene cannot come from a 6 s clip: refused before a job is paid for, so the
    # segment falls back instead of failing verification after the download.
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "invalid" and "768P makes 10 s clips" in str(failure.value)
    assert minimax.created == 1
    with pytest.raises(ValueError, match="resolution"):
        MiniMaxBackend(alias="minimax", resolution="4K")


def test_a_rate_limit_in_a_200_answer_is_retried_and_makes_one_job(
    minimax: FakeMiniMax,
) -> None:
    minimax.rate_limited = 2
    assert backend(minimax).submit(job()).job_id
    assert minimax.created == 1 and creates(minimax) == 3


def test_429_then_success_retries_the_same_request(minimax: FakeMiniMax) -> None:
    minimax.fault("429", times=2, prefix="/v1/video_generation")
    assert backend(minimax).submit(job()).job_id
    assert minimax.created == 1 and creates(minimax) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(minimax: FakeMiniMax) -> None:
    minimax.fault("502", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(minimax).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert minimax.created == 0


def test_a_timeout_is_retried(minimax: FakeMiniMax) -> None:
    minimax.stall_seconds = 1.5
    minimax.fault("timeout", times=1)
    assert backend(minimax).submit(job()).job_id
    assert minimax.created == 1


def test_a_refused_video_is_final_with_the_providers_reason(minimax: FakeMiniMax) -> None:
    minimax.outcome = "moderation"
    adapter = backend(minimax)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert status.failure.code == "1027"
    assert "refused the generated video as sensitive (output new_sensitive)" in str(status.failure)


def test_a_refused_prompt_or_image_is_final_at_submit(minimax: FakeMiniMax) -> None:
    minimax.refuse_input = True
    with pytest.raises(ProviderFailure) as failure:
        backend(minimax).submit(job())
    assert failure.value.kind == "moderation" and failure.value.code == "1026"
    assert "refused the prompt or the product image" in str(failure.value)
    assert creates(minimax) == 1, "a refusal is not retried"


def test_a_failed_task_is_final(minimax: FakeMiniMax) -> None:
    minimax.outcome = "failed"
    adapter = backend(minimax)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "invalid" and "could not make the video" in str(status.failure)


def test_a_wrong_key_is_an_auth_failure_not_retried(minimax: FakeMiniMax) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(minimax, api_key="mm-wrong").submit(job())
    assert failure.value.kind == "auth" and failure.value.code == "1004"
    assert "login fail" in str(failure.value)
    assert len(minimax.requests) == 1


def test_an_http_401_is_an_auth_failure_too(minimax: FakeMiniMax) -> None:
    # PROVIDERS.md says errors *usually* come as HTTP 200; a gateway's plain 401 is read too.
    minimax.fault("401", prefix="/v1/video_generation")
    with pytest.raises(ProviderFailure) as failure:
        backend(minimax).submit(job())
    assert failure.value.kind == "auth" and failure.value.status == 401
    assert len(minimax.requests) == 1


def test_insufficient_balance_is_out_of_funds_not_retried(minimax: FakeMiniMax) -> None:
    minimax.out_of_balance = True
    with pytest.raises(ProviderFailure) as failure:
        backend(minimax).submit(job())
    assert failure.value.kind == "funds" and failure.value.code == "1008"
    assert "insufficient balance" in str(failure.value)
    assert len(minimax.requests) == 1


def test_an_expired_output_is_a_final_failure_of_the_download(
    minimax: FakeMiniMax, tmp_path: Path
) -> None:
    adapter = backend(minimax)
    status = run_to_end(adapter, adapter.submit(job()))
    minimax.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_the_webhook_challenge_is_echoed_and_names_no_job(minimax: FakeMiniMax) -> None:
    adapter = backend(minimax)
    challenge = minimax.challenge_body("abc123")
    assert adapter.webhook_reply(challenge) == {"challenge": "abc123"}
    assert adapter.webhook(challenge, {}) == ("", JobStatus("running"))


def test_the_webhook_body_is_read_like_a_poll(minimax: FakeMiniMax) -> None:
    adapter = backend(minimax)
    submitted = adapter.submit(job())
    task = minimax.jobs[submitted.job_id]
    callback = minimax.callback_body(task, "Processing")
    assert adapter.webhook_reply(callback) is None
    assert adapter.webhook(callback, {}) == (submitted.job_id, JobStatus("running"))
    job_id, status = adapter.webhook(minimax.callback_body(task, "Success"), {})
    assert job_id == submitted.job_id and status.state == "succeeded"
    assert status.output_url == minimax.output_url(task)
    minimax.outcome = "moderation"
    _, status = adapter.webhook(minimax.callback_body(task, "Fail"), {})
    assert status.failure is not None and status.failure.kind == "moderation"
