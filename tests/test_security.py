"""Deployment security: ``check --deploy`` under the production settings, and CSRF on every
form the admin serves.

The deploy check runs the real ``manage.py`` in a fresh process with the production settings
and the environment the README's deployment section sets, so a setting that regresses (or a
new one that Django starts to check) fails here rather than in someone's deploy.

The CSRF tests read the forms a merchant's staff member actually gets (login, catalog import,
bulk generation, a product page with its review buttons) and post to each target without the
token, with a positive control beside every refusal: the same post with the token from the page
goes through, so the 403 cannot come from a missing permission or a broken URL.
"""

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product
from catalog.services import membership_grant
from rendering.models import BulkJob, Video
from tests.support.factories import make_merchant, make_product, make_ready_video

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-for-tests"

# --- manage.py check --deploy -----------------------------------------------------------------

# The outer environment must not decide the outcome: these are set, or left at their defaults.
DEPLOY_CLEARED = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")


def deploy_check(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in DEPLOY_CLEARED and not key.startswith("SECURE_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="scenecart.settings.production",
        # 67 random URL-safe characters: what the README tells operators to generate.
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="videos.example.com",
        **variables,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean() -> None:
    result = deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "warning"),
    [
        ("SECURE_SSL_REDIRECT", "false", "security.W008"),
        ("SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("DEBUG", "true", "security.W018"),
        # A year of HSTS makes the domain eligible for the preload list: the check asks again.
        ("SECURE_HSTS_SECONDS", str(365 * 24 * 3600), "security.W021"),
    ],
)
def test_check_deploy_still_catches_a_weakened_setting(
    variable: str, value: str, warning: str
) -> None:
    """The clean run above is not clean because checks are silenced wholesale."""
    result = deploy_check(**{variable: value})
    assert result.returncode != 0, result.stdout
    assert warning in result.stderr


def test_hsts_preload_opt_in_passes_the_check() -> None:
    result = deploy_check(SECURE_HSTS_SECONDS=str(365 * 24 * 3600), SECURE_HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stdout + result.stderr


# --- CSRF on the admin's forms -----------------------------------------------------------------


@dataclass
class PostForm:
    action: str
    fields: set[str] = field(default_factory=set)

    @property
    def has_token(self) -> bool:
        return "csrfmiddlewaretoken" in self.fields


class _PostForms(HTMLParser):
    """Every ``<form method="post">`` of a page, with the names of the inputs inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[PostForm] = []
        self._open: PostForm | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "get").lower() == "post":
            self._open = PostForm(action=values.get("action") or "")
            self.forms.append(self._open)
        elif tag in ("input", "button", "select", "textarea") and self._open is not None:
            self._open.fields.add(values.get("name") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def post_forms(html: str) -> list[PostForm]:
    parser = _PostForms()
    parser.feed(html)
    parser.close()
    return parser.forms


@dataclass
class Shop:
    merchant: Merchant
    product: Product
    video: Video
    staff: AbstractUser


@pytest.fixture
def shop(db: None, small_videos: None) -> Shop:
    merchant = make_merchant(slug="harbor", name="Harbor Goods")
    product = make_product(merchant, sku="HB-1", title="Harbor Rain Jacket")
    staff = get_user_model().objects.create_user(
        username="harbor-staff", password=PASSWORD, is_staff=True
    )
    membership_grant(merchant=merchant, user=staff)
    return Shop(merchant, product, make_ready_video(product), staff)


def change_url(product: Product) -> str:
    return reverse("admin:catalog_product_change", args=[product.pk])


def staff_pages(shop: Shop) -> list[str]:
    return [
        reverse("admin:index"),
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_product_import"),
        "/admin/rendering/bulkjob/new/",
        change_url(shop.product),
    ]


def test_every_admin_form_carries_a_csrf_token(shop: Shop) -> None:
    anonymous = Client()
    login_page = anonymous.get(reverse("admin:login"))
    assert login_page.status_code == 200
    pages = {reverse("admin:login"): login_page.content.decode()}
    staff = Client()
    staff.force_login(shop.staff)
    for url in staff_pages(shop):
        response = staff.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()

    seen: dict[str, list[PostForm]] = {}
    for url, html in pages.items():
        forms = post_forms(html)
        assert forms, f"{url} shows no POST form: is this still the page that has one?"
        seen[url] = forms
        missing = [form.action or "(this page)" for form in forms if not form.has_token]
        assert not missing, f"{url}: POST forms without csrfmiddlewaretoken: {missing}"
    # The product page's review buttons post from a hidden form of their own.
    review = reverse("admin:rendering_video_review", args=[shop.video.pk])
    assert review in {form.action for form in seen[change_url(shop.product)]}


@dataclass
class Target:
    """A POST a forged cross-site form could send, and how to tell whether it took effect."""

    page: str  # where the real form is (and the CSRF cookie is set)
    url: str
    data: Callable[[Shop], dict[str, object]]
    took_effect: Callable[[Shop, Client], bool]
    as_staff: bool = True


def _product_title(shop: Shop, client: Client) -> bool:
    return Product.objects.get(pk=shop.product.pk).title == "Forged title"


def _approved(shop: Shop, client: Client) -> bool:
    return Video.objects.get(pk=shop.video.pk).approval == Video.Approval.APPROVED


def _imported(shop: Shop, client: Client) -> bool:
    return Product.objects.filter(merchant=shop.merchant, sku="FORGED-1").exists()


def _bulk_job(shop: Shop, client: Client) -> bool:
    return BulkJob.objects.filter(merchant=shop.merchant).exists()


def _logged_in(shop: Shop, client: Client) -> bool:
    return "_auth_user_id" in client.session


def _logged_out(shop: Shop, client: Client) -> bool:
    return "_auth_user_id" not in client.session


def _product_form(shop: Shop) -> dict[str, object]:
    product = shop.product
    return {
        "merchant": str(product.merchant_id),
        "sku": product.sku,
        "title": "Forged title",
        "description": product.description,
        "price": str(product.price),
        "currency": product.currency,
        "category": product.category,
        "tags": "[]",
        "attributes": "{}",
        "status": product.status,
        **{
            f"{prefix}-{name}": value
            for prefix in ("images", "image_sources")
            for name, value in (
                ("TOTAL_FORMS", "0"),
                ("INITIAL_FORMS", "0"),
                ("MIN_NUM_FORMS", "0"),
                ("MAX_NUM_FORMS", "1000"),
            )
        },
    }


def _import_form(shop: Shop) -> dict[str, object]:
    csv = b"Handle,Title,Variant SKU,Variant Price\nforged,Forged Lamp,FORGED-1,10.00\n"
    return {
        "merchant": str(shop.merchant.pk),
        "format": "shopify",
        "file": SimpleUploadedFile("catalog.csv", csv, content_type="text/csv"),
    }


def _generation_form(shop: Shop) -> dict[str, object]:
    return {
        "merchant": str(shop.merchant.pk),
        "products": "",
        "contexts": ["generic"],
        "aspects": ["16:9"],
        "backend": "local",
        "confirm": "1",
    }


TARGETS = {
    "login": Target(
        page="/admin/login/",
        url="/admin/login/",
        data=lambda shop: {"username": shop.staff.username, "password": PASSWORD},
        took_effect=_logged_in,
        as_staff=False,
    ),
    "logout": Target(
        page="/admin/", url="/admin/logout/", data=lambda shop: {}, took_effect=_logged_out
    ),
    "product change": Target(
        page="{product}", url="{product}", data=_product_form, took_effect=_product_title
    ),
    "video review": Target(
        page="{product}",
        url="{review}",
        data=lambda shop: {"decision": "approve"},
        took_effect=_approved,
    ),
    "catalog import": Target(
        page="/admin/catalog/product/import/",
        url="/admin/catalog/product/import/",
        data=_import_form,
        took_effect=_imported,
    ),
    "bulk generation": Target(
        page="/admin/rendering/bulkjob/new/",
        url="/admin/rendering/bulkjob/new/",
        data=_generation_form,
        took_effect=_bulk_job,
    ),
}


def _url(template: str, shop: Shop) -> str:
    return template.format(
        product=change_url(shop.product),
        review=reverse("admin:rendering_video_review", args=[shop.video.pk]),
    )


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_post_without_the_csrf_token_is_refused(shop: Shop, name: str) -> None:
    target = TARGETS[name]
    client = Client(enforce_csrf_checks=True)
    if target.as_staff:
        client.force_login(shop.staff)
    page = client.get(_url(target.page, shop))
    assert page.status_code == 200

    forged = client.post(_url(target.url, shop), target.data(shop))
    assert forged.status_code == 403
    assert b"CSRF" in forged.content
    assert not target.took_effect(shop, client)

    # The positive control: the same post with the page's token goes through.
    token = page.context["csrf_token"]
    genuine = client.post(
        _url(target.url, shop), {**target.data(shop), "csrfmiddlewaretoken": token}
    )
    assert genuine.status_code in (200, 302), genuine.content[:2000]
    assert target.took_effect(shop, client)
