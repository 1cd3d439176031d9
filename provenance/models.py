"""Who signs Content Credentials: a merchant's own certificate."""

from django.db import models

from catalog.models import Merchant


class SigningCertificate(models.Model):
    """A merchant's own C2PA signing certificate: its videos are signed in its name instead of
    the installation's (provenance.manifest.sign_file). Stored through
    ``provenance.credentials.signing_certificate_set``, which checks it first; the private key is
    encrypted at rest (scenecart.encryption) and never shown back."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="signing_certificate"
    )
    certificate_chain = models.TextField(
        editable=False, help_text="PEM: the signing certificate, then the CAs that issued it."
    )
    encrypted_private_key = models.TextField(editable=False)
    subject = models.CharField(
        max_length=500, editable=False, help_text="The signing certificate's subject."
    )
    not_after = models.DateTimeField(
        editable=False, verbose_name="expires", help_text="The signing certificate's expiry."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Made by rendering's migrations, before provenance was an app of its own.
        db_table = "rendering_signingcertificate"

    def __str__(self) -> str:
        return f"Signing certificate of {self.merchant}"
