from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.html import format_html

from catalog.admin import MerchantScopedAdmin, ProductAdmin
from catalog.models import Merchant, Product
from catalog.selectors import merchants_for_user, products_for_merchant
from personalization.context import GENERIC_BUCKET, ContextError
from personalization.policy import policy_for

from .backends import aliases as backend_aliases
from .bulk import (
    bulk_job_create,
    bulk_job_retry,
    generation_choices,
    generation_estimate,
    human_duration,
)
from .contact_sheet import aspect_from_slug, contact_sheet_ensure, contact_sheet_name
from .models import (
    BulkJob,
    ProviderKey,
    RenderRouting,
    Segment,
    Video,
    VideoSegment,
)
from .profiles import UnknownAspect
from .publication import product_videos_discard
from .routing import SEGMENT_KINDS, provider_key_set, render_routing_update
from .selectors import bulk_progress, variants_for_review
from .services import ReviewError, video_approve, video_reject


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
    list_display = ["product", "bucket", "aspect", "status", "approval", "duration", "ready_at"]
    list_filter = ["status", "approval", "aspect"]
    ordering = ["-updated_at"]
    actions = ["approve_selected"]
    search_fields = ["product__sku", "product__title", "bucket"]
    readonly_fields = [
        "product", "bucket", "aspect", "backend", "recipe_key", "status", "player", "file",
        "poster", "duration", "error", "approval", "review_note", "reviewed_by", "reviewed_at",
        "seed", "created_at", "updated_at", "ready_at",
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

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "contact-sheet/<int:product_id>/<str:aspect>/",
                self.admin_site.admin_view(self.contact_sheet_view),
                name="rendering_video_contact_sheet",
            ),
            path(
                "<int:video_id>/review/",
                self.admin_site.admin_view(video_review_view),
                name="rendering_video_review",
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
    ordering = ["-created_at"]
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


# --- Bulk generation ---------------------------------------------------------------------------


class GenerationForm(forms.Form):
    """What to generate: the products come from the product list (selected, or the whole
    catalog); this form chooses the contexts, aspects and backend."""

    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none(), widget=forms.HiddenInput)
    products = forms.CharField(required=False, widget=forms.HiddenInput)  # ids, or "" = all
    contexts = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The generic video and the variants your bucket policy approves.",
    )
    more_contexts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="More contexts",
        help_text="One per line, e.g. climate=rainy,aesthetic=cozy,time=evening.",
    )
    aspects = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, initial=["16:9"], help_text="Video shapes."
    )
    backend = forms.ChoiceField(help_text="Who renders: the built-in renderer is free.")

    def __init__(self, *args: Any, merchants: QuerySet[Merchant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["merchant"].queryset = merchants  # type: ignore[attr-defined]
        merchant = self._merchant(merchants)
        approved = policy_for(merchant=merchant).approved if merchant else frozenset()
        buckets = [GENERIC_BUCKET, *sorted(approved)]
        self.fields["contexts"].choices = [(b, b) for b in buckets]  # type: ignore[attr-defined]
        self.fields["contexts"].initial = buckets
        self.fields["aspects"].choices = [(a, a) for a in settings.SCENECART_PROFILES]  # type: ignore[attr-defined]
        self.fields["backend"].choices = [(a, a) for a in backend_aliases()]  # type: ignore[attr-defined]
        self.fields["backend"].initial = settings.SCENECART_DEFAULT_BACKEND

    def _merchant(self, merchants: QuerySet[Merchant]) -> Merchant | None:
        raw = self.data.get("merchant") if self.is_bound else self.initial.get("merchant")
        if isinstance(raw, Merchant):
            return raw
        return merchants.filter(pk=raw).first() if str(raw or "").isdigit() else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        texts = list(data.get("contexts") or [])
        texts += [
            line.strip() for line in data.get("more_contexts", "").splitlines() if line.strip()
        ]
        try:
            contexts, aspects, backend = generation_choices(
                contexts=texts, aspects=data.get("aspects") or [], backend=data.get("backend")
            )
        except ContextError as exc:
            raise forms.ValidationError({"more_contexts": str(exc)}) from exc
        except (UnknownAspect, ImproperlyConfigured) as exc:
            raise forms.ValidationError(str(exc)) from exc
        data["parsed"] = (contexts, aspects, backend)
        return data

    def chosen_products(self) -> list[Product]:
        merchant = self.cleaned_data["merchant"]
        products = products_for_merchant(merchant=merchant)
        ids = [int(i) for i in self.cleaned_data["products"].split(",") if i.strip().isdigit()]
        if ids:
            # Selected products of this merchant only, drafts included: the merchant chose them.
            products = products_for_merchant(merchant=merchant, active_only=False).filter(
                pk__in=ids
            )
        return list(products)


@admin.register(BulkJob)
class BulkJobAdmin(MerchantScopedAdmin):
    list_display = ["__str__", "created_at", "backend", "progress_summary", "created_by"]
    list_filter = ["backend"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # jobs start from the product list (or "new/"), through the estimate

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="Progress")
    def progress_summary(self, obj: BulkJob) -> str:
        progress = bulk_progress(job=obj, failures_limit=0)
        return (
            f"{progress.percent} % — {progress.done} ready, {progress.failed} failed, "
            f"{progress.remaining} to go"
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("new/", view(self.generate_view), name="rendering_bulkjob_new"),
            path(
                "<int:job_id>/progress/",
                view(self.progress_view),
                name="rendering_bulkjob_progress",
            ),
            path(
                "<int:job_id>/progress.json",
                view(self.progress_json_view),
                name="rendering_bulkjob_progress_json",
            ),
            path("<int:job_id>/retry/", view(self.retry_view), name="rendering_bulkjob_retry"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if str(object_id).isdigit():
            return redirect("admin:rendering_bulkjob_progress", int(object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    def _job(self, request: HttpRequest, job_id: int) -> BulkJob:
        return get_object_or_404(self.get_queryset(request).select_related("merchant"), pk=job_id)

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        """Choose contexts, aspects and backend; see the estimate; confirm."""
        merchants = merchants_for_user(user=request.user)
        if not merchants.exists():
            raise PermissionDenied
        if request.method == "POST":
            form = GenerationForm(request.POST, merchants=merchants)
        else:
            merchant = merchants.filter(pk=request.GET.get("merchant") or 0).first()
            ids = [i for i in request.GET.get("ids", "").split(",") if i.isdigit()]
            if merchant is None and ids:
                merchant = merchants.filter(products__pk=ids[0]).first()
            if merchant is None:
                merchant = merchants.order_by("name").first()
            form = GenerationForm(
                initial={"merchant": merchant, "products": ",".join(ids)}, merchants=merchants
            )
        estimate = None
        if request.method == "POST" and form.is_valid():
            merchant = form.cleaned_data["merchant"]
            products = form.chosen_products()
            contexts, aspects, backend = form.cleaned_data["parsed"]
            if not products:
                form.add_error(None, f"{merchant.name} has no active products to generate.")
            else:
                estimate = generation_estimate(
                    merchant=merchant,
                    products=products,
                    contexts=contexts,
                    aspects=aspects,
                    backend=backend,
                )
                if "confirm" in request.POST:
                    job = bulk_job_create(
                        merchant=merchant,
                        products=products,
                        contexts=contexts,
                        aspects=aspects,
                        backend=backend,
                        estimate=estimate,
                        created_by=request.user,
                    )
                    self.message_user(
                        request,
                        f"Generation #{job.pk} started: {estimate.videos} videos.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:rendering_bulkjob_progress", job.pk)
        ids = form["products"].value() or ""
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate videos",
            "opts": self.model._meta,
            "form": form,
            "estimate": estimate,
            "scope": (
                f"{len([i for i in str(ids).split(',') if i])} selected products"
                if ids
                else "the whole catalog (every active product)"
            ),
            "wall": human_duration(estimate.wall_seconds) if estimate else "",
            "work": human_duration(estimate.work_seconds) if estimate else "",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rendering/bulkjob/new.html", context)

    def progress_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self._job(request, job_id)
        progress = bulk_progress(job=job)
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.model._meta,
            "job": job,
            "progress": progress,
            "eta": human_duration(progress.eta_seconds) if progress.eta_seconds else "",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rendering/bulkjob/progress.html", context)

    def progress_json_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        progress = bulk_progress(job=self._job(request, job_id), failures_limit=0)
        body = progress.to_dict()
        body["eta"] = human_duration(progress.eta_seconds) if progress.eta_seconds else ""
        response = JsonResponse(body)
        patch_cache_control(response, private=True, no_store=True)
        return response

    def retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self._job(request, job_id)
        if request.method != "POST":
            return redirect("admin:rendering_bulkjob_progress", job.pk)
        count = bulk_job_retry(job=job)
        self.message_user(
            request,
            f"{count} failed video(s) queued again." if count else "Nothing to retry.",
            messages.SUCCESS if count else messages.INFO,
        )
        return redirect("admin:rendering_bulkjob_progress", job.pk)


# --- The product page: generation and review of its variants -----------------------------------


class ReviewingProductAdmin(ProductAdmin):
    """The catalog's product admin with what rendering adds to it: the "generate videos"
    action and, on the product page, every variant with its review buttons. Registered in
    place of catalog's (catalog, below rendering, knows nothing of videos)."""

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


admin.site.unregister(Product)
admin.site.register(Product, ReviewingProductAdmin)


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


# --- Providers: routing and the merchant's own keys ---------------------------------------------


def _backend_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((alias, alias) for alias in backend_aliases())]


class RenderRoutingForm(forms.ModelForm):
    """The routing as a merchant thinks of it: a default, one choice per segment kind, a line
    per variant override, and the fallback chain; checked by ``render_routing_update``."""

    default_backend = forms.ChoiceField(required=False)
    hero = forms.ChoiceField(required=False, label="Opening shot (hero)")
    scene = forms.ChoiceField(required=False, label="Personalized scene")
    offer = forms.ChoiceField(required=False, label="Price card (offer)")
    outro = forms.ChoiceField(required=False, label="Closing shot (outro)")
    buckets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Per variant",
        help_text="One per line: a variant, then = and a backend, e.g. climate=rainy = seedance.",
    )
    chain = forms.CharField(
        required=False,
        label="Fallback chain",
        help_text=(
            "Backends tried in order when a provider fails for good (not for a moderation "
            "refusal), comma-separated, e.g. seedance, local."
        ),
    )

    class Meta:
        model = RenderRouting
        fields = ["merchant"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_backend"].choices = _backend_choices(  # type: ignore[attr-defined]
            f"The installation's default ({settings.SCENECART_DEFAULT_BACKEND})"
        )
        for kind in SEGMENT_KINDS:
            self.fields[kind].choices = _backend_choices("The default above")  # type: ignore[attr-defined]
        row = self.instance
        if row.pk:
            self.initial.update(
                default_backend=row.default_backend,
                buckets="\n".join(f"{b} = {a}" for b, a in row.bucket_backends.items()),
                chain=", ".join(row.fallbacks),
                **{kind: row.kind_backends.get(kind, "") for kind in SEGMENT_KINDS},
            )

    def clean_buckets(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data.get("buckets", "").splitlines(), 1):
            if not line.strip():
                continue
            bucket, sep, alias = line.rpartition("=")
            if not sep or not bucket.strip() or not alias.strip():
                raise forms.ValidationError(f"Line {number}: write a variant = a backend.")
            found[bucket.strip()] = alias.strip()
        return found

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        merchant = data.get("merchant")
        if merchant is None:
            return data
        try:
            with transaction.atomic():
                # Checked here (and rolled back) so a bad alias is a form error, not a 500.
                render_routing_update(**self._routing(merchant.pk, data))
                transaction.set_rollback(True)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    @staticmethod
    def _routing(merchant_id: int, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "merchant_id": merchant_id,
            "default_backend": data.get("default_backend", ""),
            "kind_backends": {k: data[k] for k in SEGMENT_KINDS if data.get(k)},
            "bucket_backends": data.get("buckets") or {},
            "fallbacks": [a.strip() for a in (data.get("chain") or "").split(",") if a.strip()],
        }


@admin.register(RenderRouting)
class RenderRoutingAdmin(MerchantScopedAdmin):
    form = RenderRoutingForm
    list_display = ["merchant", "default_or_installation", "kinds", "fallback_chain"]

    @admin.display(description="Default")
    def default_or_installation(self, obj: RenderRouting) -> str:
        return obj.default_backend or f"({settings.SCENECART_DEFAULT_BACKEND})"

    @admin.display(description="Per kind")
    def kinds(self, obj: RenderRouting) -> str:
        return ", ".join(f"{k}: {a}" for k, a in obj.kind_backends.items()) or "—"

    @admin.display(description="Fallbacks")
    def fallback_chain(self, obj: RenderRouting) -> str:
        return " → ".join(obj.fallbacks) or "—"

    def save_model(
        self, request: HttpRequest, obj: RenderRouting, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        saved = render_routing_update(**RenderRoutingForm._routing(data["merchant"].pk, data))
        obj.pk = saved.pk


class ProviderKeyForm(forms.ModelForm):
    backend = forms.ChoiceField()
    key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "Stored encrypted; never shown again (only its last 4 characters). Leave empty "
            "to keep the stored key."
        ),
    )

    class Meta:
        model = ProviderKey
        fields = ["merchant", "backend"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        remote = [a for a in backend_aliases() if a != "local"]
        self.fields["backend"].choices = [(a, a) for a in remote]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        same_backend = self.instance.pk and data.get("backend") == self.instance.backend
        if not data.get("key") and not same_backend:
            self.add_error("key", "Enter the provider's API key.")
        return data


@admin.register(ProviderKey)
class ProviderKeyAdmin(MerchantScopedAdmin):
    form = ProviderKeyForm
    list_display = ["merchant", "backend", "shown_key", "updated_at"]

    @admin.display(description="Key")
    def shown_key(self, obj: ProviderKey) -> str:
        return f"…{obj.hint}"

    def save_model(
        self, request: HttpRequest, obj: ProviderKey, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if not data["key"]:
            return  # the stored key is kept
        saved = provider_key_set(
            merchant_id=data["merchant"].pk, backend=data["backend"], key=data["key"]
        )
        obj.pk = saved.pk


# --- Content Credentials: the merchant's own signing certificate --------------------------------
