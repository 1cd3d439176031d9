"""Reads from the catalog."""

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from scenecart.cache import forget, read_through

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
        load=lambda: Merchant.objects.filter(slug=slug).first(),
    )
    if merchant is None:
        raise CatalogLookupError(f"No merchant with slug {slug!r}.")
    return merchant


def merchant_forget(*, slug: str) -> None:
    forget(_storefront_key(slug))


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
