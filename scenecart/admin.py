"""The admin site: Django's, with the merchant dashboard on its home page."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from catalog.selectors import merchants_for_user
from storefront.dashboard import merchant_dashboard

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
