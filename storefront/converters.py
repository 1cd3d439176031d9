"""URL converters of the storefront."""

from django.urls import register_converter
from django.urls.converters import PathConverter


class SkuConverter(PathConverter):
    """A SKU as the merchant wrote it: any characters, slashes and line breaks included, so
    every SKU reaches the view (and an unknown one gets the API's JSON 404, not the
    resolver's HTML page). Django's ``path`` converter stops at a line break."""

    regex = r"[\s\S]+"


register_converter(SkuConverter, "sku")
