"""The bucket policy and the content policy in the merchant workspace."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from catalog.admin import MerchantScopedAdmin

from .content_policy import content_policy_update
from .context import ShopperContext
from .models import BucketPolicy, ContentPolicy
from .services import bucket_policy_update
from .terms import maintained_list, term_lines


class BucketPolicyForm(forms.ModelForm):
    dimensions = forms.MultipleChoiceField(
        choices=[(name, name.capitalize()) for name in ShopperContext.VOCABULARIES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=(
            "Which parts of a shopper's context make a separate video variant. Tick none to "
            "give every shopper the generic video."
        ),
    )
    approved_buckets = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        required=False,
        help_text=(
            "One variant per line, e.g. climate=rainy,aesthetic=minimalist. Only these (and "
            "the generic video) are rendered when a shopper asks for them."
        ),
    )

    class Meta:
        model = BucketPolicy
        fields = [
            "merchant", "dimensions", "approved_buckets", "allow_public_hints",
            "require_consent", "holdout_percent", "require_approval", "review_data_refresh",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["approved_buckets"] = "\n".join(self.instance.approved_buckets)

    def clean_approved_buckets(self) -> list[str]:
        text = self.cleaned_data.get("approved_buckets") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


@admin.register(BucketPolicy)
class BucketPolicyAdmin(MerchantScopedAdmin):
    form = BucketPolicyForm
    list_display = [
        "merchant", "counted", "approved", "allow_public_hints", "require_consent",
        "holdout_percent", "require_approval",
    ]  # fmt: skip

    @admin.display(description="Dimensions")
    def counted(self, obj: BucketPolicy) -> str:
        return ", ".join(obj.dimensions) or "none (generic only)"

    @admin.display(description="Approved variants")
    def approved(self, obj: BucketPolicy) -> int:
        return len(obj.approved_buckets)

    def save_model(
        self, request: HttpRequest, obj: BucketPolicy, form: forms.ModelForm, change: bool
    ) -> None:
        # Through the service, so the storefront's cached copy is dropped.
        saved = bucket_policy_update(
            merchant=form.cleaned_data["merchant"],
            **{name: form.cleaned_data[name] for name in BucketPolicyForm.Meta.fields[1:]},
        )
        obj.pk = saved.pk


@admin.register(ContentPolicy)
class ContentPolicyAdmin(MerchantScopedAdmin):
    editable = ["licensed_assets_only", "extra_terms", "allowed_terms"]
    fields = ["merchant", *editable, "maintained"]
    readonly_fields = ["maintained"]
    list_display = ["merchant", "licensed_assets_only", "own_terms", "allowed"]

    @admin.display(description="Scenecart's list")
    def maintained(self, obj: ContentPolicy | None) -> str:
        terms = maintained_list().terms
        owners = sorted({term.owner for term in terms})
        return (
            f"{len(terms)} protected characters, titles and marks of {len(owners)} groups "
            f"({', '.join(owners[:6])}, …), kept up to date by Scenecart. They are refused in "
            "product texts, your brand kit and every prompt, in any spelling (Spider Man, "
            "spider-man, SpiderMan); words that are also ordinary English (apple, jordan) only "
            "in the phrases that mean the mark (Apple Watch, Air Jordan)."
        )

    @admin.display(description="Own terms")
    def own_terms(self, obj: ContentPolicy) -> int:
        return len(term_lines(obj.extra_terms))

    @admin.display(description="Allowed terms")
    def allowed(self, obj: ContentPolicy) -> int:
        return len(term_lines(obj.allowed_terms))

    def save_model(
        self, request: HttpRequest, obj: ContentPolicy, form: forms.ModelForm, change: bool
    ) -> None:
        # Through the service, like every other write of a merchant's settings.
        saved = content_policy_update(
            merchant=form.cleaned_data["merchant"],
            **{name: form.cleaned_data[name] for name in self.editable},
        )
        obj.pk = saved.pk
