"""Merchants' own C2PA signing certificates: a merchant that uploads one gets its videos signed
in its name (read back from the file with c2pa), the others keep the installation's
certificate or the development chain; a certificate that cannot sign is refused on upload,
naming the file and the reason; the private key is encrypted at rest and never shown back."""

import re
from pathlib import Path

import c2pa
import pytest
from cryptography import x509
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from catalog.models import Membership, Merchant
from catalog.services import membership_grant
from provenance.credentials import SigningCertificateError, signing_certificate_set
from provenance.manifest import read_manifest
from provenance.models import SigningCertificate
from rendering.models import Video
from rendering.video_provenance import sign_video
from scenecart.encryption import decrypt, encrypt
from tests.support.certificates import signing_chain
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]

DEV_SIGNER = "Scenecart development signer"


def signer_of(video: Video) -> dict[str, str]:
    """The signature_info of the stored file's active manifest, read with c2pa itself."""
    with (
        default_storage.open(video.file.name, "rb") as stream,
        c2pa.Reader("video/mp4", stream) as reader,
    ):
        assert reader.get_validation_state() == "Valid"
        return reader.get_active_manifest()["signature_info"]


def leaf_of(chain_pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificates(chain_pem)[0]


def key_body(key_pem: bytes) -> list[str]:
    """The base64 lines of a PEM key: none of them may appear anywhere."""
    return [line for line in key_pem.decode().splitlines() if line and "-----" not in line]


def owner_of(merchant: Merchant, username: str) -> AbstractUser:
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests", is_staff=True
    )
    membership_grant(merchant=merchant, user=user, role=Membership.Role.OWNER)
    return user


def pem_upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/x-pem-file")


# --- Which certificate signs --------------------------------------------------------------------


def test_a_merchants_own_certificate_signs_its_videos_others_get_the_dev_chain() -> None:
    northwind = make_merchant(name="Northwind Outfitters")
    uploaded = signing_chain("Northwind Outfitters", organization="Northwind Outfitters Ltd")
    stored = signing_certificate_set(merchant_id=northwind.pk, **uploaded)
    other = make_merchant(name="Southwind Supplies")

    own = make_ready_video(make_product(northwind, sku="JACKET"), "climate=rainy")
    theirs = make_ready_video(make_product(other, sku="STOVE"))

    leaf = leaf_of(uploaded["chain_pem"])
    signer = signer_of(own)
    assert signer["common_name"] == "Northwind Outfitters"
    assert signer["issuer"] == "Northwind Outfitters Ltd"  # c2pa's "issuer": the subject's O
    assert signer["cert_serial_number"] == str(leaf.serial_number)
    assert stored.subject == leaf.subject.rfc4514_string()
    assert stored.not_after == leaf.not_valid_after_utc
    summary = read_manifest(Path(default_storage.path(own.file.name)))
    assert summary["state"] == "untrusted"  # that CA is on no trust list
    assert [f["code"] for f in summary["failures"]] == ["signingCredential.untrusted"]

    assert signer_of(theirs)["common_name"] == DEV_SIGNER


def test_without_its_own_certificate_a_merchant_gets_the_installations(
    settings: Settings, tmp_path: Path
) -> None:
    operator = signing_chain("Scenecart Operator", organization="Scenecart Hosting")
    (tmp_path / "chain.pem").write_bytes(operator["chain_pem"])
    (tmp_path / "key.pem").write_bytes(operator["key_pem"])
    settings.SCENECART_C2PA_CERT_CHAIN = str(tmp_path / "chain.pem")
    settings.SCENECART_C2PA_PRIVATE_KEY = str(tmp_path / "key.pem")
    northwind = make_merchant(name="Northwind Outfitters")
    signing_certificate_set(merchant_id=northwind.pk, **signing_chain("Northwind Outfitters"))
    other = make_merchant(name="Southwind Supplies")

    own = make_ready_video(make_product(northwind, sku="JACKET"))
    theirs = make_ready_video(make_product(other, sku="STOVE"))

    assert signer_of(own)["common_name"] == "Northwind Outfitters"
    assert signer_of(theirs)["common_name"] == "Scenecart Operator"


def test_a_stored_certificate_that_expired_is_refused_naming_the_merchant(
    tmp_path: Path,
) -> None:
    """Not silently replaced by the installation's: the merchant asked for its own name."""
    northwind = make_merchant(name="Northwind Outfitters")
    product = make_product(northwind, sku="JACKET")
    video = make_ready_video(product)
    expired = signing_chain("Northwind Outfitters", expired=True)
    leaf = leaf_of(expired["chain_pem"])
    SigningCertificate.objects.create(  # as if it had expired since it was uploaded
        merchant=northwind,
        certificate_chain=expired["chain_pem"].decode(),
        encrypted_private_key=encrypt(expired["key_pem"].decode()),
        subject=leaf.subject.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
    )
    out = tmp_path / "signed.mp4"

    with pytest.raises(SigningCertificateError) as refused:
        sign_video(video=video, source=Path(default_storage.path(video.file.name)), dest=out)

    message = str(refused.value)
    assert "the signing certificate of Northwind Outfitters" in message
    assert "not now" in message
    assert not out.exists()


# --- Refused uploads ----------------------------------------------------------------------------


def mismatched_key() -> dict[str, bytes]:
    return {
        "chain_pem": signing_chain("Northwind Outfitters")["chain_pem"],
        "key_pem": signing_chain("Someone Else")["key_pem"],
    }


BAD_UPLOADS = [
    pytest.param(
        lambda: signing_chain("Northwind Outfitters", self_signed=True),
        "chain_pem",
        "is self-signed",
        id="self-signed",
    ),
    pytest.param(
        lambda: signing_chain("Northwind Outfitters", digital_signature=False),
        "chain_pem",
        "lacks the digitalSignature key usage",
        id="no-digitalSignature",
    ),
    pytest.param(
        lambda: signing_chain("Northwind Outfitters", expired=True),
        "chain_pem",
        "not now",
        id="expired",
    ),
    pytest.param(
        mismatched_key, "key_pem", "is not the key of the first certificate", id="other-key"
    ),
    pytest.param(
        lambda: {"chain_pem": b"not a certificate", "key_pem": b"nor a key"},
        "chain_pem",
        "holds no PEM certificate",
        id="not-pem",
    ),
]


@pytest.mark.parametrize(("make", "field", "reason"), BAD_UPLOADS)
def test_the_service_refuses_a_certificate_that_cannot_sign(
    make: object, field: str, reason: str
) -> None:
    merchant = make_merchant()
    files = {"chain_pem": "northwind-chain.pem", "key_pem": "northwind-key.pem"}

    with pytest.raises(ValidationError) as refused:
        signing_certificate_set(
            merchant_id=merchant.pk,
            **make(),  # type: ignore[operator]
            chain_name=files["chain_pem"],
            key_name=files["key_pem"],
        )

    errors = refused.value.message_dict
    assert list(errors) == [field]
    assert reason in errors[field][0]
    assert files[field] in errors[field][0]
    assert not SigningCertificate.objects.exists()


@pytest.mark.parametrize(("make", "field", "reason"), BAD_UPLOADS)
def test_the_admin_refuses_a_bad_upload_on_its_field(
    client: Client, make: object, field: str, reason: str
) -> None:
    merchant = make_merchant(name="Northwind Outfitters")
    client.force_login(owner_of(merchant, "northwind-owner"))
    upload = make()  # type: ignore[operator]

    response = client.post(
        reverse("admin:provenance_signingcertificate_add"),
        {
            "merchant": merchant.pk,
            "chain_file": pem_upload("northwind-chain.pem", upload["chain_pem"]),
            "key_file": pem_upload("northwind-key.pem", upload["key_pem"]),
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    form_field = {"chain_pem": "chain_file", "key_pem": "key_file"}[field]
    [message] = form.errors[form_field]
    assert reason in message
    assert ("northwind-chain.pem" if field == "chain_pem" else "northwind-key.pem") in message
    assert reason in response.content.decode()
    assert not SigningCertificate.objects.exists()


def test_the_admin_needs_both_files_for_a_new_certificate(client: Client) -> None:
    merchant = make_merchant()
    client.force_login(owner_of(merchant, "owner"))
    chain = signing_chain("Northwind Outfitters")

    response = client.post(
        reverse("admin:provenance_signingcertificate_add"),
        {"merchant": merchant.pk, "chain_file": pem_upload("chain.pem", chain["chain_pem"])},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["key_file"] == [
        "Upload the private key (PEM) of the certificate."
    ]
    assert not SigningCertificate.objects.exists()


# --- The key: encrypted at rest, never shown ------------------------------------------------------


def test_the_private_key_is_encrypted_at_rest() -> None:
    merchant = make_merchant()
    uploaded = signing_chain("Northwind Outfitters")

    row = signing_certificate_set(merchant_id=merchant.pk, **uploaded)

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {SigningCertificate._meta.db_table} WHERE id = %s",
            [row.pk],
        )
        columns = [str(value) for value in cursor.fetchone()]
    stored = " ".join(columns)
    assert "PRIVATE KEY" not in stored
    for line in key_body(uploaded["key_pem"]):
        assert line not in stored
    assert decrypt(row.encrypted_private_key) == uploaded["key_pem"].decode()
    # The chain is public and kept as uploaded.
    assert row.certificate_chain == uploaded["chain_pem"].decode()


def test_the_admin_stores_an_upload_and_never_shows_the_key(client: Client) -> None:
    merchant = make_merchant(name="Northwind Outfitters")
    client.force_login(owner_of(merchant, "northwind-owner"))
    first = signing_chain("Northwind Outfitters", organization="Northwind Outfitters Ltd")

    response = client.post(
        reverse("admin:provenance_signingcertificate_add"),
        {
            "merchant": merchant.pk,
            "chain_file": pem_upload("chain.pem", first["chain_pem"]),
            "key_file": pem_upload("key.pem", first["key_pem"]),
            "_save": "Save",
        },
        follow=True,
    )

    assert response.redirect_chain, response.context["adminform"].form.errors
    row = SigningCertificate.objects.get(merchant=merchant)
    changelist = response.content.decode()
    assert "Northwind Outfitters" in changelist
    assert row.subject in changelist  # the list shows the subject…
    expiry = row.not_after.strftime("%Y")
    assert expiry in changelist  # …and the expiry

    change_url = reverse("admin:provenance_signingcertificate_change", args=[row.pk])
    # Saving the change page without files keeps the stored certificate.
    kept = client.post(change_url, {"_save": "Save"}, follow=True)
    assert kept.redirect_chain
    assert SigningCertificate.objects.get(pk=row.pk).encrypted_private_key == (
        row.encrypted_private_key
    )
    # New files replace it.
    second = signing_chain("Northwind Outfitters EU", organization="Northwind Outfitters GmbH")
    client.post(
        change_url,
        {
            "chain_file": pem_upload("chain-2025.pem", second["chain_pem"]),
            "key_file": pem_upload("key-2025.pem", second["key_pem"]),
            "_save": "Save",
        },
    )
    replaced = SigningCertificate.objects.get(pk=row.pk)
    assert "Northwind Outfitters EU" in replaced.subject
    assert decrypt(replaced.encrypted_private_key) == second["key_pem"].decode()

    pages = {
        "changelist": reverse("admin:provenance_signingcertificate_changelist"),
        "change": change_url,
        "history": reverse("admin:provenance_signingcertificate_history", args=[row.pk]),
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        page = response.content.decode()
        assert "PRIVATE KEY" not in page, name
        for key in (first, second):
            for line in key_body(key["key_pem"]):
                assert line not in page, name
        for token in (row.encrypted_private_key, replaced.encrypted_private_key):
            assert token not in page, name
    change_page = client.get(change_url).content.decode()
    assert "Northwind Outfitters EU" in change_page
    # Two empty file inputs: nothing of the stored files is put back in the form.
    assert len(re.findall(r'<input type="file"[^>]*>', change_page)) == 2
