"""Bulk generation in the admin: choose, estimate, confirm, follow the progress, retry."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control

from catalog.admin import MerchantScopedAdmin, form_field
from catalog.models import Merchant, Product
from catalog.selectors import merchants_for_user, products_for_merchant
from personalization.context import GENERIC_BUCKET, ContextError
from personalization.policy import policy_for

from ..backends import aliases as backend_aliases
from ..bulk import (
    bulk_job_create,
    bulk_job_retry,
    generation_choices,
    generation_estimate,
    human_duration,
)
from ..models import (
    BulkJob,
)
from ..profiles import UnknownAspect
from ..selectors import bulk_progress


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
        form_field(self, "merchant", forms.ModelChoiceField).queryset = merchants
        merchant = self._merchant(merchants)
        approved = policy_for(merchant=merchant).approved if merchant else frozenset()
        buckets = [GENERIC_BUCKET, *sorted(approved)]
        form_field(self, "contexts", forms.MultipleChoiceField).choices = [(b, b) for b in buckets]
        self.fields["contexts"].initial = buckets
        aspects = [(a, a) for a in settings.SCENECART_PROFILES]
        form_field(self, "aspects", forms.MultipleChoiceField).choices = aspects
        backends = [(a, a) for a in backend_aliases()]
        form_field(self, "backend", forms.ChoiceField).choices = backends
        self.fields["backend"].initial = settings.SCENECART_DEFAULT_BACKEND

    def _merchant(self, merchants: QuerySet[Merchant]) -> Merchant | None:
        raw = self.data.get("merchant") if self.is_bound else self.initial.get("merchant")
        if isinstance(raw, Merchant):
            return raw
        text = str(raw or "")
        return merchants.filter(pk=text).first() if text.isdigit() else None

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
        selected = form["products"].value() or ""
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate videos",
            "opts": self.model._meta,
            "form": form,
            "estimate": estimate,
            "scope": (
                f"{len([i for i in str(selected).split(',') if i])} selected products"
                if selected
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
