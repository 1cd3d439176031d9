"""Segments: content-addressed keys, rendering once, and what the rendered file looks like."""

from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage

from catalog.services import product_image_add, product_update
from personalization.context import ShopperContext
from rendering.models import Segment, Video
from rendering.services import segment_render, segment_specs, video_assemble, video_request
from tests.support.factories import make_merchant, make_product, photo_bytes
from tests.support.frames import frame_at, is_faststart
from videokit.media import probe

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def keys(product, context: str, aspect: str = "16:9") -> dict[str, str]:  # type: ignore[no-untyped-def]
    specs = segment_specs(product=product, context=ShopperContext.parse(context), aspect=aspect)
    return {spec.plan.kind: spec.key for spec in specs}


def render_video(product, context: str = "", aspect: str = "16:9") -> Video:  # type: ignore[no-untyped-def]
    request = video_request(product=product, context=ShopperContext.parse(context), aspect=aspect)
    for segment in request.segments:
        segment_render(segment=segment)
    return video_assemble(video=request.video)


def local_path(field_file) -> Path:  # type: ignore[no-untyped-def]
    return Path(default_storage.path(field_file.name))


def test_keys_are_stable_and_shared_where_the_pixels_are() -> None:
    product = make_product(make_merchant())
    rainy, sunny = keys(product, "climate=rainy"), keys(product, "climate=sunny")
    assert rainy == keys(product, "climate=rainy")
    assert rainy["hero"] == sunny["hero"]
    assert rainy["scene"] != sunny["scene"]
    assert keys(product, "climate=rainy", "9:16")["hero"] != rainy["hero"]


def test_a_price_change_rerenders_only_the_offer_a_new_image_only_product_shots() -> None:
    product = make_product(make_merchant())
    before = keys(product, "climate=rainy")
    product_update(product=product, price="99.00")
    repriced = keys(product, "climate=rainy")
    assert {kind for kind in before if before[kind] != repriced[kind]} == {"offer"}
    before = repriced
    product.images.all().delete()
    product_image_add(product=product, filename="new.png", content=photo_bytes("#2E86AB"))
    after = keys(product, "climate=rainy")
    assert {kind for kind in before if before[kind] != after[kind]} == {"hero", "scene", "offer"}


def test_segments_of_two_merchants_never_share_a_key() -> None:
    a = make_product(make_merchant(), sku="SAME")
    b = make_product(make_merchant(), sku="SAME")
    assert keys(a, "climate=rainy")["scene"] != keys(b, "climate=rainy")["scene"]


def test_rendered_segment_is_a_house_format_mp4() -> None:
    product = make_product(make_merchant())
    request = video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    )
    scene = segment_render(segment=request.segments[1])
    assert scene.status == Segment.Status.READY
    assert scene.file.name == f"segments/{scene.key[:2]}/{scene.key}.mp4"
    found = probe(local_path(scene.file))
    assert (found.width, found.height, found.codec, found.pix_fmt) == (320, 180, "h264", "yuv420p")
    assert found.fps == 15
    assert found.duration == pytest.approx(1.0, abs=0.1)


def test_a_ready_segment_is_never_rendered_again() -> None:
    product = make_product(make_merchant())
    request = video_request(product=product, context=ShopperContext(), aspect="16:9")
    first = segment_render(segment=request.segments[0])
    path = local_path(first.file)
    stamp = path.stat().st_mtime_ns
    again = segment_render(segment=Segment.objects.get(pk=first.pk))
    assert again.rendered_at == first.rendered_at
    assert again.attempts == 1
    assert path.stat().st_mtime_ns == stamp
    # Asking for the same video again finds everything cached.
    repeat = video_request(product=product, context=ShopperContext(), aspect="16:9")
    assert [s.pk for s in repeat.segments] == [s.pk for s in request.segments]
    assert first.pk not in [s.pk for s in repeat.to_render]


def test_rainy_and_sunny_scenes_look_different() -> None:
    product = make_product(make_merchant())
    rainy = render_video(product, "climate=rainy")
    sunny = render_video(product, "climate=sunny")
    a = frame_at(local_path(rainy.file), 1.5).astype(float)
    b = frame_at(local_path(sunny.file), 1.5).astype(float)
    assert np.abs(a - b).mean() > 20
    # Sun is warm (red over blue), rain is cool (blue over red).
    assert b[..., 0].mean() - b[..., 2].mean() > a[..., 0].mean() - a[..., 2].mean() + 10


def test_the_product_is_in_the_frame() -> None:
    product = make_product(make_merchant(), color="#E4572E")
    video = render_video(product, "climate=snowy")
    frame = frame_at(local_path(video.file), 0.5).astype(int)
    orange = (
        (abs(frame[..., 0] - 0xE4) < 40)
        & (abs(frame[..., 1] - 0x57) < 40)
        & (abs(frame[..., 2] - 0x2E) < 40)
    )
    assert orange.sum() > 300


def test_assembled_video_plays_all_four_segments_with_music_and_a_poster() -> None:
    product = make_product(make_merchant())
    video = render_video(product, "climate=rainy,aesthetic=cozy", aspect="9:16")
    assert video.status == Video.Status.READY
    path = local_path(video.file)
    found = probe(path)
    assert (found.width, found.height, found.codec, found.pix_fmt) == (180, 320, "h264", "yuv420p")
    assert found.duration == pytest.approx(4.0, abs=0.15)
    assert found.has_audio and found.audio_codec == "aac"
    assert is_faststart(path)
    # Published at once (no approval required): stored under the public prefix.
    assert video.file.name.startswith(f"public/videos/{product.merchant.slug}/")
    from PIL import Image

    with Image.open(local_path(video.poster)) as poster:
        assert poster.format == "JPEG" and poster.size == (180, 320)


def test_video_request_is_idempotent_and_rerenders_only_what_changed() -> None:
    product = make_product(make_merchant())
    video = render_video(product, "climate=rainy")
    again = video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    )
    assert again.video.pk == video.pk and again.video.status == Video.Status.READY
    assert again.to_render == []
    product.images.all().delete()
    product_image_add(product=product, filename="new.png", content=photo_bytes("#3B7A57"))
    changed = video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    )
    assert changed.video.pk == video.pk
    assert changed.video.status == Video.Status.PENDING
    # Hero, scene and offer show the product; the outro (logo and call to action) is reused.
    assert [s.kind for s in changed.to_render] == ["hero", "scene", "offer"]
    assert Video.objects.count() == 1


def test_a_failed_render_is_recorded_on_segment_and_video() -> None:
    product = make_product(make_merchant())
    request = video_request(product=product, context=ShopperContext(), aspect="16:9")
    product.images.all().delete()  # the image the plan was made with is gone
    with pytest.raises(Exception, match="no longer exists"):
        segment_render(segment=request.segments[0])
    segment = Segment.objects.get(pk=request.segments[0].pk)
    assert segment.status == Segment.Status.FAILED
    assert "no longer exists" in segment.error
    video = Video.objects.get(pk=request.video.pk)
    assert video.status == Video.Status.FAILED
    assert "hero segment failed" in video.error
    assert not default_storage.exists(f"segments/{segment.key[:2]}/{segment.key}.mp4")


def test_a_render_held_by_a_live_worker_is_left_alone_a_crashed_one_is_reclaimed(settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    product = make_product(make_merchant())
    request = video_request(product=product, context=ShopperContext(), aspect="16:9")
    segment = request.segments[0]
    Segment.objects.filter(pk=segment.pk).update(
        status=Segment.Status.RENDERING, claimed_at=timezone.now()
    )
    untouched = segment_render(segment=segment)
    assert untouched.status == Segment.Status.RENDERING and not untouched.file

    # The worker that claimed it died: past the stale limit another worker takes it over.
    stale = timezone.now() - timedelta(seconds=settings.SCENECART_RENDER_STALE_AFTER + 1)
    Segment.objects.filter(pk=segment.pk).update(claimed_at=stale)
    reclaimed = segment_render(segment=segment)
    assert reclaimed.status == Segment.Status.READY
    assert default_storage.exists(reclaimed.file.name)


def test_a_new_logo_rerenders_only_the_outros() -> None:
    from catalog.services import brand_kit_update

    merchant = make_merchant()
    jacket = make_product(merchant, title="Stormline Rain Jacket")
    mug = make_product(merchant, title="Campfire Enamel Mug", color="#2E86AB")
    before = {p.pk: keys(p, "climate=rainy") for p in (jacket, mug)}
    assert before[jacket.pk]["outro"] == before[mug.pk]["outro"]  # one outro per merchant
    brand_kit_update(merchant=merchant, logo=("logo.png", photo_bytes("#1D3557")))
    for p in (jacket, mug):
        after = keys(p, "climate=rainy")
        assert {kind for kind in after if after[kind] != before[p.pk][kind]} == {"outro"}
