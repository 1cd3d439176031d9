"""The product page of the merchant workspace, with its videos."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from catalog.admin import ProductAdmin
from catalog.models import Product
from personalization.policy import policy_for

from ..publication import product_videos_discard
from ..selectors import variants_for_review


@admin.register(Product)
class ReviewingProductAdmin(ProductAdmin):
    """The product admin of the merchant workspace: the catalog's (fields, photos, import)
    with what rendering adds, the "generate videos" action and, on the product page, every
    variant with its review buttons. Registered here, once: catalog, below rendering, defines
    its part and registers nothing for products."""

    actions = ["generate_videos"]

    @admin.action(description="Generate videos for the selected products…")
    def generate_videos(self, request: HttpRequest, queryset: QuerySet[Product]) -> HttpResponse:
        merchants = queryset.values_list("merchant_id", flat=True).distinct()
        if merchants.count() != 1:
            self.message_user(request, "Choose products of one shop at a time.", messages.ERROR)
            return redirect("admin:catalog_product_changelist")
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return redirect(
            f"{reverse('admin:rendering_bulkjob_new')}?{urlencode({'merchant': merchants[0], 'ids': ids})}"
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        product = self.get_object(request, object_id)
        if product is not None and self.has_view_permission(request, product):
            extra["variants"] = variants_for_review(product=product)
            extra["require_approval"] = policy_for(merchant=product.merchant).require_approval
        return super().change_view(request, object_id, form_url, extra)

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        product_videos_discard(product_ids=[obj.pk])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        product_videos_discard(product_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)
