"""Who signs a video's Content Credentials: the merchant's own certificate, else the
installation's, else a development chain made on first use.

Signing credentials, most specific first: the video's merchant's own certificate (a
``SigningCertificate`` row, uploaded in the admin through ``signing_certificate_set``), the
installation's (``SCENECART_C2PA_CERT_CHAIN`` + ``SCENECART_C2PA_PRIVATE_KEY``), else a
development chain generated on first use under ``SCENECART_VAR_DIR / "c2pa"``. c2pa refuses a
self-signed leaf, so the development chain is a root CA and a leaf it issued. Nobody trusts
that root, so a file signed with it reads back as valid but untrusted; a verifier that is
given the root (``SCENECART_C2PA_TRUST_ANCHORS``) reads it as trusted.
"""

import datetime as dt
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone

from scenecart.encryption import decrypt, encrypt

from .models import SigningCertificate

logger = logging.getLogger(__name__)

# The development chain: a folder under SCENECART_VAR_DIR / "c2pa", published in one rename so
# a reader never sees a certificate without its key.
DEV_CHAIN_FOLDER = "dev"
CHAIN_FILE = "chain.pem"  # the signing certificate, then the root that issued it
KEY_FILE = "key.pem"  # the signing certificate's private key (PKCS#8), mode 0600
ROOT_FILE = "root.pem"  # the root alone: give it to a verifier to make these files trusted
DEV_ROOT_YEARS = 20
DEV_LEAF_YEARS = 10

# Extended key usages c2pa-python 0.38.1 (c2pa-rs 0.91) accepts for a signing certificate
# with its default settings. Measured, not read from the spec: it refuses a leaf whose only
# EKU is serverAuth, anyExtendedKeyUsage, documentSigning or c2pa-kp-claimSigning with
# "certificate missing required EKU". Checked here so the error names the setting.
ACCEPTED_EKUS = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


class SigningCertificateError(ImproperlyConfigured):
    """The signing certificate or key cannot make a C2PA manifest; the message names the
    setting (or the development chain's folder, or the merchant) and what is wrong.

    ``part`` is what is wrong: ``"chain"`` or ``"key"``, so an upload form can put the message
    on the right field.
    """

    def __init__(self, message: str, *, part: str = "chain") -> None:
        super().__init__(message)
        self.part = part


# --- Signing credentials ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SigningCredentials:
    chain_pem: bytes  # the signing certificate first, then the CAs up to (not always incl.) a root
    key_pem: bytes  # as PKCS#8 PEM, whatever form it was given in
    alg: c2pa.C2paSigningAlg
    tsa_url: str | None
    origin: str  # where they came from, named in every error
    development: bool


def signing_credentials(*, merchant_id: int | None = None) -> SigningCredentials:
    """The merchant's own certificate and key when it uploaded one, else the installation's
    (settings), else the development chain (made on first use).

    Checked before c2pa sees them: c2pa's own refusal is "the certificate is invalid", and an
    operator needs to know which setting holds what certificate, and what is wrong with it.
    A merchant's certificate that no longer passes (it expired) is refused, not replaced by
    the installation's: the merchant asked for its videos to be signed in its own name.
    """
    own = (
        SigningCertificate.objects.select_related("merchant")
        .filter(merchant_id=merchant_id)
        .first()
        if merchant_id is not None
        else None
    )
    source = _merchant_source(own) if own else (_settings_source() or _development_source())
    alg, key_pkcs8 = _check_credentials(
        source.chain_pem, source.key_pem, source.chain_origin, source.key_origin
    )
    return SigningCredentials(
        chain_pem=source.chain_pem,
        key_pem=key_pkcs8,
        alg=alg,
        tsa_url=str(settings.SCENECART_C2PA_TSA_URL or "") or None,
        origin=source.chain_origin,
        development=source.development,
    )


@dataclass(frozen=True, slots=True)
class _Source:
    """A certificate chain and its key as found, with where they came from (for errors)."""

    chain_pem: bytes
    key_pem: bytes
    chain_origin: str
    key_origin: str
    development: bool = False


def _merchant_source(own: SigningCertificate) -> _Source:
    name = own.merchant.name
    return _Source(
        chain_pem=own.certificate_chain.encode(),
        key_pem=decrypt(own.encrypted_private_key).encode(),
        chain_origin=(
            f"the signing certificate of {name} ({own.subject}; replace it in the admin under "
            "Signing certificates)"
        ),
        key_origin=f"the private key of {name}'s signing certificate",
    )


def _settings_source() -> _Source | None:
    """The installation's certificate, if SCENECART_C2PA_CERT_CHAIN/PRIVATE_KEY name one."""
    chain_setting = str(settings.SCENECART_C2PA_CERT_CHAIN or "")
    key_setting = str(settings.SCENECART_C2PA_PRIVATE_KEY or "")
    if not (chain_setting or key_setting):
        return None
    if not (chain_setting and key_setting):
        missing = "SCENECART_C2PA_PRIVATE_KEY" if chain_setting else "SCENECART_C2PA_CERT_CHAIN"
        raise SigningCertificateError(
            f"{missing} is not set: SCENECART_C2PA_CERT_CHAIN and SCENECART_C2PA_PRIVATE_KEY "
            "go together (a PEM certificate chain and its private key), or leave both empty "
            "for the development chain."
        )
    return _Source(
        chain_pem=_read_setting_file("SCENECART_C2PA_CERT_CHAIN", chain_setting),
        key_pem=_read_setting_file("SCENECART_C2PA_PRIVATE_KEY", key_setting),
        chain_origin=f"SCENECART_C2PA_CERT_CHAIN ({chain_setting})",
        key_origin=f"SCENECART_C2PA_PRIVATE_KEY ({key_setting})",
    )


def _development_source() -> _Source:
    folder = development_chain()
    return _Source(
        chain_pem=(folder / CHAIN_FILE).read_bytes(),
        key_pem=(folder / KEY_FILE).read_bytes(),
        chain_origin=(
            f"the development chain {folder / CHAIN_FILE} (delete {folder} to make a new one)"
        ),
        key_origin=f"the development key {folder / KEY_FILE}",
        development=True,
    )


def _read_setting_file(name: str, value: str) -> bytes:
    try:
        return Path(value).read_bytes()
    except OSError as exc:
        raise SigningCertificateError(f"{name}={value!r} cannot be read: {exc}") from exc


def _check_credentials(
    chain_pem: bytes, key_pem: bytes, chain_origin: str, key_origin: str
) -> tuple[c2pa.C2paSigningAlg, bytes]:
    """The signing algorithm the key calls for and the key as PKCS#8 PEM; refuses what c2pa
    (or the C2PA certificate profile) would, with the reason."""
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise SigningCertificateError(
            f"{chain_origin} holds no PEM certificate: {exc}. Give the signing certificate "
            "first, then the CA certificates that issued it."
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningCertificateError(
            f"{key_origin} is not an unencrypted PEM private key: {exc}", part="key"
        ) from exc
    leaf = chain[0]
    subject = leaf.subject.rfc4514_string()
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise SigningCertificateError(
            f"{key_origin} is not the key of the first certificate in {chain_origin} "
            f"({subject}): the chain must start with the signing certificate.",
            part="key",
        )
    alg = _algorithm(key, key_origin)
    if leaf.issuer == leaf.subject:
        raise SigningCertificateError(
            f"{chain_origin}: the signing certificate ({subject}) is self-signed. C2PA needs a "
            "certificate issued by a certificate authority; put the CA's certificate after it."
        )
    now = timezone.now()
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise SigningCertificateError(
            f"{chain_origin}: the signing certificate ({subject}) is valid from "
            f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}, "
            "not now."
        )
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        raise SigningCertificateError(
            f"{chain_origin}: the signing certificate ({subject}) lacks the digitalSignature "
            "key usage, which C2PA requires of a claim signer."
        )
    try:
        ekus = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        ekus = set()
    if not ekus & set(ACCEPTED_EKUS):
        raise SigningCertificateError(
            f"{chain_origin}: the signing certificate ({subject}) has no extended key usage "
            f"c2pa accepts ({', '.join(ACCEPTED_EKUS.values())}); an S/MIME (emailProtection) "
            "certificate works."
        )
    try:
        leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        raise SigningCertificateError(
            f"{chain_origin}: the signing certificate ({subject}) has no authority key "
            "identifier, which c2pa requires."
        ) from exc
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return alg, pkcs8


def _algorithm(key: object, key_origin: str) -> c2pa.C2paSigningAlg:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {
            "secp256r1": c2pa.C2paSigningAlg.ES256,
            "secp384r1": c2pa.C2paSigningAlg.ES384,
            "secp521r1": c2pa.C2paSigningAlg.ES512,
        }
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    elif isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256  # C2PA allows RSA only with PSS padding
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    raise SigningCertificateError(
        f"{key_origin}: C2PA signs with P-256/P-384/P-521, RSA (PSS) or Ed25519 keys; "
        f"this is a {type(key).__name__}.",
        part="key",
    )


def development_chain() -> Path:
    """The folder of the development signing chain, generated on first use and reused after.

    Never regenerated while it is there (every file signed so far names its root). Made in a
    temporary folder and published with one rename, so two processes starting at once both end
    up with the one that landed first, and no reader sees a certificate without its key.
    """
    base = Path(settings.SCENECART_VAR_DIR) / "c2pa"
    folder = base / DEV_CHAIN_FOLDER
    if (folder / CHAIN_FILE).exists() and (folder / KEY_FILE).exists():
        return folder
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dev-", dir=base))
    try:
        _write_development_chain(staging)
        try:
            staging.rename(folder)
            logger.warning(
                "Made a development C2PA signing chain in %s: files signed with it read as "
                "valid but untrusted. Set SCENECART_C2PA_CERT_CHAIN and "
                "SCENECART_C2PA_PRIVATE_KEY in production.",
                folder,
            )
        except OSError:
            # Another process published its chain first (the rename onto a folder with files
            # in it fails): use that one.
            if not ((folder / CHAIN_FILE).exists() and (folder / KEY_FILE).exists()):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_development_chain(folder: Path) -> None:
    now = timezone.now() - dt.timedelta(hours=1)  # tolerate clocks a little behind ours
    organization = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Scenecart development")
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Scenecart Development Root CA"), organization]
    )
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * DEV_ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "Scenecart development signer"),
                    organization,
                ]
            )
        )
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * DEV_LEAF_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    # The root's key is not kept: nothing more is ever issued under this development root.
    root_pem = root.public_bytes(serialization.Encoding.PEM)
    _write(folder / CHAIN_FILE, leaf.public_bytes(serialization.Encoding.PEM) + root_pem, 0o644)
    _write(folder / ROOT_FILE, root_pem, 0o644)
    _write(
        folder / KEY_FILE,
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# --- Merchants' own certificates ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    chain_pem: str  # the certificates alone, re-encoded (no text around them)
    key_pem: str  # PKCS#8
    subject: str  # of the signing certificate, RFC 4514
    not_after: dt.datetime


def signing_certificate_check(
    *, chain_pem: bytes, key_pem: bytes, chain_name: str = "", key_name: str = ""
) -> CheckedCertificate:
    """A merchant's certificate chain and key, checked as ``sign_video`` checks the
    installation's (``_check_credentials``), so what is stored can sign. A ValidationError on
    ``chain_pem`` or ``key_pem`` names the file (``chain_name``/``key_name``, the uploads'
    names) and the reason."""
    chain_origin = f"the certificate chain {chain_name}".strip()
    key_origin = f"the private key {key_name}".strip()
    try:
        _, key_pkcs8 = _check_credentials(chain_pem, key_pem, chain_origin, key_origin)
    except SigningCertificateError as exc:
        message = str(exc)
        field = "key_pem" if exc.part == "key" else "chain_pem"
        raise ValidationError({field: message[:1].upper() + message[1:]}) from exc
    chain = x509.load_pem_x509_certificates(chain_pem)
    return CheckedCertificate(
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain).decode(),
        key_pem=key_pkcs8.decode(),
        subject=chain[0].subject.rfc4514_string(),
        not_after=chain[0].not_valid_after_utc,
    )


def signing_certificate_set(
    *,
    merchant_id: int,
    chain_pem: bytes,
    key_pem: bytes,
    chain_name: str = "",
    key_name: str = "",
) -> SigningCertificate:
    """Store (or replace) a merchant's signing certificate, checked first: nothing is stored
    unless it can sign. The key is kept encrypted (rendering.secrets) and never shown back."""
    checked = signing_certificate_check(
        chain_pem=chain_pem, key_pem=key_pem, chain_name=chain_name, key_name=key_name
    )
    row = SigningCertificate.objects.filter(merchant_id=merchant_id).first()
    if row is None:
        row = SigningCertificate(merchant_id=merchant_id)
    row.certificate_chain = checked.chain_pem
    row.encrypted_private_key = encrypt(checked.key_pem)
    row.subject = checked.subject
    row.not_after = checked.not_after
    row.full_clean()
    row.save()
    logger.info("Stored the signing certificate of merchant %s (%s)", merchant_id, row.subject)
    return row
