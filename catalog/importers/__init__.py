"""Catalog feed parsers: a merchant's export file in, plain product records out.

Each parser is pure (no database, no network) so the import service can run it on an upload,
show the refused rows to the merchant, and upsert the products in one transaction. Each record
says which product fields its file carried (``ImportedProduct.fields``), so a partial file
updates only those.
"""

from catalog.importers.google import parse_google_feed, sale_prices
from catalog.importers.records import (
    PRODUCT_FIELDS,
    VARIANT_FIELDS,
    ImportedImage,
    ImportedProduct,
    ImportedVariant,
    ImportFormatError,
    ParseResult,
    RefusedRow,
    html_to_text,
)
from catalog.importers.shopify import parse_shopify_csv

__all__ = [
    "PRODUCT_FIELDS",
    "VARIANT_FIELDS",
    "ImportFormatError",
    "ImportedImage",
    "ImportedProduct",
    "ImportedVariant",
    "ParseResult",
    "RefusedRow",
    "html_to_text",
    "parse_google_feed",
    "parse_shopify_csv",
    "sale_prices",
]
