"""Which backend renders what for a merchant, and the merchant's own provider keys."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from catalog.admin import MerchantScopedAdmin, form_field

from ..backends import aliases as backend_aliases
from ..models import (
    ProviderKey,
    RenderRouting,
)
from ..routing import SEGMENT_KINDS, provider_key_set, render_routing_update


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
        form_field(self, "default_backend", forms.ChoiceField).choices = _backend_choices(
            f"The installation's default ({settings.SCENECART_DEFAULT_BACKEND})"
        )
        for kind in SEGMENT_KINDS:
            form_field(self, kind, forms.ChoiceField).choices = _backend_choices(
                "The default above"
            )
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
        form_field(self, "backend", forms.ChoiceField).choices = [(a, a) for a in remote]

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
