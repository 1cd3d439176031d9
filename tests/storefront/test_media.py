"""Stored media as browsers get it (issue 13, findings 1 and 6): never under a name or type the
uploader chose, never sniffable into a page, and private unless the storefront publishes it."""

import hashlib
from importlib import resources
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from catalog.models import BrandKit
from catalog.services import brand_kit_update, membership_grant
from personalization.services import bucket_policy_update
from tests.catalog.test_brand_kit import wav_bytes
from tests.support.factories import make_merchant, make_product, make_ready_video
from tests.support.migrations import remigrate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]

SCRIPT = b"<html><script>alert(document.cookie)</script></html>"
FONT = (
    resources.files("font_source_sans_pro") / "files" / "SourceSansPro-Semibold.ttf"
).read_bytes()


def staff_client(merchant, username: str = "clerk") -> Client:  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    membership_grant(merchant=merchant, user=user)
    client = Client()
    client.force_login(user)
    return client


def test_a_font_named_like_a_page_is_stored_by_content_and_served_as_a_font(
    client: Client, media_root: Path
) -> None:
    """The attack: a real TTF with a script appended, uploaded as ``pwn.html``."""
    merchant = make_merchant(slug="northwind")
    kit = brand_kit_update(merchant=merchant, font=("pwn.html", FONT + SCRIPT))
    name = kit.font.name
    assert name == f"brand/northwind/{kit.font_hash}.ttf"
    assert "pwn" not in name and not (media_root / "brand/northwind/pwn.html").exists()

    # Its own merchant's staff get it as a font, to download, never to render.
    response = staff_client(merchant).get(kit.font.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "font/ttf"
    assert response["Content-Disposition"] == "attachment"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).endswith(SCRIPT)

    # Nobody else gets anything, not even confirmation that it exists.
    assert client.get(kit.font.url).status_code == 404
    assert staff_client(make_merchant(slug="acme"), "rival").get(kit.font.url).status_code == 404
    assert client.get("/media/brand/northwind/pwn.html").status_code == 404


def test_music_is_named_by_the_format_it_holds(media_root: Path) -> None:
    merchant = make_merchant(slug="northwind")
    kit = brand_kit_update(merchant=merchant, music=("theme.html", wav_bytes()))
    assert kit.music.name == f"brand/northwind/{kit.music_hash}.wav"
    response = staff_client(merchant).get(kit.music.url)
    assert response["Content-Type"] == "audio/wav"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"  # audio plays in the page


def test_a_published_video_is_public_and_one_awaiting_review_is_not(
    client: Client, media_root: Path
) -> None:
    merchant = make_merchant(slug="northwind")
    product = make_product(merchant, sku="JACKET")
    published = make_ready_video(product)
    assert published.file.name.startswith("public/videos/northwind/")
    response = client.get(published.file.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get(published.poster.url)["Content-Type"] == "image/jpeg"

    bucket_policy_update(merchant=merchant, require_approval=True)
    waiting = make_ready_video(product, "climate=rainy")
    assert waiting.file.name.startswith("videos/northwind/")
    assert client.get(waiting.file.url).status_code == 404
    assert client.get(waiting.poster.url).status_code == 404
    # The merchant reviews it in the admin: its own staff can play it.
    assert staff_client(merchant).get(waiting.file.url).status_code == 200


def test_media_paths_cannot_climb_out_of_the_media_root(client: Client, media_root: Path) -> None:
    (media_root.parent / "secret.txt").write_text("operator's secret")
    for path in (
        "/media/../secret.txt",
        "/media/public/../../secret.txt",
        "/media/%2e%2e/secret.txt",
    ):
        assert client.get(path).status_code == 404, path


def test_brand_assets_stored_under_an_uploaders_name_are_renamed_by_content(
    transactional_db: None, media_root: Path
) -> None:
    """Installations from before the fix: migration catalog 0007 moves the files."""
    merchant = make_merchant(slug="northwind")
    old_font = default_storage.save("brand/northwind/pwn.html", ContentFile(FONT + SCRIPT))
    old_music = default_storage.save("brand/northwind/theme.mp4.html", ContentFile(wav_bytes()))
    BrandKit.objects.filter(merchant=merchant).update(font=old_font, music=old_music)
    remigrate(
        "catalog", before="0006_merchant_monthly_budget", after="0007_brand_assets_by_content"
    )
    kit = BrandKit.objects.get(merchant=merchant)
    assert kit.font.name == f"brand/northwind/{hashlib.sha256(FONT + SCRIPT).hexdigest()}.ttf"
    assert kit.music.name.endswith(".wav") and "theme" not in kit.music.name
    assert not default_storage.exists(old_font) and not default_storage.exists(old_music)
    assert default_storage.open(kit.font.name, "rb").read() == FONT + SCRIPT
