"""The brand kit: colors, logo, font, music and call to action, through the service and the
admin form; the content hashes segment keys depend on stay true."""

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import BrandKit
from catalog.services import brand_kit_update, membership_grant
from tests.support.factories import make_merchant, photo_bytes

pytestmark = pytest.mark.django_db


def wav_bytes(seconds: float = 1.0) -> bytes:
    rate = 22050
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_music_and_call_to_action_are_stored_with_their_hash() -> None:
    merchant = make_merchant()
    kit = brand_kit_update(
        merchant=merchant, music=("theme.wav", wav_bytes()), call_to_action="Get yours"
    )
    assert kit.music.name.endswith(".wav") and len(kit.music_hash) == 64
    assert kit.call_to_action == "Get yours"
    cleared = brand_kit_update(merchant=merchant, music=False)
    assert not cleared.music and cleared.music_hash == ""


def test_a_file_that_is_not_music_is_refused_and_nothing_is_stored(media_root: Path) -> None:
    merchant = make_merchant()
    with pytest.raises(ValidationError, match=r"notes\.txt"):
        brand_kit_update(
            merchant=merchant, music=("notes.txt", b"la la la"), primary_color="#000000"
        )
    kit = BrandKit.objects.get(merchant=merchant)
    assert not kit.music and kit.primary_color != "#000000"  # nothing half-applied
    assert not [path for path in media_root.rglob("*") if path.is_file()]


def test_admin_upload_goes_through_the_service_and_refuses_bad_files(client) -> None:  # type: ignore[no-untyped-def]
    merchant = make_merchant()
    owner = get_user_model().objects.create_user("owner", password="x", is_staff=True)
    membership_grant(merchant=merchant, user=owner)
    client.force_login(owner)
    kit = BrandKit.objects.get(merchant=merchant)
    url = reverse("admin:catalog_brandkit_change", args=[kit.pk])
    form = {
        "primary_color": "#112233",
        "secondary_color": "#FFAA00",
        "call_to_action": "Shop the look",
    }

    bad = client.post(url, {**form, "font": SimpleUploadedFile("brand.ttf", b"not a font")})
    assert bad.status_code == 200
    assert "brand.ttf" in bad.content.decode()
    kit.refresh_from_db()
    assert not kit.font and kit.call_to_action != "Shop the look"

    good = client.post(
        url, {**form, "logo": SimpleUploadedFile("logo.png", photo_bytes("#112233"))}
    )
    assert good.status_code == 302
    kit.refresh_from_db()
    assert kit.logo and len(kit.logo_hash) == 64  # the outro's key follows the new logo
    assert kit.call_to_action == "Shop the look"
