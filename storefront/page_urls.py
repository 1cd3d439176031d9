"""Pages of the storefront: the demo shop, the iframe player and oEmbed (storefront.pages)."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("shop/<slug:merchant>/", pages.shop, name="shop"),
    path("shop/<slug:merchant>/<path:sku>", pages.product, name="product"),
    path("embed/<slug:merchant>/<path:sku>", pages.embed, name="embed"),
    path("oembed", pages.oembed, name="oembed"),
]
