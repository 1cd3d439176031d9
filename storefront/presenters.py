"""How catalog rows are shown on storefront pages."""

from catalog.models import Product
from personalization.plans import price_label as localized_price


def price_label(product: Product, locale: str = "en-US") -> str:
    return localized_price(price=product.price, currency=product.currency, locale=locale)
