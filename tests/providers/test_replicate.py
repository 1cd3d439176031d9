"""The Replicate adapter against a local server speaking Replicate's protocol, over real HTTP."""

import base64
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.remote import JobStatus, ProviderFailure, Submitted
from providers.replicate import ReplicateBackend
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_replicate import (
    API_TOKEN,
    MINIMAX_VERSION,
    WEBHOOK_SECRET,
    FakeReplicate,
)
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def replicate(provider_mp4: bytes) -> Iterator[FakeReplicate]:
    yield from serve(FakeReplicate(provider_mp4))


def backend(server: FakeReplicate, **options: object) -> ReplicateBackend:
    return ReplicateBackend(
        alias="replicate",
        api_key=API_TOKEN,
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


def run_to_end(adapter: ReplicateBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the prediction never finished")


def test_kling_runs_from_submit_to_a_downloaded_mp4(
    replicate: FakeReplicate, tmp_path: Path
) -> None:
    adapter = backend(replicate)
    rainy = job()
    submitted = adapter.submit(rainy, callback_url="https://videos.example.com/hook")
    created = replicate.requests[-1]
    assert created.path == "/v1/models/kwaivgi/kling-v2.1/predictions"
    assert created.headers["authorization"] == f"Bearer {API_TOKEN}"
    assert created.body["webhook"] == "https://videos.example.com/hook"
    assert created.body["webhook_events_filter"] == ["completed"]
    given = created.body["input"]
    # The 8 s scene asks for the 10 s clip (an integer, as the model's schema has it).
    assert given["duration"] == 10
    assert given["mode"] == "standard"
    assert given["prompt"] == rainy.plan.prompt
    assert given["negative_prompt"] == rainy.plan.negative_prompt
    assert given["start_image"].startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640
    assert next(r.path for r in replicate.requests if r.method == "GET") == (
        f"/v1/predictions/{submitted.job_id}"
    )


def test_a_custom_model_gets_its_own_input_names(replicate: FakeReplicate, tmp_path: Path) -> None:
    replicate.output_as_list = True  # this model answers a list of files
    adapter = backend(
        replicate,
        model="minimax/video-01",
        inputs={"prompt": "prompt", "first_frame_image": "image"},
        extra_inputs={"prompt_optimizer": False},
    )
    submitted = adapter.submit(job())
    created = replicate.requests[-1]
    assert created.path == "/v1/models/minimax/video-01/predictions"
    assert set(created.body["input"]) == {"prompt", "first_frame_image", "prompt_optimizer"}
    assert created.body["input"]["first_frame_image"].startswith("data:image/")
    assert "webhook" not in created.body
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    assert probe(adapter.download(status, tmp_path / "out.mp4")).width == 640


def test_a_pinned_version_is_created_through_predictions(replicate: FakeReplicate) -> None:
    adapter = backend(
        replicate,
        model=f"minimax/video-01:{MINIMAX_VERSION}",
        inputs={"prompt": "prompt", "first_frame_image": "image"},
    )
    submitted = adapter.submit(job())
    created = replicate.requests[-1]
    assert created.path == "/v1/predictions" and created.body["version"] == MINIMAX_VERSION
    assert run_to_end(adapter, submitted).state == "succeeded"


def test_the_model_and_its_inputs_are_in_the_fingerprint(replicate: FakeReplicate) -> None:
    kling = backend(replicate).option_fingerprint()
    pro = backend(replicate, extra_inputs={"mode": "pro"}).option_fingerprint()
    minimax = backend(
        replicate, model="minimax/video-01", inputs={"prompt": "prompt"}
    ).option_fingerprint()
    assert kling["model"] == "kwaivgi/kling-v2.1" and kling["inputs"]["start_image"] == "image"
    assert len({repr(kling), repr(pro), repr(minimax)}) == 3


def test_another_model_without_an_input_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="inputs"):
        ReplicateBackend(alias="replicate", model="minimax/video-01")
    with pytest.raises(ValueError, match="one of"):
        ReplicateBackend(alias="replicate", inputs={"prompt": "the prompt"})


def test_429_then_success_retries_the_same_request(replicate: FakeReplicate) -> None:
    replicate.throttled = 2
    submitted = backend(replicate).submit(job())
    assert submitted.job_id and replicate.created == 1
    assert len([r for r in replicate.requests if r.method == "POST"]) == 3


def test_the_throttling_answer_says_when_to_come_back(replicate: FakeReplicate) -> None:
    replicate.throttled, replicate.throttle_retry_after = 1, False
    response = requests.post(
        f"{replicate.url}/v1/models/kwaivgi/kling-v2.1/predictions",
        json={"input": {}},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=5,
    )
    failure = backend(replicate).classify(response, response.json())
    assert failure is not None and failure.kind == "transient"
    assert failure.retry_after == 1.0 and "throttled" in str(failure)


def test_a_5xx_storm_longer_than_the_retries_is_transient(replicate: FakeReplicate) -> None:
    replicate.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(replicate).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert replicate.created == 0


def test_a_timeout_is_retried(replicate: FakeReplicate) -> None:
    replicate.stall_seconds = 1.5
    replicate.fault("timeout", times=1)
    assert backend(replicate).submit(job()).job_id
    assert replicate.created == 1


def test_moderation_refusal_is_final_with_the_providers_reason(replicate: FakeReplicate) -> None:
    replicate.outcome = "moderation"
    adapter = backend(replicate)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert "flagged as sensitive" in str(status.failure) and status.failure.code == "E005"


def test_a_failed_prediction_is_final_and_not_moderation(replicate: FakeReplicate) -> None:
    replicate.outcome = "failed"
    adapter = backend(replicate)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "invalid" and "internal rendering error" in str(status.failure)


def test_a_wrong_token_is_an_auth_failure_not_retried(replicate: FakeReplicate) -> None:
    adapter = ReplicateBackend(
        alias="replicate", api_key="r8_wrong", base_url=replicate.url, retries=3, backoff=0.01
    )
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.status == 401
    assert len(replicate.requests) == 1


def test_no_credit_is_a_funds_failure(replicate: FakeReplicate) -> None:
    replicate.out_of_credit = True
    with pytest.raises(ProviderFailure) as failure:
        backend(replicate).submit(job())
    assert failure.value.kind == "funds" and "insufficient credit" in str(failure.value)


def test_a_missing_image_is_named_by_the_provider(replicate: FakeReplicate) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(replicate).submit(job(image=False))
    assert failure.value.kind == "invalid" and "start_image is required" in str(failure.value)
    assert len(replicate.requests) == 1


def test_an_expired_output_is_a_final_failure_of_the_download(
    replicate: FakeReplicate, tmp_path: Path
) -> None:
    adapter = backend(replicate)
    status = run_to_end(adapter, adapter.submit(job()))
    replicate.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_the_webhook_body_is_read_like_a_poll(replicate: FakeReplicate) -> None:
    adapter = backend(replicate)
    submitted = adapter.submit(job())
    prediction = replicate.jobs[submitted.job_id]
    job_id, status = adapter.webhook(replicate.prediction(prediction, "succeeded"), {})
    assert job_id == submitted.job_id and status.state == "succeeded"
    assert status.output_url == replicate.output_url(prediction)
    replicate.outcome = "moderation"
    _, refused = adapter.webhook(replicate.prediction(prediction, "failed"), {})
    assert refused.failure is not None and refused.failure.kind == "moderation"


def test_webhook_signatures_are_verified(replicate: FakeReplicate) -> None:
    adapter = backend(replicate, webhook_secret=WEBHOOK_SECRET)
    submitted = adapter.submit(job())
    body = replicate.prediction(replicate.jobs[submitted.job_id], "succeeded")
    raw, headers = replicate.signed_delivery(body)
    assert adapter.verify_webhook(raw, headers)
    # Header names in any case (Django's request.headers, or a plain dict).
    assert adapter.verify_webhook(raw, {k.upper(): v for k, v in headers.items()})
    # A rotated secret: one of the listed signatures is ours.
    other = "whsec_" + base64.b64encode(b"the-previous-replicate-secret!!!").decode()
    _, old = replicate.signed_delivery(
        body, secret=other, timestamp=int(headers["webhook-timestamp"])
    )
    both = {
        **headers,
        "webhook-signature": f"{old['webhook-signature']} {headers['webhook-signature']}",
    }
    assert adapter.verify_webhook(raw, both)

    tampered = raw.replace(b'"succeeded"', b'"failed"')
    assert not adapter.verify_webhook(tampered, headers)
    _, forged = replicate.signed_delivery(body, secret=other)
    assert not adapter.verify_webhook(raw, forged)
    stale_raw, stale = replicate.signed_delivery(body, timestamp=int(time.time()) - 6 * 60)
    assert not adapter.verify_webhook(stale_raw, stale)
    assert not adapter.verify_webhook(raw, {"webhook-id": headers["webhook-id"]})


def test_a_delivery_from_the_future_or_malformed_is_refused(replicate: FakeReplicate) -> None:
    adapter = backend(replicate, webhook_secret=WEBHOOK_SECRET)
    body = {"id": "r8-1", "status": "succeeded", "output": "https://example.com/v.mp4"}
    ahead_raw, ahead = replicate.signed_delivery(body, timestamp=int(time.time()) + 6 * 60)
    assert not adapter.verify_webhook(ahead_raw, ahead)
    raw, headers = replicate.signed_delivery(body)
    assert not adapter.verify_webhook(raw, {**headers, "webhook-timestamp": "soon"})
    assert not adapter.verify_webhook(raw, {**headers, "webhook-signature": "v1"})
    assert not adapter.verify_webhook(raw, {**headers, "webhook-signature": "v1,not base64!"})
    # Only v1 (HMAC) signatures count: a v1a (asymmetric) one with the same bytes does not.
    v1a = headers["webhook-signature"].replace("v1,", "v1a,")
    assert not adapter.verify_webhook(raw, {**headers, "webhook-signature": v1a})
    assert not adapter.verify_webhook(b"\xff" + raw, headers)


def test_a_secret_that_is_not_base64_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        ReplicateBackend(alias="replicate", webhook_secret="whsec_not base64!")


def test_without_a_secret_webhooks_pass_and_that_is_logged_once(
    replicate: FakeReplicate, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = backend(replicate)
    with caplog.at_level(logging.WARNING, logger="providers.replicate"):
        assert adapter.verify_webhook(b"{}", {})
        assert adapter.verify_webhook(b"{}", {})
    assert len([r for r in caplog.records if "not verified" in r.getMessage()]) == 1
