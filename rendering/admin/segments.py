"""Segments in the admin: the content-addressed cache, read-only."""

from django.contrib import admin
from django.http import HttpRequest

from catalog.admin import MerchantScopedAdmin

from ..models import (
    Segment,
)


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
    ordering = ["-created_at"]
    search_fields = ["key"]
    readonly_fields = (
        "key", "merchant", "kind", "backend", "backend_version", "plan", "inputs", "profile",
        "status", "file", "duration", "error", "attempts", "claimed_at", "rendered_at",
        "render_seconds", "created_at",
    )  # fmt: skip
    fields = readonly_fields

    @admin.display(description="Key")
    def short_key(self, obj: Segment) -> str:
        return obj.key[:12]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
