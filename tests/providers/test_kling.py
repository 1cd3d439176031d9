"""The Kling adapter against a local server speaking Kling's protocol, over real HTTP."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.kling import KlingBackend, kling_token
from providers.remote import ProviderFailure, Submitted
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_kling import ACCESS_KEY, SECRET_KEY, FakeKling
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def kling(provider_mp4: bytes) -> Iterator[FakeKling]:
    yield from serve(FakeKling(provider_mp4))


def backend(server: FakeKling, **options: object) -> KlingBackend:
    return KlingBackend(
        alias="kling",
        api_key=f"{ACCESS_KEY}:{SECRET_KEY}",
        base_url=server.url,
        timeout=1.0,
        retries=3,
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


def job(*, image: bool = True) -> RenderJob:
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
    )


def run_to_end(adapter: KlingBackend, submitted: Submitted, polls: int = 10):  # type: ignore[no-untyped-def]
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(
    kling: FakeKling, tmp_path: Path
) -> None:
    adapter = backend(kling)
    submitted = adapter.submit(
        job(), callback_url="https://videos.example.com/hook", reference="seg-1"
    )
    created = kling.requests[-1]
    assert created.path == "/v1/videos/image2video"
    # The 8 s scene asks for the 10 s clip (trimmed when normalized).
    assert created.body["model_name"] == "kling-v2-1" and created.body["duration"] == "10"
    assert not created.body["image"].startswith("data:")
    assert created.body["external_task_id"] == "seg-1"
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640


def test_text_to_video_without_an_image_sends_the_aspect(kling: FakeKling) -> None:
    backend(kling).submit(job(image=False))
    assert kling.requests[-1].path == "/v1/videos/text2video"
    assert kling.requests[-1].body["aspect_ratio"] == "16:9"


def test_429_then_success_retries_the_same_request(kling: FakeKling) -> None:
    kling.fault("429", times=2, prefix="/v1/videos/image2video")
    submitted = backend(kling).submit(job())
    assert submitted.job_id and kling.created == 1
    assert len([r for r in kling.requests if r.method == "POST"]) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(kling: FakeKling) -> None:
    kling.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(kling).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert kling.created == 0


def test_a_timeout_is_retried(kling: FakeKling) -> None:
    kling.stall_seconds = 1.5
    kling.fault("timeout", times=1)
    assert backend(kling).submit(job()).job_id
    assert kling.created == 1


def test_moderation_refusal_is_final_with_the_providers_reason(kling: FakeKling) -> None:
    kling.outcome = "moderation"
    adapter = backend(kling)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert "risk control" in str(status.failure)


def test_a_wrong_secret_is_an_auth_failure_not_retried(kling: FakeKling) -> None:
    adapter = KlingBackend(
        alias="kling",
        api_key=f"{ACCESS_KEY}:sk-wrong-secret-key-0123456789abc",
        base_url=kling.url,
        retries=3,
        backoff=0.01,
    )
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.code == "1002"
    assert len(kling.requests) == 1


def test_an_expired_output_is_a_final_failure_of_the_download(
    kling: FakeKling, tmp_path: Path
) -> None:
    adapter = backend(kling)
    status = run_to_end(adapter, adapter.submit(job()))
    kling.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_the_webhook_body_is_read_like_a_poll(kling: FakeKling) -> None:
    adapter = backend(kling)
    submitted = adapter.submit(job())
    task = kling.jobs[submitted.job_id]
    job_id, status = adapter.webhook(kling.callback_body(task, "succeed"), {})
    assert job_id == submitted.job_id and status.state == "succeeded"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_token_carries_the_claims_kling_documents(kling: FakeKling) -> None:
    """Read without PyJWT (the adapter and the fake server both use it): the header, the
    claims and the HS256 signature Kling documents."""
    before = int(time.time())
    backend(kling).submit(job(image=False))
    after = int(time.time())
    scheme, _, token = kling.requests[-1].headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    head, payload, signature = token.split(".")
    assert json.loads(_unb64(head)) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(_unb64(payload))
    assert set(claims) == {"iss", "exp", "nbf"} and claims["iss"] == ACCESS_KEY
    # Valid from 5 s before it was made, for 30 minutes.
    assert before - 5 <= claims["nbf"] <= after - 5
    assert claims["exp"] - claims["nbf"] == 1800 + 5
    expected = hmac.new(SECRET_KEY.encode(), f"{head}.{payload}".encode(), hashlib.sha256)
    assert hmac.compare_digest(_unb64(signature), expected.digest())


def test_an_expired_token_is_an_auth_failure_with_kling_s_code(kling: FakeKling) -> None:
    stale = kling_token(ACCESS_KEY, SECRET_KEY, now=time.time() - 2 * 1800)
    response = requests.get(
        f"{kling.url}/v1/videos/image2video/any",
        headers={"Authorization": f"Bearer {stale}"},
        timeout=5,
    )
    failure = backend(kling).classify(response, response.json())
    assert failure is not None and failure.kind == "auth" and failure.code == "1004"
