"""The Veo (Gemini API) adapter against a local server speaking Google's protocol, over real
HTTP."""

import base64
import io
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from PIL import Image

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.remote import JobStatus, ProviderFailure, Submitted
from providers.veo import VeoBackend
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_veo import API_KEY, REFUSAL, FakeVeo
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def veo(provider_mp4: bytes) -> Iterator[FakeVeo]:
    yield from serve(FakeVeo(provider_mp4))


def backend(server: FakeVeo, **options: object) -> VeoBackend:
    settings: dict[str, object] = {"timeout": 1.0, "retries": 3, "backoff": 0.01, **options}
    return VeoBackend(alias="veo", api_key=API_KEY, base_url=server.url, **settings)  # type: ignore[arg-type]


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


def run_to_end(adapter: VeoBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(veo: FakeVeo, tmp_path: Path) -> None:
    adapter = backend(veo)
    submitted = adapter.submit(job(seed=11))
    created = veo.requests[-1]
    assert created.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert created.headers["x-goog-api-key"] == API_KEY and "authorization" not in created.headers
    assert submitted.job_id.startswith("models/veo-3.1-generate-preview/operations/")
    [instance] = created.body["instances"]
    assert instance["prompt"] == job().plan.prompt
    # Base64 bytes with their type, never ``inlineData``; the cutout flattened on white.
    assert set(instance["image"]) == {"bytesBase64Encoded", "mimeType"}
    with Image.open(io.BytesIO(base64.b64decode(instance["image"]["bytesBase64Encoded"]))) as sent:
        assert sent.mode == "RGB" and sent.size == (600, 800)
        assert instance["image"]["mimeType"] == f"image/{sent.format.lower()}"
    assert created.body["parameters"] == {
        "aspectRatio": "16:9",
        "resolution": "720p",
        "durationSeconds": 8,
        "seed": 11,
        "negativePrompt": job().plan.negative_prompt,
    }
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640
    assert veo.requests[-1].headers["x-goog-api-key"] == API_KEY


def test_the_download_needs_the_key(veo: FakeVeo, tmp_path: Path) -> None:
    adapter = backend(veo)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.download_headers == {"x-goog-api-key": API_KEY}
    assert requests.get(status.output_url, timeout=5).status_code == 403
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure):
        adapter.download(replace(status, download_headers={}), out / "clip.mp4")
    assert not list(out.iterdir())


def test_the_key_never_goes_to_a_file_on_another_host(veo: FakeVeo) -> None:
    adapter = backend(veo)
    assert adapter._file_headers("https://storage.example.com/clip.mp4") == {}


@pytest.mark.parametrize(("aspect", "sent"), [("9:16", "9:16"), ("1:1", "16:9")])
def test_the_aspect_follows_the_profile(veo: FakeVeo, aspect: str, sent: str) -> None:
    # Veo has no square: a square job gets the landscape clip, cropped when normalized.
    backend(veo).submit(job(aspect=aspect))
    assert veo.requests[-1].body["parameters"]["aspectRatio"] == sent


def test_text_to_video_without_an_image_sends_only_the_prompt(veo: FakeVeo) -> None:
    backend(veo).submit(job(image=False))
    [instance] = veo.requests[-1].body["instances"]
    assert instance == {"prompt": job().plan.prompt}


def test_inline_data_is_refused_by_the_fake(veo: FakeVeo) -> None:
    answer = requests.post(
        f"{veo.url}/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
        headers={"x-goog-api-key": API_KEY},
        json={"instances": [{"prompt": "a", "image": {"inlineData": {"data": "AA=="}}}]},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_429_then_success_retries_the_same_request(veo: FakeVeo) -> None:
    veo.fault("429", times=2, prefix="/v1beta/models/")
    submitted = backend(veo).submit(job())
    assert submitted.job_id and veo.created == 1
    assert len([r for r in veo.requests if r.method == "POST"]) == 3


def test_resource_exhausted_is_transient(veo: FakeVeo) -> None:
    veo.refuse_with = "RESOURCE_EXHAUSTED"
    # The quota answer is retried; the next attempt goes through.
    assert backend(veo).submit(job()).job_id
    assert veo.created == 1
    veo.refuse_with = "RESOURCE_EXHAUSTED"
    with pytest.raises(ProviderFailure) as failure:
        backend(veo, retries=0).submit(job())
    assert failure.value.kind == "transient" and failure.value.code == "RESOURCE_EXHAUSTED"


def test_a_5xx_storm_longer_than_the_retries_is_transient(veo: FakeVeo) -> None:
    veo.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(veo).submit(job())
    assert failure.value.kind == "transient" and not failure.value.final
    assert veo.created == 0


def test_a_timeout_is_retried(veo: FakeVeo) -> None:
    veo.stall_seconds = 1.5
    veo.fault("timeout", times=1)
    assert backend(veo).submit(job()).job_id
    assert veo.created == 1


def test_a_safety_refusal_is_final_moderation_with_googles_reason(veo: FakeVeo) -> None:
    veo.outcome = "moderation"
    adapter = backend(veo)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert REFUSAL in str(status.failure)


def test_an_operation_that_failed_inside_google_is_transient(veo: FakeVeo) -> None:
    veo.outcome = "failed"
    adapter = backend(veo)
    status = run_to_end(adapter, adapter.submit(job()))
    assert status.failure is not None
    assert status.failure.kind == "transient" and status.failure.code == "INTERNAL"


def test_a_bad_parameter_is_final(veo: FakeVeo) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(veo, model="veo-9").submit(job())
    assert failure.value.kind == "invalid" and failure.value.code == "NOT_FOUND"
    assert len(veo.requests) == 1


def test_a_wrong_key_is_an_auth_failure_not_retried(veo: FakeVeo) -> None:
    # Google answers a wrong key 400 INVALID_ARGUMENT; its ErrorInfo says API_KEY_INVALID.
    adapter = VeoBackend(alias="veo", api_key="AIza-wrong", base_url=veo.url, backoff=0.01)
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.status == 400
    assert len(veo.requests) == 1


def test_a_missing_key_is_an_auth_failure_not_retried(veo: FakeVeo) -> None:
    adapter = VeoBackend(alias="veo", api_key="", base_url=veo.url, backoff=0.01)
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job())
    assert failure.value.kind == "auth" and failure.value.code == "PERMISSION_DENIED"
    assert len(veo.requests) == 1


def test_an_expired_output_is_a_final_failure_of_the_download(veo: FakeVeo, tmp_path: Path) -> None:
    adapter = backend(veo)
    status = run_to_end(adapter, adapter.submit(job()))
    veo.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_veo_sends_no_webhooks(veo: FakeVeo) -> None:
    adapter = backend(veo)
    assert adapter.webhooks is False
    with pytest.raises(NotImplementedError):
        adapter.webhook({}, {})
