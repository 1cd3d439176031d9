"""The storefront API as its OpenAPI schema describes it (``/api/schema/``).

The same paths as ``storefront.urls``; only the video lookup differs, documented here through
``VideoLookupView``, which answers exactly like the plain view that serves the route.
"""

from django.urls import path

from . import (
    api,
    converters,  # noqa: F401  registers <sku:…>
)

urlpatterns = [
    path("api/v1/videos/<str:merchant>/<sku:sku>", api.VideoLookupView.as_view()),
    path("api/v1/events", api.EventsView.as_view()),
    path("api/v1/shopper-tokens", api.ShopperTokensView.as_view()),
]
