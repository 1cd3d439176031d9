"""The Luma adapter against a local server speaking Luma's protocol, over real HTTP."""

from collections.abc import Iterator
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from catalog.models import Merchant, Product
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.luma import LumaBackend
from providers.remote import JobStatus, ProviderFailure, Submitted
from tests.support.factories import photo_bytes
from tests.support.protocols.fake_luma import API_KEY, MODERATION_REASON, FakeLuma
from tests.support.protocols.fixtures import serve
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe


@pytest.fixture
def luma(provider_mp4: bytes) -> Iterator[FakeLuma]:
    yield from serve(FakeLuma(provider_mp4))


def backend(server: FakeLuma, **options: object) -> LumaBackend:
    return LumaBackend(
        alias="luma",
        api_key=API_KEY,
        base_url=server.url,
        timeout=1.0,
        retries=3,
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


def job(*, image: bool = True, image_url: str = "", aspect: str = "16:9") -> RenderJob:
    """The rainy scene of a rain jacket, as the planner makes it; ``image_url`` is the public
    URL the rendering core presigns for providers that fetch the image themselves."""
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
    hashes = {"product_image_url": image_url} if image_url else {}
    return RenderJob(
        plan=plan,
        profile=OutputProfile(aspect=aspect, width=320, height=180, fps=15),
        assets=RenderAssets(
            product_image=photo_bytes(size=(600, 800)) if image else None, hashes=hashes
        ),
    )


def published_job(server: FakeLuma, adapter: LumaBackend) -> RenderJob:
    """A job whose product image the core has stored and presigned, as Luma needs it."""
    bare = job()
    prepared = adapter.image_to_publish(bare)
    assert prepared is not None
    data, mime = prepared
    return job(image_url=server.store("product-cutout.png", data, mime))


def run_to_end(adapter: LumaBackend, submitted: Submitted, polls: int = 10) -> JobStatus:
    for _ in range(polls):
        status = adapter.poll(submitted)
        if status.state != "running":
            return status
    pytest.fail("the job never finished")


def test_image_to_video_runs_from_submit_to_a_downloaded_mp4(
    luma: FakeLuma, tmp_path: Path
) -> None:
    adapter = backend(luma)
    render_job = published_job(luma, adapter)
    submitted = adapter.submit(
        render_job, callback_url="https://videos.example.com/hook", reference="seg-1"
    )
    created = next(r for r in luma.requests if r.method == "POST")
    assert created.path == "/dream-machine/v1/generations"
    assert created.headers["authorization"] == f"Bearer {API_KEY}"
    # The 8 s scene asks for the 9 s clip (trimmed when normalized).
    assert created.body == {
        "model": "ray-2",
        "prompt": render_job.plan.prompt,
        "aspect_ratio": "16:9",
        "duration": "9s",
        "resolution": "720p",
        "keyframes": {
            "frame0": {"type": "image", "url": render_job.assets.hashes["product_image_url"]}
        },
        "callback_url": "https://videos.example.com/hook",
    }
    # Luma fetched the published image itself.
    assert any(r.path == "/storage/product-cutout.png" for r in luma.requests)
    status = run_to_end(adapter, submitted)
    assert status.state == "succeeded"
    out = adapter.download(status, tmp_path / "out.mp4")
    assert probe(out).width == 640


def test_the_published_image_is_flattened_for_luma(luma: FakeLuma) -> None:
    prepared = backend(luma).image_to_publish(job())
    assert prepared is not None
    with Image.open(BytesIO(prepared[0])) as image:
        assert image.mode == "RGB" and min(image.size) >= 300


@pytest.mark.parametrize("image_url", ["", "/media/products/jacket.png"])
def test_a_product_image_without_a_public_url_is_refused_before_anything_is_paid(
    luma: FakeLuma, image_url: str
) -> None:
    # A text-only clip would be cached as the product's and never redone: the segment goes
    # to the next backend of the fallback chain instead.
    with pytest.raises(ProviderFailure) as failure:
        backend(luma).submit(job(image_url=image_url))
    assert failure.value.kind == "invalid" and "public URL" in str(failure.value)
    assert luma.created == 0


def test_a_job_without_a_product_image_is_text_to_video_in_the_profiles_aspect(
    luma: FakeLuma,
) -> None:
    backend(luma).submit(job(image=False, aspect="9:16"))
    body = luma.requests[-1].body
    assert "keyframes" not in body and body["aspect_ratio"] == "9:16"


def test_an_image_url_luma_cannot_load_is_a_final_invalid_failure(luma: FakeLuma) -> None:
    with pytest.raises(ProviderFailure) as failure:
        backend(luma).submit(job(image_url=f"{luma.url}/storage/missing.png"))
    assert failure.value.kind == "invalid" and failure.value.final
    assert "Failed to load image" in str(failure.value)
    assert luma.created == 0


def test_429_then_success_retries_the_same_request(luma: FakeLuma) -> None:
    luma.fault("429", times=2, prefix="/dream-machine/v1/generations")
    submitted = backend(luma).submit(job(image=False))
    assert submitted.job_id and luma.created == 1
    assert len([r for r in luma.requests if r.method == "POST"]) == 3


def test_a_5xx_storm_longer_than_the_retries_is_transient(luma: FakeLuma) -> None:
    luma.fault("503", times=10)
    with pytest.raises(ProviderFailure) as failure:
        backend(luma).submit(job(image=False))
    assert failure.value.kind == "transient" and not failure.value.final
    assert luma.created == 0


def test_a_timeout_is_retried(luma: FakeLuma) -> None:
    luma.stall_seconds = 1.5
    luma.fault("timeout", times=1)
    assert backend(luma).submit(job(image=False)).job_id
    assert luma.created == 1


def test_moderation_refusal_is_final_with_the_providers_reason(luma: FakeLuma) -> None:
    luma.outcome = "moderation"
    adapter = backend(luma)
    status = run_to_end(adapter, adapter.submit(job(image=False)))
    assert status.state == "failed" and status.failure is not None
    assert status.failure.kind == "moderation" and status.failure.final
    assert "advanced moderation failed" in str(status.failure)


def test_a_failed_generation_is_final_but_not_moderation(luma: FakeLuma) -> None:
    luma.outcome = "failed"
    adapter = backend(luma)
    status = run_to_end(adapter, adapter.submit(job(image=False)))
    assert status.failure is not None and status.failure.kind == "invalid"


def test_a_wrong_key_is_an_auth_failure_not_retried(luma: FakeLuma) -> None:
    adapter = LumaBackend(alias="luma", api_key="wrong", base_url=luma.url, retries=3, backoff=0.01)
    with pytest.raises(ProviderFailure) as failure:
        adapter.submit(job(image=False))
    assert failure.value.kind == "auth" and failure.value.status == 401
    assert "Invalid API key" in str(failure.value)
    assert len(luma.requests) == 1


def test_an_expired_output_is_a_final_failure_of_the_download(
    luma: FakeLuma, tmp_path: Path
) -> None:
    adapter = backend(luma)
    status = run_to_end(adapter, adapter.submit(job(image=False)))
    luma.expired = True
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProviderFailure) as failure:
        adapter.download(status, out / "clip.mp4")
    assert failure.value.kind == "invalid" and "expired" in str(failure.value)
    assert not list(out.iterdir()), "no half-written file is left behind"


def test_the_webhook_body_is_read_like_a_poll(luma: FakeLuma) -> None:
    adapter = backend(luma)
    submitted = adapter.submit(job(image=False))
    generation = luma.jobs[submitted.job_id]

    job_id, status = adapter.webhook(luma.callback_body(generation, "dreaming"), {})
    assert job_id == submitted.job_id and status.state == "running"

    job_id, status = adapter.webhook(luma.callback_body(generation, "completed"), {})
    assert job_id == submitted.job_id and status.state == "succeeded"
    assert status.output_url == luma.output_url(generation)

    luma.outcome = "moderation"
    _, status = adapter.webhook(luma.callback_body(generation, "failed"), {})
    assert status.failure is not None and status.failure.kind == "moderation"
    assert MODERATION_REASON in str(status.failure)


def test_an_unknown_resolution_is_refused_when_configured(luma: FakeLuma) -> None:
    with pytest.raises(ValueError, match="resolution"):
        backend(luma, resolution="8k")
