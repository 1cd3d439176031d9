from pathlib import PurePosixPath

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.html import format_html

from catalog.admin import MerchantScopedAdmin
from catalog.models import Product
from catalog.selectors import merchants_for_user

from .contact_sheet import aspect_from_slug, contact_sheet_ensure, contact_sheet_name
from .models import Segment, Video, VideoSegment
from .profiles import UnknownAspect


class VideoSegmentInline(admin.TabularInline):
    model = VideoSegment
    extra = 0
    can_delete = False
    fields = ["position", "segment", "segment_status"]
    readonly_fields = fields

    @admin.display(description="Status")
    def segment_status(self, obj: VideoSegment) -> str:
        return obj.segment.get_status_display()

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Video)
class VideoAdmin(MerchantScopedAdmin):
    merchant_path = "product__merchant"
    list_display = ["product", "bucket", "aspect", "status", "duration", "ready_at"]
    list_filter = ["status", "aspect"]
    search_fields = ["product__sku", "product__title", "bucket"]
    readonly_fields = [
        "product", "bucket", "aspect", "backend", "recipe_key", "status", "player", "file",
        "poster", "duration", "error", "created_at", "updated_at", "ready_at",
    ]  # fmt: skip
    fields = readonly_fields
    inlines = [VideoSegmentInline]

    @admin.display(description="Video")
    def player(self, obj: Video) -> str:
        if not obj.file:
            return "—"
        poster = obj.poster.url if obj.poster else ""
        return format_html(
            '<video src="{}" poster="{}" controls muted style="max-width:480px"></video>',
            obj.file.url,
            poster,
        )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "contact-sheet/<int:product_id>/<str:aspect>/",
                self.admin_site.admin_view(self.contact_sheet_view),
                name="rendering_video_contact_sheet",
            ),
            *super().get_urls(),
        ]

    def contact_sheet_view(
        self, request: HttpRequest, product_id: int, aspect: str
    ) -> HttpResponse:
        """The product's contact sheet as a PNG (``aspect`` spelled ``16x9``), for the
        "Variants" section of the product page. Another merchant's product is a 404.

        The first request for a product version draws the sheet (a few seconds); later ones
        are served from storage, and a browser holding the current version gets a 304.
        """
        product = get_object_or_404(
            Product.objects.filter(merchant__in=merchants_for_user(user=request.user)),
            pk=product_id,
        )
        try:
            aspect = aspect_from_slug(aspect)
        except UnknownAspect as exc:
            raise Http404(str(exc)) from exc
        # The stored name hashes every cell's segment key: it is the sheet's version.
        name = contact_sheet_name(product=product, aspect=aspect)
        etag = f'"{PurePosixPath(name).stem.rsplit("-", 1)[-1]}"'
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is None:
            sheet = contact_sheet_ensure(product=product, aspect=aspect)
            response = HttpResponse(sheet.png, content_type="image/png")
            response["ETag"] = etag
        else:
            response = not_modified
        patch_cache_control(response, private=True, no_cache=True)
        return response


@admin.register(Segment)
class SegmentAdmin(MerchantScopedAdmin):
    list_display = [
        "short_key",
        "kind",
        "backend",
        "status",
        "duration",
        "render_seconds",
        "rendered_at",
    ]
    list_filter = ["status", "kind", "backend"]
    search_fields = ["key"]
    readonly_fields = [
        "key", "merchant", "kind", "backend", "backend_version", "plan", "inputs", "profile",
        "status", "file", "duration", "error", "attempts", "claimed_at", "rendered_at",
        "render_seconds", "created_at",
    ]  # fmt: skip
    fields = readonly_fields

    @admin.display(description="Key")
    def short_key(self, obj: Segment) -> str:
        return obj.key[:12]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
