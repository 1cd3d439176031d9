"""Connecting a shop: the command and the admin store the secret encrypted, never show it back,
say where to register the webhooks, and refuse bad input naming the argument."""

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from catalog.models import Membership
from catalog.services import membership_grant
from integrations.models import ShopifyConnection
from scenecart.encryption import decrypt
from tests.support.factories import make_merchant

SECRET = "f3b1c9d2e8a74b6c9d0e1f2a3b4c5d6e"
PATH = "/integrations/shopify/webhooks"


def connect(*args: str) -> str:
    out = StringIO()
    call_command("connect_shopify", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_the_command_connects_the_shop_and_prints_the_url_and_topics(settings: Any) -> None:
    make_merchant(slug="northfold")
    settings.SCENECART_PUBLIC_URL = "https://videos.example.com/"
    out = connect(
        "--merchant", "northfold", "--shop-domain", " Northfold.myshopify.com ",
        "--webhook-secret", SECRET,
    )  # fmt: skip
    assert f"https://videos.example.com{PATH}" in out
    assert all(t in out for t in ("products/create", "products/update", "products/delete"))
    assert SECRET not in out

    connection = ShopifyConnection.objects.get()
    assert (connection.shop_domain, connection.currency) == ("northfold.myshopify.com", "USD")
    assert SECRET not in connection.encrypted_webhook_secret
    assert decrypt(connection.encrypted_webhook_secret) == SECRET
    assert connection.secret_hint == SECRET[-4:]

    # Again with a new secret and the shop's currency: the same connection, changed.
    answer = json.loads(
        connect(
            "--merchant", "northfold", "--shop-domain", "northfold.myshopify.com",
            "--webhook-secret", "rotated-secret-0123456789", "--currency", "eur", "--json",
        )
    )  # fmt: skip
    assert answer == {
        "merchant": "northfold",
        "shop_domain": "northfold.myshopify.com",
        "currency": "EUR",
        "webhook_url": f"https://videos.example.com{PATH}",
        "webhook_path": PATH,
        "topics": ["products/create", "products/update", "products/delete"],
        "format": "json",
    }
    connection = ShopifyConnection.objects.get()
    assert decrypt(connection.encrypted_webhook_secret) == "rotated-secret-0123456789"


@pytest.mark.django_db
def test_without_a_public_url_the_command_says_which_host_to_use(settings: Any) -> None:
    make_merchant(slug="northfold")
    settings.SCENECART_PUBLIC_URL = ""
    out = connect(
        "--merchant", "northfold", "--shop-domain", "northfold.myshopify.com",
        "--webhook-secret", SECRET,
    )  # fmt: skip
    assert f"https://<this installation's public host>{PATH}" in out
    assert "SCENECART_PUBLIC_URL" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("merchant", "domain", "secret", "message"),
    [
        ("nobody", "northfold.myshopify.com", SECRET, r"--merchant: No merchant with slug 'nobody'"),
        ("northfold", "northfold.com", SECRET, r"--shop-domain: 'northfold.com' is not a Shopify"),
        ("northfold", "https://northfold.myshopify.com", SECRET, r"--shop-domain: .* not a Shopify"),
        ("northfold", "northfold.myshopify.com", "  ", r"--webhook-secret: Enter the secret"),
        ("northfold", "taken.myshopify.com", SECRET, r"--shop-domain: taken.myshopify.com is connected to another merchant"),
    ],
)  # fmt: skip
def test_the_command_refuses_bad_input_naming_the_argument(
    merchant: str, domain: str, secret: str, message: str
) -> None:
    make_merchant(slug="northfold")
    make_merchant(slug="other")
    connect(
        "--merchant", "other", "--shop-domain", "taken.myshopify.com", "--webhook-secret", SECRET
    )
    with pytest.raises(CommandError, match=message):
        connect("--merchant", merchant, "--shop-domain", domain, "--webhook-secret", secret)
    assert list(ShopifyConnection.objects.values_list("shop_domain", flat=True)) == [
        "taken.myshopify.com"
    ]


@pytest.mark.django_db
def test_the_admin_takes_the_secret_write_only_and_shows_where_to_register(
    client: Any, settings: Any
) -> None:
    settings.SCENECART_PUBLIC_URL = "https://videos.example.com"
    mine, theirs = make_merchant(slug="northfold"), make_merchant(slug="other")
    staff = get_user_model().objects.create_user(username="ana", password="pw", is_staff=True)
    membership_grant(merchant=mine, user=staff, role=Membership.Role.OWNER)
    client.force_login(staff)

    add = "/admin/integrations/shopifyconnection/add/"
    form = client.get(add).content.decode()
    assert f'value="{theirs.pk}"' not in form  # another merchant's row is never offered
    answer = client.post(
        add,
        {"merchant": mine.pk, "shop_domain": "Northfold.myshopify.com", "currency": "USD",
         "webhook_secret": SECRET},
    )  # fmt: skip
    assert answer.status_code == 302, answer.content.decode()[:2000]
    connection = ShopifyConnection.objects.get()
    assert connection.shop_domain == "northfold.myshopify.com"
    assert decrypt(connection.encrypted_webhook_secret) == SECRET

    page = client.get(f"/admin/integrations/shopifyconnection/{connection.pk}/change/")
    text = page.content.decode()
    assert SECRET not in text and f"…{SECRET[-4:]}" in text
    assert f"https://videos.example.com{PATH}" in text and "products/delete" in text

    # Saved again with the secret left empty: the stored one is kept.
    answer = client.post(
        f"/admin/integrations/shopifyconnection/{connection.pk}/change/",
        {"shop_domain": "northfold.myshopify.com", "currency": "EUR", "webhook_secret": ""},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.currency == "EUR"
    assert decrypt(connection.encrypted_webhook_secret) == SECRET

    # Another merchant's connection is not this staff member's to see.
    other = ShopifyConnection.objects.create(
        merchant=theirs, shop_domain="other.myshopify.com", encrypted_webhook_secret="x"
    )
    assert client.get(f"/admin/integrations/shopifyconnection/{other.pk}/change/").status_code in (
        302,
        404,
    )
