from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.admin import MerchantScopedAdmin

from .models import Segment, Video, VideoSegment


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
