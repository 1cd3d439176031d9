"""The admin site: Django's, with the merchant dashboard on its home page, and every custom
admin page routed in one place (``ScenecartAdminSite.get_urls``)."""

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path

from catalog.models import Product
from catalog.selectors import merchants_for_user
from rendering.models import BulkJob, Video
from storefront.dashboard import merchant_dashboard

if TYPE_CHECKING:
    # The apps' admin modules register into this site as Django imports them, so they are
    # named here for the type checker only (importing them with the site would loop).
    from catalog.admin import ProductAdmin
    from rendering.admin.bulk import BulkJobAdmin
    from rendering.admin.videos import VideoAdmin

# Superusers see every shop; past this many, the home page lists the first ones by name.
DASHBOARD_LIMIT = 12


class ScenecartAdminSite(admin.AdminSite):
    site_header = "Scenecart"
    site_title = "Scenecart"
    index_title = "Merchant workspace"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        merchants = merchants_for_user(user=request.user).order_by("name", "pk")
        context = {
            "dashboards": [merchant_dashboard(merchant=m) for m in merchants[:DASHBOARD_LIMIT]],
            "more_merchants": max(0, merchants.count() - DASHBOARD_LIMIT),
            **(extra_context or {}),
        }
        return super().index(request, context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        """The pages that are not a model's list or form, each a view of the model admin it
        belongs to, under that model's admin path."""
        product = cast("ProductAdmin", self._registry[Product])
        video = cast("VideoAdmin", self._registry[Video])
        bulk = cast("BulkJobAdmin", self._registry[BulkJob])
        view = self.admin_view
        custom: list[URLResolver | URLPattern] = [
            path(
                "catalog/product/import/",
                view(product.import_view),
                name="catalog_product_import",
            ),
            path(
                "rendering/video/contact-sheet/<int:product_id>/<str:aspect>/",
                view(video.contact_sheet_view),
                name="rendering_video_contact_sheet",
            ),
            path(
                "rendering/video/<int:video_id>/review/",
                view(video.review_view),
                name="rendering_video_review",
            ),
            path("rendering/bulkjob/new/", view(bulk.generate_view), name="rendering_bulkjob_new"),
            path(
                "rendering/bulkjob/<int:job_id>/progress/",
                view(bulk.progress_view),
                name="rendering_bulkjob_progress",
            ),
            path(
                "rendering/bulkjob/<int:job_id>/progress.json",
                view(bulk.progress_json_view),
                name="rendering_bulkjob_progress_json",
            ),
            path(
                "rendering/bulkjob/<int:job_id>/retry/",
                view(bulk.retry_view),
                name="rendering_bulkjob_retry",
            ),
        ]
        return custom + super().get_urls()
