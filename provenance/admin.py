"""Merchants' own signing certificates in the admin: uploaded, checked, never shown back."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from catalog.admin import MerchantScopedAdmin

from .credentials import signing_certificate_check, signing_certificate_set
from .models import SigningCertificate

PEM_UPLOAD_LIMIT = 64 * 1024  # a chain of a few certificates is a few kilobytes


class SigningCertificateForm(forms.ModelForm):
    """Two uploads, checked on the form by the rules ``sign_video`` applies (through
    ``signing_certificate_check``), so a certificate that cannot sign is refused here, naming
    the file and the reason, before anything is stored. The key is write-only."""

    chain_file = forms.FileField(
        required=False,
        label="Certificate chain (PEM)",
        help_text=(
            "Your signing certificate first, then the certificate authority's certificates "
            "that issued it. It must be issued by a CA (not self-signed), allow "
            "digitalSignature, and carry an extended key usage c2pa accepts (an S/MIME "
            "emailProtection certificate works)."
        ),
    )
    key_file = forms.FileField(
        required=False,
        label="Private key (PEM)",
        help_text=(
            "The signing certificate's unencrypted private key. Stored encrypted; never "
            "shown again. Leave both files empty to keep the stored certificate."
        ),
    )

    class Meta:
        model = SigningCertificate
        fields = ["merchant"]

    def _read(self, field: str) -> tuple[str, bytes] | None:
        upload = self.cleaned_data.get(field)
        if not upload:
            return None
        if upload.size > PEM_UPLOAD_LIMIT:
            self.add_error(field, f"{upload.name} is too large for a PEM file.")
            return None
        content = upload.read()
        upload.seek(0)
        return upload.name, content

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chain, key = self._read("chain_file"), self._read("key_file")
        if self.errors:
            return data
        if chain is None and key is None and self.instance.pk:
            return data  # the stored certificate is kept
        if chain is None:
            self.add_error("chain_file", "Upload the certificate chain (PEM).")
        if key is None:
            self.add_error("key_file", "Upload the private key (PEM) of the certificate.")
        if chain is None or key is None:
            return data
        try:
            signing_certificate_check(
                chain_pem=chain[1], key_pem=key[1], chain_name=chain[0], key_name=key[0]
            )
        except ValidationError as exc:
            fields = {"chain_pem": "chain_file", "key_pem": "key_file"}
            for name, errors in exc.message_dict.items():
                for error in errors:
                    self.add_error(fields.get(name), error)
            return data
        data["uploads"] = (chain, key)
        return data


@admin.register(SigningCertificate)
class SigningCertificateAdmin(MerchantScopedAdmin):
    """A merchant's C2PA signing certificate: its videos are signed in its name. Without one,
    the installation's certificate (or the development chain) signs."""

    form = SigningCertificateForm
    list_display = ["merchant", "subject", "not_after", "updated_at"]
    readonly_fields = ["subject", "not_after", "updated_at"]

    def get_fields(
        self, request: HttpRequest, obj: SigningCertificate | None = None
    ) -> tuple[str, ...]:
        return ("merchant", *(self.readonly_fields if obj else ()), "chain_file", "key_file")

    def get_readonly_fields(
        self, request: HttpRequest, obj: SigningCertificate | None = None
    ) -> list[str]:
        # A certificate names one merchant: another merchant uploads its own.
        return ["merchant", *self.readonly_fields] if obj else []

    def save_model(
        self, request: HttpRequest, obj: SigningCertificate, form: forms.ModelForm, change: bool
    ) -> None:
        uploads = form.cleaned_data.get("uploads")
        if uploads is None:
            return  # the stored certificate is kept
        (chain_name, chain_pem), (key_name, key_pem) = uploads
        saved = signing_certificate_set(
            merchant_id=obj.merchant_id,
            chain_pem=chain_pem,
            key_pem=key_pem,
            chain_name=chain_name,
            key_name=key_name,
        )
        obj.pk = saved.pk
