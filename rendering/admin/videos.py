"""Videos in the admin: the list with approval, the review of one variant, contact sheets."""

from pathlib import PurePosixPath

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.html import format_html

from catalog.admin import MerchantScopedAdmin
from catalog.models import Product
from catalog.selectors import merchants_for_user

from ..contact_sheet import aspect_from_slug, contact_sheet_ensure, contact_sheet_name
from ..models import (
    Video,
    VideoSegment,
)
from ..profiles import UnknownAspect
from ..services import ReviewError, video_approve, video_reject


class VideoSegmentInline(admin.TabularInline):
    model = VideoSegment
    extra = 0
    can_delete = False
    fields = ("position", "segment", "segment_status")
    readonly_fields = fields

    @admin.display(description="Status")
    def segment_status(self, obj: VideoSegment) -> str:
        return obj.segment.get_status_display()

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Video)
class VideoAdmin(MerchantScopedAdmin):
    merchant_path = "product__merchant"
    list_display = ["product", "bucket", "aspect", "status", "approval", "duration", "ready_at"]
    list_filter = ["status", "approval", "aspect"]
    ordering = ["-updated_at"]
    actions = ["approve_selected"]
    search_fields = ["product__sku", "product__title", "bucket"]
    readonly_fields = (
        "product", "bucket", "aspect", "backend", "recipe_key", "status", "player", "file",
        "poster", "duration", "error", "approval", "review_note", "reviewed_by", "reviewed_at",
        "seed", "created_at", "updated_at", "ready_at",
    )  # fmt: skip
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

    @admin.action(description="Approve the selected ready videos")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        approved = 0
        for video in queryset.filter(status=Video.Status.READY):
            video_approve(video=video, user=request.user)
            approved += 1
        skipped = queryset.count() - approved
        self.message_user(
            request,
            f"Approved {approved} video(s)"
            + (f"; {skipped} not ready yet were left as they are." if skipped else "."),
        )

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

    def review_view(self, request: HttpRequest, video_id: int) -> HttpResponse:
        return video_review_view(request, video_id)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=2000)


def video_review_view(request: HttpRequest, video_id: int) -> HttpResponse:
    """POST approve or reject (with a note) for one variant; back to its product page."""
    video = get_object_or_404(
        Video.objects.filter(
            product__merchant__in=merchants_for_user(user=request.user)
        ).select_related("product"),
        pk=video_id,
    )
    back = reverse("admin:catalog_product_change", args=[video.product_id]) + "#variants"
    if request.method != "POST":
        return redirect(back)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect(back)
    try:
        if form.cleaned_data["decision"] == "approve":
            video_approve(video=video, user=request.user)
            messages.success(request, f"Approved {video.bucket} ({video.aspect}).")
        else:
            video_reject(video=video, note=form.cleaned_data["note"], user=request.user)
            messages.success(
                request,
                f"Rejected {video.bucket} ({video.aspect}); its scene is being rendered again.",
            )
    except ReviewError as exc:
        messages.error(request, str(exc))
    return redirect(back)
