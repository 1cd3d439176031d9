"""The fal.ai adapter against a local server speaking fal's queue protocol, over real HTTP."""

import base64
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.fal import FalBackend
from providers.remote import JobStatus, ProviderFailure, Submitted
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_fal import FAL_KEY, FakeFal
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe

KLING = "fal-ai/kling-video/v2.1/standard/image-to-video"
HAILUO = "fal-ai/minimax/hailuo-02/standard/image-to-video"


@pytest.fixture
def fal(provider_mp4: bytes) -> Iterator[FakeFal]:
    yield from serve(FakeFal(provider_mp4))


def backend(server: FakeFal, **options: object) -> FalBackend:
    return FalBackend(
        alias="fal",
        api_key=FAL_KEY,
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


def run_to_end(adapter: FalBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the request never finished")


def jwks_x(key: Ed25519PrivateKey) -> str:
    """The public key as fal's JWKS carries it: base64url of the raw key, no padding."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_kling_runs_from_submit_to_a_downloaded_mp4(fal: FakeFal, tmp_path: Path) -> None:
    adapter = backend(fal)
    rainy = job()
    submitted = adapter.submit(rainy, callback_url="https://videos.example.com/hook")
    created = fal.requests[-1]
    assert created.path == f"/{KLING}"
    assert created.headers["authorization"] == f"Key {FAL_KEY}"
    assert created.query["fal_webhook"] == ["https://videos.example.com/hook"]
    # The 8 s scene asks for the 10 s clip, a string as the model wants it.
    assert created.body["duration"] == "10"
    assert created.body["prompt"] == rainy.plan.prompt
    assert created.body["negative_prompt"] == rainy.plan.negative_prompt
    assert created.body["image_url"].startswith(("data:image/png;base64,", "data:image/jpeg;"))
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640
    # The status and result URLs were followed as fal gave them, not rebuilt from the model id.
    followed = [r.path for r in fal.requests if r.method == "GET" and r.path.startswith("/q/")]
    assert followed[0] == f"/q/requests/{submitted.job_id}/status"
    assert followed[-1] == f"/q/requests/{submitted.job_id}"


def test_a_custom_model_gets_its_own_inputs_and_durations(fal: FakeFal, tmp_path: Path) -> None:
    adapter = backend(
        fal,
        model=HAILUO,
        inputs={"prompt": "prompt", "image_url": "image", "duration": "duration"},
        extra_inputs={"prompt_optimizer": False, "resolution": "768P"},
        durations=(6, 10),
    )
    submitted = adapter.submit(job())
    created = fal.requests[-1]
    assert created.path == f"/{HAILUO}" and "fal_webhook" not in created.query
    assert created.body["duration"] == "10" and created.body["resolution"] == "768P"
    assert set(created.body) == {
        "prompt",
        "image_url",
        "duration",
        "prompt_optimizer",
        "resolution",
    }
    assert adapter.duration_for(5) == 6
    status = run_to_end(adapter, submitted)
    assert probe(adapter.download(status, tmp_path / "out.mp4")).width == 640


def test_the_model_and_its_inputs_are_in_the_fingerprint(fal: FakeFal) -> None:
    kling = backend(fal).option_fingerprint()
    hailuo = backend(
        fal, model=HAILUO, inputs={"prompt": "prompt", "image_url": "image"}
    ).option_fingerprint()
    assert kling["model"] == KLING and kling["inputs"]["image_url"] == "image"
    assert hailuo["model"] == HAILUO and kling != hailuo


def test_429_then_success_retries_the_same_request(fal: FakeFal) -> None:
    fal.fault("429", times=2, prefix="/fal-ai/")
    submitted = backend(fal).submit(job())
    assert submitted.job_id and fal.created == 1
    assert len([r for r in fal.requests if r.method == "POST"]) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(fal: FakeFal) -> None:
    fal.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(fal).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert fal.created == 0


def test_a_timeout_is_retried(fal: FakeFal) -> None:
    fal.stall_seconds = 1.5
    fal.fault("timeout", times=1)
    assert backend(fal).submit(job()).job_id
    assert fal.created == 1


def test_a_gateway_error_on_the_status_keeps_the_job_running(fal: FakeFal) -> None:
    adapter = backend(fal)
    submitted = adapter.submit(job())
    fal.fault("garbage", times=10, prefix="/q/")
    with pytest.raises(ProviderFailure) as failure:
        adapter.poll(submitted)
    assert failure.value.kind == "transient"  # the rendering core polls again later
    fal.faults.clear()
    assert run_to_end(adapter, submitted).state == "succeeded"


def test_moderation_refusal_is_final_with_the_providers_reason(fal: FakeFal) -> None:
    fal.outcome = "moderation"
    adapter = backend(fal)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert "content checker" in str(status.failure) and "image_url" in str(status.failure)


def test_a_request_that_failed_on_fal_ends_the_job(fal: FakeFal) -> None:
    """A runner error after fal's own retries: the job is over (the core falls back), it is
    not polled forever."""
    fal.outcome = "failed"
    adapter = backend(fal)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.code == "runner_server_error" and status.failure.kind != "moderation"


def test_a_wrong_key_is_an_auth_failure_not_retried(fal: FakeFal) -> None:
    adapter = FalBackend(alias="fal", api_key="wrong", base_url=fal.url, retries=3, backoff=0.01)
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.status == 401
    assert len(fal.requests) == 1


def test_an_exhausted_balance_is_a_funds_failure(fal: FakeFal) -> None:
    fal.locked = True
    with pytest.raises(ProviderFailure) as failure:
        backend(fal).submit(job())
    assert failure.value.kind == "funds" and "Exhausted balance" in str(failure.value)
    assert len(fal.requests) == 1


def test_a_mapping_that_misses_a_required_input_is_named(fal: FakeFal) -> None:
    adapter = backend(fal, model=KLING, inputs={"prompt": "prompt"})
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "invalid" and failure.value.status == 422
    assert "image_url: field required" in str(failure.value)
    assert len(fal.requests) == 1


def test_another_model_without_an_input_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="inputs"):
        FalBackend(alias="fal", model=HAILUO)
    with pytest.raises(ValueError, match="extra_inputs"):
        FalBackend(alias="fal", inputs={"prompt": "prompt"}, extra_inputs={"prompt": "x"})


def test_an_expired_output_is_a_final_failure_of_the_download(fal: FakeFal, tmp_path: Path) -> None:
    adapter = backend(fal)
    status = run_to_end(adapter, adapter.submit(job()))
    fal.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_the_webhook_body_is_parsed(fal: FakeFal) -> None:
    adapter = backend(fal)
    submitted = adapter.submit(job(), callback_url="https://videos.example.com/hook")
    request = fal.jobs[submitted.job_id]
    job_id, status = adapter.webhook(fal.callback_body(request, "success"), {})
    assert job_id == submitted.job_id and status.state == "succeeded"
    assert status.output_url == fal.output_url(request)
    _, refused = adapter.webhook(fal.callback_body(request, "moderation"), {})
    assert refused.state == "failed" and refused.failure is not None
    assert refused.failure.kind == "moderation"
    _, broken = adapter.webhook(fal.callback_body(request, "failed"), {})
    assert broken.state == "failed" and "runner" in str(broken.failure)
    # The result did not fit in the callback: a poll reads it.
    unsent = {"request_id": request.id, "status": "OK", "payload": None, "payload_error": "…"}
    assert adapter.webhook(unsent, {})[1].state == "running"


def test_webhook_signatures_are_verified(fal: FakeFal) -> None:
    fal_key, previous_key, stranger = (Ed25519PrivateKey.generate() for _ in range(3))
    adapter = backend(fal, webhook_public_keys=[jwks_x(previous_key), jwks_x(fal_key)])
    submitted = adapter.submit(job())
    body = fal.callback_body(fal.jobs[submitted.job_id], "success")
    raw, headers = fal.signed_delivery(body, fal_key)
    assert adapter.verify_webhook(raw, headers)
    assert adapter.verify_webhook(raw, {k.lower(): v for k, v in headers.items()})

    tampered = raw.replace(b'"OK"', b'"ERROR"')
    assert not adapter.verify_webhook(tampered, headers)
    _, forged = fal.signed_delivery(body, stranger)
    assert not adapter.verify_webhook(raw, forged)
    stale_raw, stale = fal.signed_delivery(body, fal_key, timestamp=int(time.time()) - 6 * 60)
    assert not adapter.verify_webhook(stale_raw, stale)
    assert not adapter.verify_webhook(raw, {**headers, "X-Fal-Webhook-Signature": "not hex"})
    assert not adapter.verify_webhook(raw, {**headers, "X-Fal-Webhook-User-Id": "someone-else"})


def test_without_keys_webhooks_pass_and_that_is_logged_once(
    fal: FakeFal, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = backend(fal)
    with caplog.at_level(logging.WARNING, logger="providers.fal"):
        assert adapter.verify_webhook(b"{}", {})
        assert adapter.verify_webhook(b"{}", {})
    assert len([r for r in caplog.records if "not verified" in r.getMessage()]) == 1


def test_a_malformed_public_key_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="JWKS"):
        FalBackend(alias="fal", webhook_public_keys=["not-a-key"])
