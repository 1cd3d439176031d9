"""The Runway adapter against a local server speaking Runway's protocol, over real HTTP."""

import base64
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from PIL import Image

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.remote import JobStatus, ProviderFailure, Submitted
from providers.runway import RunwayBackend
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_runway import SECRET, FakeRunway
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def runway(provider_mp4: bytes) -> Iterator[FakeRunway]:
    yield from serve(FakeRunway(provider_mp4))


def backend(server: FakeRunway, **options: object) -> RunwayBackend:
    settings: dict[str, object] = {"timeout": 1.0, "retries": 3, "backoff": 0.01, **options}
    return RunwayBackend(alias="runway", api_key=SECRET, base_url=server.url, **settings)  # type: ignore[arg-type]


def job(*, image: bool = True, aspect: str = "16:9", seed: int = 0) -> RenderJob:
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
        seed=seed,
    )


def run_to_end(adapter: RunwayBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(
    runway: FakeRunway, tmp_path: Path
) -> None:
    adapter = backend(runway)
    submitted = adapter.submit(job(seed=7))
    created = runway.requests[-1]
    assert created.path == "/v1/image_to_video"
    assert created.headers["x-runway-version"] == "2024-11-06"
    # The 8 s scene asks for the 10 s clip (trimmed when normalized).
    assert created.body["model"] == "gen4_turbo" and created.body["duration"] == 10
    assert created.body["ratio"] == "1280:720" and created.body["seed"] == 7
    assert created.body["promptText"] == job().plan.prompt
    # A data URI of a flattened image, not the transparent cutout.
    header, _, data = created.body["promptImage"].partition(",")
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    with Image.open(io.BytesIO(base64.b64decode(data))) as sent:
        assert sent.mode == "RGB" and sent.size == (600, 800)
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640
    # The signed output URL is fetched without Runway's key.
    assert "authorization" not in runway.requests[-1].headers


@pytest.mark.parametrize(("aspect", "ratio"), [("9:16", "720:1280"), ("1:1", "960:960")])
def test_the_ratio_follows_the_profile(runway: FakeRunway, aspect: str, ratio: str) -> None:
    backend(runway).submit(job(aspect=aspect))
    assert runway.requests[-1].body["ratio"] == ratio


def test_text_to_video_without_an_image_uses_the_text_model(runway: FakeRunway) -> None:
    backend(runway).submit(job(image=False, aspect="1:1"))
    created = runway.requests[-1]
    assert created.path == "/v1/text_to_video"
    assert created.body["model"] == "veo3.1" and "promptImage" not in created.body
    # Runway's Veo has no square ratio and makes 4, 6 or 8 s: the landscape 8 s clip.
    assert created.body["ratio"] == "1280:720" and created.body["duration"] == 8


def test_the_fake_refuses_a_call_without_the_version_header(runway: FakeRunway) -> None:
    answer = requests.get(
        f"{runway.url}/v1/tasks/x", headers={"Authorization": f"Bearer {SECRET}"}, timeout=5
    )
    assert answer.status_code == 400 and "X-Runway-Version" in answer.json()["error"]


def test_progress_is_reported_while_running(runway: FakeRunway) -> None:
    runway.polls_to_finish = 5
    adapter = backend(runway)
    submitted = adapter.submit(job())
    seen = [adapter.poll(submitted) for _ in range(5)]
    assert [s.state for s in seen] == ["running"] * 4 + ["succeeded"]
    assert [s.progress for s in seen[2:4]] == [0.6, 0.8]


def test_429_then_success_retries_the_same_request(runway: FakeRunway) -> None:
    runway.fault("429", times=2, prefix="/v1/image_to_video")
    submitted = backend(runway).submit(job())
    assert submitted.job_id and runway.created == 1
    assert len([r for r in runway.requests if r.method == "POST"]) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(runway: FakeRunway) -> None:
    runway.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(runway).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert runway.created == 0


def test_a_timeout_is_retried(runway: FakeRunway) -> None:
    runway.stall_seconds = 1.5
    runway.fault("timeout", times=1)
    assert backend(runway).submit(job()).job_id
    assert runway.created == 1


def test_moderation_refusal_is_final_with_the_providers_reason(runway: FakeRunway) -> None:
    runway.outcome = "moderation"
    adapter = backend(runway)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert status.failure.code == "SAFETY.INPUT.IMAGE"
    assert "content moderation" in str(status.failure)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("SAFETY.OUTPUT.VIDEO", "moderation"),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", "moderation"),
        ("INTERNAL.BAD_OUTPUT.CODE01", "invalid"),
        ("INPUT_PREPROCESSING.INTERNAL", "transient"),
        ("INTERNAL", "transient"),
        ("ASSET.INVALID", "invalid"),
    ],
)
def test_a_failed_task_is_classified_by_its_failure_code(
    runway: FakeRunway, code: str, kind: str
) -> None:
    runway.outcome, runway.failure_code = "failed", code
    adapter = backend(runway)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.failure is not None
    assert status.failure.kind == kind and status.failure.code == code


def test_a_wrong_key_is_an_auth_failure_not_retried(runway: FakeRunway) -> None:
    adapter = RunwayBackend(
        alias="runway", api_key="key_wrong", base_url=runway.url, retries=3, backoff=0.01
    )
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.status == 401
    assert len(runway.requests) == 1


def test_a_bad_parameter_is_final_with_runways_explanation(runway: FakeRunway) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(runway, model="gen2").submit(job())
    assert failure.value.kind == "invalid" and "gen2" in str(failure.value)
    assert len(runway.requests) == 1


def test_an_empty_credit_balance_is_a_funds_failure(runway: FakeRunway) -> None:
    runway.credits = False
    with pytest.raises(ProviderFailure) as failure:
        backend(runway).submit(job())
    assert failure.value.kind == "funds" and failure.value.final


def test_an_expired_output_is_a_final_failure_of_the_download(
    runway: FakeRunway, tmp_path: Path
) -> None:
    adapter = backend(runway)
    status = run_to_end(adapter, adapter.submit(job()))
    runway.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_runway_sends_no_webhooks(runway: FakeRunway) -> None:
    adapter = backend(runway)
    assert adapter.webhooks is False
    with pytest.raises(NotImplementedError):
        adapter.webhook({}, {})
