from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import (
    api,
    converters,  # noqa: F401  registers <sku:…>
    page_urls,
    provenance,
    views,
)

app_name = "storefront"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path(
        "api/v1/videos/<str:merchant>/<sku:sku>",
        api.video_lookup,
        name="video-lookup",
    ),
    path("api/v1/events", api.EventsView.as_view(), name="events"),
    path("provenance/<uuid:public_id>", provenance.provenance_page, name="provenance"),
    path("api/v1/shopper-tokens", api.ShopperTokensView.as_view(), name="shopper-tokens"),
    # The schema is generated from its own urlconf, where the lookup is the DRF view that
    # documents it (the route above serves it from a plain view; see storefront.api).
    path(
        "api/schema/",
        SpectacularAPIView.as_view(urlconf="storefront.schema_urls"),
        name="api-schema",
    ),
    *page_urls.urlpatterns,
]
