"""Routing and money for providers: which backend makes which segment, the merchant's own key
(encrypted at rest, never shown back), and the monthly budget at submission."""

import logging
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from catalog.models import Merchant
from catalog.services import membership_grant
from personalization.context import ShopperContext
from rendering import remote
from rendering.models import ProviderKey, RenderRouting, Segment
from rendering.routing import merchant_backend, provider_key_set, render_routing_update
from rendering.services import segment_specs, video_request
from tests.support.factories import make_merchant, make_product
from tests.support.protocols.fake_kling import ACCESS_KEY, SECRET_KEY, FakeKling
from tests.support.protocols.fixtures import serve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]
KLING = "providers.kling.KlingBackend"


@pytest.fixture
def kling(provider_mp4: bytes, settings: Settings) -> Iterator[FakeKling]:
    """Kling on its protocol server; the installation's own key is wrong on purpose, so only
    a merchant's key gets through."""
    for server in serve(FakeKling(provider_mp4)):
        settings.SCENECART_BACKENDS = {
            **settings.SCENECART_BACKENDS,
            "kling": {
                "BACKEND": KLING,
                "OPTIONS": {
                    "api_key": "installation:wrong-secret-of-32-characters",
                    "base_url": server.url,
                    "retries": 1,
                },
            },
            "studio": {"BACKEND": "providers.local.LocalBackend"},
        }
        settings.SCENECART_PRICES = {"kling": "0.07"}
        settings.SCENECART_FALLBACKS = {"kling": ["local"]}
        yield server


def test_kind_overrides_win_over_bucket_overrides_and_the_requested_backend(
    kling: FakeKling,
) -> None:
    merchant = make_merchant(slug="m1")
    render_routing_update(
        merchant_id=merchant.pk,
        default_backend="studio",
        kind_backends={"scene": "kling"},
        bucket_backends={"climate=snowy": "local"},
    )
    product = make_product(merchant)
    rainy = {
        s.plan.kind: s.backend.alias
        for s in segment_specs(
            product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
        )
    }
    assert rainy == {"hero": "studio", "scene": "kling", "offer": "studio", "outro": "studio"}
    snowy = {
        s.plan.kind: s.backend.alias
        for s in segment_specs(
            product=product, context=ShopperContext.parse("climate=snowy"), aspect="16:9"
        )
    }
    assert snowy == {"hero": "local", "scene": "kling", "offer": "local", "outro": "local"}
    # A bulk job that names a backend replaces the merchant's default, not its kind choices.
    asked = {
        s.plan.kind: s.backend.alias
        for s in segment_specs(
            product=product,
            context=ShopperContext.parse("climate=rainy"),
            aspect="16:9",
            backend_alias="local",
        )
    }
    assert asked == {"hero": "local", "scene": "kling", "offer": "local", "outro": "local"}


def test_bad_routing_names_the_field_and_the_value(kling: FakeKling) -> None:
    merchant = make_merchant(slug="m1")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Unknown backend 'klingg'"):
        render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "klingg"})
    with pytest.raises(ValidationError, match="Unknown segment kind 'intro'"):
        render_routing_update(merchant_id=merchant.pk, kind_backends={"intro": "kling"})
    with pytest.raises(ValidationError, match="climate='foggy'"):
        render_routing_update(merchant_id=merchant.pk, bucket_backends={"climate=foggy": "kling"})
    assert not RenderRouting.objects.exists()


def test_a_merchants_own_key_is_encrypted_at_rest_and_used_for_its_segments(
    kling: FakeKling,
) -> None:
    merchant = make_merchant(slug="m1")
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "kling"})
    key = provider_key_set(
        merchant_id=merchant.pk, backend="kling", key=f"{ACCESS_KEY}:{SECRET_KEY}"
    )
    assert SECRET_KEY not in key.encrypted_key and ACCESS_KEY not in key.encrypted_key
    assert key.hint == SECRET_KEY[-4:]
    assert (
        merchant_backend("kling", merchant_id=merchant.pk).api_key == f"{ACCESS_KEY}:{SECRET_KEY}"
    )
    assert SECRET_KEY not in repr(merchant_backend("kling", merchant_id=merchant.pk))

    video = video_request(
        product=make_product(merchant), context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    ).video
    scene = video.parts.get(segment__kind="scene").segment
    remote.segment_submit(segment=scene)
    scene.refresh_from_db()
    assert scene.provider_job_id and kling.created == 1, scene.error


def test_without_a_merchant_key_the_installations_wrong_key_is_an_auth_failure(
    kling: FakeKling,
) -> None:
    merchant = make_merchant(slug="m1")
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "kling"}, fallbacks=[])
    video = video_request(
        product=make_product(merchant), context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    ).video
    scene = video.parts.get(segment__kind="scene").segment
    remote.segment_submit(segment=scene)
    scene.refresh_from_db()
    # The merchant set no chain; the installation's sends Kling's segments to the local renderer.
    assert scene.status == Segment.Status.FAILED and scene.failure_kind == "auth"
    assert "Authorization is invalid" in scene.error
    assert video.parts.get(position=1).segment.backend == "local"


def test_the_monthly_budget_refuses_new_paid_work_and_falls_back_to_free(
    kling: FakeKling,
) -> None:
    merchant = make_merchant(slug="m1")
    Merchant.objects.filter(pk=merchant.pk).update(monthly_budget=Decimal("0.30"))
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "kling"})
    provider_key_set(merchant_id=merchant.pk, backend="kling", key=f"{ACCESS_KEY}:{SECRET_KEY}")
    # A storefront shopper asks for a variant: its 8 s scene is a 10 s Kling clip, $0.70.
    video = video_request(
        product=make_product(merchant), context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    ).video
    scene = video.parts.get(segment__kind="scene").segment
    assert scene.cost == Decimal("0.0700") * 5  # the test profile's 1 s scene: a 5 s clip
    remote.segment_submit(segment=scene)
    scene.refresh_from_db()

    assert kling.created == 0, "nothing was paid for"
    assert scene.status == Segment.Status.FAILED and scene.failure_kind == "funds"
    assert (
        "monthly budget is reached ($0.00 of $0.30 spent; this segment costs $0.35)" in scene.error
    )
    stand_in = video.parts.get(position=1).segment
    assert stand_in.backend == "local" and stand_in.fallback_for_id == scene.pk


@pytest.fixture
def owner_client(kling: FakeKling) -> tuple[Client, Merchant]:
    merchant = make_merchant(slug="alpha", name="Alpha Outfitters")
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=merchant, user=user)
    client = Client()
    client.force_login(user)
    return client, merchant


def test_the_admin_sets_routing_and_names_a_bad_backend(
    owner_client: tuple[Client, Merchant],
) -> None:
    client, merchant = owner_client
    url = reverse("admin:rendering_renderrouting_add")
    form = {
        "merchant": merchant.pk,
        "default_backend": "",
        "hero": "",
        "scene": "kling",
        "offer": "",
        "outro": "",
        "buckets": "climate=rainy = local",
        "chain": "local",
    }
    bad = client.post(url, {**form, "chain": "seedance"})
    assert bad.status_code == 200 and "Unknown backend &#x27;seedance&#x27;" in bad.content.decode()
    assert not RenderRouting.objects.exists()
    assert client.post(url, form).status_code == 302
    routing = RenderRouting.objects.get(merchant=merchant)
    assert (routing.kind_backends, routing.bucket_backends, routing.fallbacks) == (
        {"scene": "kling"},
        {"climate=rainy": "local"},
        ["local"],
    )


def test_the_admin_stores_a_key_and_never_shows_it_back(
    owner_client: tuple[Client, Merchant],
) -> None:
    client, merchant = owner_client
    secret = "ak-live-123:sk-live-SECRETVALUE-9876"
    response = client.post(
        reverse("admin:rendering_providerkey_add"),
        {"merchant": merchant.pk, "backend": "kling", "key": secret},
    )
    assert response.status_code == 302
    stored = ProviderKey.objects.get(merchant=merchant)
    assert "SECRETVALUE" not in stored.encrypted_key
    for page in (
        reverse("admin:rendering_providerkey_changelist"),
        reverse("admin:rendering_providerkey_change", args=[stored.pk]),
        reverse("admin:rendering_providerkey_history", args=[stored.pk]),
    ):
        body = client.get(page).content.decode()
        assert "SECRETVALUE" not in body and "sk-live" not in body
    assert re.search(
        r"…9876", client.get(reverse("admin:rendering_providerkey_changelist")).content.decode()
    )


def test_keys_are_never_logged(kling: FakeKling, caplog: pytest.LogCaptureFixture) -> None:
    merchant = make_merchant(slug="m1")
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "kling"})
    provider_key_set(merchant_id=merchant.pk, backend="kling", key=f"{ACCESS_KEY}:{SECRET_KEY}")
    kling.fault("429", prefix="/v1/videos")  # a retry, logged with the request
    with caplog.at_level(logging.DEBUG):
        video = video_request(
            product=make_product(merchant),
            context=ShopperContext.parse("climate=rainy"),
            aspect="16:9",
        ).video
        remote.segment_submit(segment=video.parts.get(segment__kind="scene").segment)
    assert kling.created == 1
    assert "retry 1" in caplog.text
    for secret in (SECRET_KEY, "installation:wrong-secret-of-32-characters", "Bearer "):
        assert secret not in caplog.text


def test_prices_come_from_the_operator_then_the_providers_list_price(
    kling: FakeKling, settings: Settings
) -> None:
    merchant = make_merchant(slug="m1")
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "kling"})
    product = make_product(merchant)
    rainy = ShopperContext.parse("climate=rainy")

    def scene_cost() -> Decimal:
        specs = segment_specs(product=product, context=rainy, aspect="16:9")
        return next(s.cost for s in specs if s.plan.kind == "scene")

    # Each bills the 5 s clip Kling makes for the 1 s test scene.
    settings.SCENECART_PRICES = {}
    assert scene_cost() == Decimal("0.3500")  # Kling's list price, $0.07 a second
    settings.SCENECART_PRICES = {"kling:kling-v2-1": "0.05"}
    assert scene_cost() == Decimal("0.2500")  # the operator's price for that model
    settings.SCENECART_PRICES = {"kling": "0.09", "kling:kling-v2-1": "0.05"}
    assert scene_cost() == Decimal("0.4500")  # the alias wins
