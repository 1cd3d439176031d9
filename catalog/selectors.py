"""Reads from the catalog."""

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from scenecart.cache import forget, read_through

from .facts import product_facts
from .models import Merchant, Product

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class CatalogLookupError(LookupError):
    """A merchant or product named by a caller does not exist; the message says which."""


def merchant_get(*, slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise CatalogLookupError(f"No merchant with slug {slug!r}.")
    return merchant


STOREFRONT_MERCHANT_SECONDS = 60


def _storefront_key(slug: str) -> str:
    return f"merchant:{slug}"


def merchant_for_storefront(*, slug: str) -> Merchant:
    """``merchant_get`` for the storefront's hot path: cached (scenecart.cache); the services
    that change a merchant's secret or origins call ``merchant_forget``."""
    merchant = read_through(
        _storefront_key(slug),
        ttl=STOREFRONT_MERCHANT_SECONDS,
        # The brand kit rides along: its logo is a fact every video states.
        load=lambda: Merchant.objects.filter(slug=slug).select_related("brand_kit").first(),
    )
    if merchant is None:
        raise CatalogLookupError(f"No merchant with slug {slug!r}.")
    return merchant


def merchant_forget(*, slug: str) -> None:
    forget(_storefront_key(slug))


def storefront_logo(merchant: Merchant) -> str:
    """The content hash of the logo the shop's videos close on ("" if it has none)."""
    try:
        kit = merchant.brand_kit
    except Merchant.brand_kit.RelatedObjectDoesNotExist:
        return ""
    return kit.logo_hash if kit.logo else ""


@dataclass(frozen=True, slots=True)
class StorefrontProduct:
    """An active product as the storefront's lookup needs it: no ORM object, cheap to cache."""

    id: int
    facts_key: str  # catalog.facts: a video made from other facts is stale


@lru_cache(maxsize=4096)
def _sku_key(merchant_id: int, sku: str) -> str:
    return f"sku:v2:{merchant_id}:{hashlib.sha256(sku.encode()).hexdigest()[:32]}"


def product_for_storefront(*, merchant_id: int, sku: str) -> StorefrontProduct | None:
    """The active product with this SKU and its current facts, or ``None`` (unknown, draft or
    archived: the storefront shows none of them). Cached for SCENECART_LOOKUP_CACHE_SECONDS;
    every write of a product's facts or status calls ``product_forget``, so a price change or
    an archive reaches the storefront at once."""
    return read_through(
        _sku_key(merchant_id, sku),
        ttl=settings.SCENECART_LOOKUP_CACHE_SECONDS,
        load=lambda: _storefront_product(merchant_id, sku),
    )


def _storefront_product(merchant_id: int, sku: str) -> StorefrontProduct | None:
    product = Product.objects.filter(
        merchant_id=merchant_id, sku=sku, status=Product.Status.ACTIVE
    ).first()
    if product is None:
        return None
    return StorefrontProduct(id=product.pk, facts_key=product_facts(product).key)


def product_forget(*, merchant_id: int, sku: str) -> None:
    forget(_sku_key(merchant_id, sku))


def product_get(*, merchant: Merchant, sku: str) -> Product:
    product = Product.objects.filter(merchant=merchant, sku=sku).first()
    if product is None:
        raise CatalogLookupError(f"Merchant {merchant.slug!r} has no product with SKU {sku!r}.")
    return product


def products_for_merchant(*, merchant: Merchant, active_only: bool = True) -> QuerySet[Product]:
    products = Product.objects.filter(merchant=merchant).prefetch_related("images")
    if active_only:
        products = products.filter(status=Product.Status.ACTIVE)
    return products.order_by("title", "sku")


def merchants_for_user(*, user: "User | AnonymousUser") -> QuerySet[Merchant]:
    """The merchants whose rows this user may see: all for superusers, else their memberships."""
    if not user.is_authenticated:
        return Merchant.objects.none()
    if user.is_superuser:
        return Merchant.objects.all()
    return Merchant.objects.filter(memberships__user=user)
