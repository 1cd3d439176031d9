"""Pages of the storefront: the demo shop, the iframe player and oEmbed (storefront.pages)."""

urlpatterns: list = []
