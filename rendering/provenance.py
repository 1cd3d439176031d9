"""Provenance: what made a video, and the signed C2PA manifest every published MP4 carries.

Three parts:

- ``public_provenance_record(video)``: a plain read of the Video and Segment rows, limited to
  what a shopper may see (backend, model, input content hashes, times; no prompts, costs,
  keys, provider jobs or file names), as JSON-ready data. The public
  ``/provenance/<public id>`` page shows it, for published videos only, and the manifest
  carries it.
- ``sign_video(video=…, source=…, dest=…)``: embeds a C2PA manifest (c2pa-python) declaring
  the file AI-generated (``trainedAlgorithmicMedia``) when any segment came from an AI provider,
  else algorithmically composed (``algorithmicMedia``, the local compositor), with the segments
  as ingredients and the record as the ``com.scenecart.provenance`` assertion.
- ``read_manifest(path_or_stream)``: the manifest read back, and whether it validates.

Signing credentials, most specific first: the video's merchant's own certificate (a
``SigningCertificate`` row, uploaded in the admin through ``signing_certificate_set``), the
installation's (``SCENECART_C2PA_CERT_CHAIN`` + ``SCENECART_C2PA_PRIVATE_KEY``), else a
development chain generated on first use under ``SCENECART_VAR_DIR / "c2pa"``. c2pa refuses a
self-signed leaf, so the development chain is a root CA and a leaf it issued. Nobody trusts
that root, so a file signed with it reads back as valid but untrusted; a verifier that is
given the root (``SCENECART_C2PA_TRUST_ANCHORS``) reads it as trusted.
"""

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from catalog.models import Product
from scenecart.cache import read_through

from .backends import backend_for
from .models import Segment, SigningCertificate, Video
from .publication import video_is_published
from .secrets import decrypt, encrypt

logger = logging.getLogger(__name__)

# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), as C2PA
# expects them on the c2pa.created action.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
PROVENANCE_ASSERTION = "com.scenecart.provenance"
CLAIM_GENERATOR = "Scenecart"
MP4 = "video/mp4"

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

MANIFEST_CACHE_SECONDS = 60 * 60

CONTENT_HASH = re.compile(r"(uncut:)?[0-9a-f]{64}")


class SigningCertificateError(ImproperlyConfigured):
    """The signing certificate or key cannot make a C2PA manifest; the message names the
    setting (or the development chain's folder, or the merchant) and what is wrong.

    ``part`` is what is wrong: ``"chain"`` or ``"key"``, so an upload form can put the message
    on the right field.
    """

    def __init__(self, message: str, *, part: str = "chain") -> None:
        super().__init__(message)
        self.part = part


# --- The record ---------------------------------------------------------------------------------


def public_provenance_record(video: Video) -> dict[str, Any]:
    """What made ``video`` and each of its segments, as much as a shopper may see, as
    JSON-ready data. Reads rows only.

    The page, its JSON and the manifest signed into the published MP4 all carry this record
    and nothing else, so everything in it is public. Left out on purpose: what the merchant
    paid, the prompts and seeds (the merchant's creative work, and what would let a rival
    reproduce it), segment and recipe keys, provider job ids and stored file names (handles
    into our systems and the providers'). Input content hashes stay: they are sha256 digests
    of the product photo and brand assets, which let anyone check which photo a video was
    made from without revealing anything that photo does not.
    """
    video = Video.objects.select_related("product__merchant").get(pk=video.pk)
    parts = list(video.parts.select_related("segment").order_by("position"))
    segments = [_public_segment_record(part.position, part.segment) for part in parts]
    product = video.product
    return {
        "public_id": str(video.public_id),
        "merchant": {"name": product.merchant.name},
        "product": {"title": product.title},
        "bucket": video.bucket,
        "aspect": video.aspect,
        "ai_generated": any(s["ai_generated"] for s in segments),
        "created_at": _iso(video.created_at),
        "ready_at": _iso(video.ready_at),
        "duration": _seconds(video.duration),
        "segments": segments,
    }


def _public_segment_record(position: int, segment: Segment) -> dict[str, Any]:
    return {
        "position": position,
        "kind": segment.kind,
        "backend": segment.backend,
        "model": _model(segment.backend_version),
        "ai_generated": is_ai_backend(segment.backend, segment.backend_version),
        "inputs": _content_hashes(segment.inputs),
        "duration": _seconds(segment.duration),
        "rendered_at": _iso(segment.rendered_at),
        # Made by the local renderer because a provider failed; which segment it replaced is
        # an internal key.
        "stand_in": segment.fallback_for_id is not None,
    }


def _content_hashes(inputs: Any) -> dict[str, str]:
    """The inputs that are content hashes (a sha256, or ``uncut:<sha256>`` for a photo used
    before its cutout was made); anything else a future input might hold stays private."""
    if not isinstance(inputs, dict):
        return {}
    return {
        str(name): value
        for name, value in inputs.items()
        if isinstance(value, str) and CONTENT_HASH.fullmatch(value)
    }


def _model(backend_version: str) -> str:
    # Providers' versions are "provider:model" (RemoteBackend.version); the local compositor's
    # is its own version ("local-2"), which is what made its pixels.
    return backend_version.split(":", 1)[1] if ":" in backend_version else backend_version


def is_ai_backend(alias: str, backend_version: str = "") -> bool:
    """Whether a segment of ``alias`` came from a generative AI provider.

    Asked of the configured backend: AI providers are the asynchronous (submit, then poll)
    ones. An alias no longer configured (a provider's key was removed) is judged by the row:
    providers' versions read "provider:model"; anything else unknown counts as AI, because
    under-labelling AI output is the error that matters.
    """
    try:
        backend = backend_for(alias)
    except ImproperlyConfigured:
        return ":" in backend_version or not backend_version.startswith("local")
    return getattr(type(backend), "synchronous", True) is False


def _seconds(value: float | None) -> float | None:
    # To the millisecond: c2pa parses floats with up to 17 significant digits inexactly, so a
    # full-precision float would read back from the manifest as a neighbouring number.
    return round(value, 3) if value is not None else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def video_for_provenance(*, public_id: uuid.UUID) -> Video | None:
    """The published video of that public id, or None.

    Published as the storefront's lookup would serve it (``video_is_published``): a video
    awaiting the merchant's review, rejected, unfinished or of a draft product is withheld
    from the lookup, so how it was made is withheld too. None either way, so an answer does
    not tell an unpublished video from one that does not exist.
    """
    video = Video.objects.select_related("product__merchant").filter(public_id=public_id).first()
    if video is None or not video_is_published(video=video):
        return None
    return video


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
    tsa_url = str(settings.SCENECART_C2PA_TSA_URL or "") or None
    own = (
        SigningCertificate.objects.select_related("merchant")
        .filter(merchant_id=merchant_id)
        .first()
        if merchant_id is not None
        else None
    )
    if own is not None:
        origin = (
            f"the signing certificate of {own.merchant.name} ({own.subject}; replace it in the "
            "admin under Signing certificates)"
        )
        alg, key_pkcs8 = _check_credentials(
            own.certificate_chain.encode(),
            decrypt(own.encrypted_private_key).encode(),
            origin,
            f"the private key of {own.merchant.name}'s signing certificate",
        )
        return SigningCredentials(
            chain_pem=own.certificate_chain.encode(),
            key_pem=key_pkcs8,
            alg=alg,
            tsa_url=tsa_url,
            origin=origin,
            development=False,
        )
    chain_setting = str(settings.SCENECART_C2PA_CERT_CHAIN or "")
    key_setting = str(settings.SCENECART_C2PA_PRIVATE_KEY or "")
    if chain_setting or key_setting:
        if not (chain_setting and key_setting):
            missing = "SCENECART_C2PA_PRIVATE_KEY" if chain_setting else "SCENECART_C2PA_CERT_CHAIN"
            raise SigningCertificateError(
                f"{missing} is not set: SCENECART_C2PA_CERT_CHAIN and SCENECART_C2PA_PRIVATE_KEY "
                "go together (a PEM certificate chain and its private key), or leave both empty "
                "for the development chain."
            )
        chain_pem = _read_setting_file("SCENECART_C2PA_CERT_CHAIN", chain_setting)
        key_pem = _read_setting_file("SCENECART_C2PA_PRIVATE_KEY", key_setting)
        chain_origin = f"SCENECART_C2PA_CERT_CHAIN ({chain_setting})"
        key_origin = f"SCENECART_C2PA_PRIVATE_KEY ({key_setting})"
        development = False
    else:
        folder = development_chain()
        chain_pem = (folder / CHAIN_FILE).read_bytes()
        key_pem = (folder / KEY_FILE).read_bytes()
        chain_origin = (
            f"the development chain {folder / CHAIN_FILE} (delete {folder} to make a new one)"
        )
        key_origin = f"the development key {folder / KEY_FILE}"
        development = True
    alg, key_pkcs8 = _check_credentials(chain_pem, key_pem, chain_origin, key_origin)
    return SigningCredentials(
        chain_pem=chain_pem,
        key_pem=key_pkcs8,
        alg=alg,
        tsa_url=tsa_url,
        origin=chain_origin,
        development=development,
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


# --- Signing ------------------------------------------------------------------------------------


def sign_video(*, video: Video, source: Path, dest: Path) -> None:
    """Write ``source`` with an embedded, signed C2PA manifest to ``dest`` (may be ``source``).

    Written to a temporary file beside ``dest`` and renamed over it, so ``dest`` is either
    absent (or what it was) or complete. c2pa checks what it wrote before returning.
    """
    merchant_id = Product.objects.filter(pk=video.product_id).values_list("merchant_id", flat=True)
    credentials = signing_credentials(merchant_id=merchant_id.first())
    manifest = video_manifest_definition(video)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w+b") as out, source.open("rb") as src:
            try:
                with (
                    c2pa.Signer.from_info(
                        c2pa.C2paSignerInfo(
                            credentials.alg,
                            credentials.chain_pem,
                            credentials.key_pem,
                            credentials.tsa_url,
                        )
                    ) as signer,
                    c2pa.Builder(manifest) as builder,
                ):
                    # c2pa reads the output back to verify it, hence a w+b file.
                    builder.sign(signer, MP4, src, out)
            except c2pa.C2paError as exc:
                refusal = _certificate_refusal(exc, credentials)
                if refusal is None:
                    raise
                raise refusal from exc
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file 0600; the published file keeps the permissions it had, so a
        # web server in front of local storage can still serve it.
        temp.chmod(stat.S_IMODE(source.stat().st_mode))
        temp.replace(dest)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def video_resign(*, video: Video) -> None:
    """Sign the stored file again with the video's manifest as it is made now (the public
    record): files signed before a change to the record carry the old one inside them. The
    stored file is replaced whole (local: renamed over; S3: one PUT)."""
    name = video.file.name
    try:
        path = Path(default_storage.path(name))
    except NotImplementedError:
        path = None
    if path is not None:
        sign_video(video=video, source=path, dest=path)
        return
    with tempfile.TemporaryDirectory(prefix="scenecart-resign-") as workdir:
        local = Path(workdir) / "video.mp4"
        with default_storage.open(name, "rb") as source, local.open("wb") as target:
            shutil.copyfileobj(source, target, length=1024 * 1024)
        sign_video(video=video, source=local, dest=local)
        with local.open("rb") as source, default_storage.open(name, "wb") as target:
            shutil.copyfileobj(source, target, length=1024 * 1024)


def _certificate_refusal(
    exc: Exception, credentials: SigningCredentials
) -> SigningCertificateError | None:
    """c2pa's refusal of the certificate, naming the setting that holds it; None for other
    errors. c2pa says "Signature: the certificate is invalid" for a certificate it refuses
    outright, and reports a verify failure with a signingCredential code for one it signs with
    but then cannot validate (an extended key usage it does not accept)."""
    message = str(exc)
    if isinstance(exc, c2pa.C2paError.Signature) or "signingCredential" in message:
        return SigningCertificateError(f"c2pa refused {credentials.origin}: {message}")
    return None


# Fields of the record that describe the row while it is being assembled (no file, not ready
# yet) rather than what made the video: left out of the manifest, which carries the time it
# was signed instead.
ROW_STATE_FIELDS = ("ready_at", "duration")


def _signed_record(record: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in record.items() if key not in ROW_STATE_FIELDS}
    return {**kept, "signed_at": timezone.now().isoformat()}


def video_manifest_definition(video: Video) -> dict[str, Any]:
    """The manifest c2pa signs: the claim generator, a title, the ``c2pa.actions`` assertion
    (created by Scenecart, with the IPTC digital source type; one ``c2pa.placed`` per segment,
    linked to its ingredient), the segments as ``componentOf`` ingredients, and the public
    record. The published file is public, so it says nothing the provenance page does not."""
    record = public_provenance_record(video)
    ai = record["ai_generated"]
    actions: list[dict[str, Any]] = [
        {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA if ai else ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": CLAIM_GENERATOR},
            "description": (
                "Assembled from segments made by generative AI video models."
                if ai
                else "Composed by Scenecart's procedural renderer; no generative AI."
            ),
        }
    ]
    ingredients: list[dict[str, Any]] = []
    for segment in record["segments"]:
        position = segment["position"]
        label = f"segment-{position}"
        how = "AI-generated" if segment["ai_generated"] else "composed"
        inputs = ", ".join(f"{k}={v}" for k, v in sorted(segment["inputs"].items()))
        ingredients.append(
            {
                "title": f"{segment['kind']} segment {position}",
                "format": MP4,
                "relationship": "componentOf",
                "instance_id": f"scenecart:video:{record['public_id']}:segment:{position}",
                "label": label,
                "description": (
                    f"{how} by {segment['backend']} ({segment['model']}); inputs {inputs or 'none'}"
                ),
            }
        )
        actions.append(
            {
                "action": "c2pa.placed",
                "parameters": {"ingredientIds": [label]},
                "digitalSourceType": (
                    TRAINED_ALGORITHMIC_MEDIA if segment["ai_generated"] else ALGORITHMIC_MEDIA
                ),
                "softwareAgent": {"name": segment["backend"], "version": segment["model"]},
            }
        )
    product = record["product"]
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR}],
        "title": f"{product['title']} ({record['bucket']}, {record['aspect']})",
        "format": MP4,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": actions}},
            {"label": PROVENANCE_ASSERTION, "data": _signed_record(record)},
        ],
        "ingredients": ingredients,
    }


# --- Reading ------------------------------------------------------------------------------------


def read_manifest(source: Path | IO[bytes]) -> dict[str, Any]:
    """The active manifest of an MP4 and whether it validates.

    ``state`` is ``valid`` (intact and signed by a trusted certificate), ``untrusted`` (intact,
    signature valid, signer not on the trust list: the development chain, or any CA the
    reader is not given in SCENECART_C2PA_TRUST_ANCHORS), ``invalid`` (the file or the
    manifest fails validation, e.g. the pixels changed after signing) or ``missing``.
    ``c2pa_state`` is c2pa's own word (``Trusted``/``Valid``/``Invalid``) and ``failures`` its
    failure codes.
    """
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
        context = _reader_context()
        if context is not None:
            stack.enter_context(context)
        try:
            reader = stack.enter_context(c2pa.Reader(MP4, stream, None, context))
        except c2pa.C2paError.ManifestNotFound:
            return _summary(state="missing")
        except c2pa.C2paError as exc:
            return _summary(state="invalid", error=str(exc))
        c2pa_state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    failures = [
        {"code": item.get("code", ""), "explanation": item.get("explanation", "")}
        for item in (results.get("activeManifest") or {}).get("failure", [])
    ]
    codes = {item["code"] for item in failures}
    if c2pa_state == "Trusted":
        state = "valid"
    elif c2pa_state == "Valid":
        state = "untrusted" if "signingCredential.untrusted" in codes else "valid"
    else:
        state = "invalid"
    return _summary(state=state, c2pa_state=c2pa_state, failures=failures, manifest=manifest)


def _summary(
    *,
    state: str,
    c2pa_state: str | None = None,
    failures: list[dict[str, str]] | None = None,
    manifest: dict[str, Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
    manifest = manifest or {}
    return {
        "state": state,
        "c2pa_state": c2pa_state,
        "failures": failures or [],
        "error": error,
        "title": manifest.get("title", ""),
        "claim_generator": [g.get("name", "") for g in manifest.get("claim_generator_info", [])],
        "digital_source_type": _created_source_type(manifest),
        "signer": manifest.get("signature_info", {}),
        "manifest": manifest,
    }


def _created_source_type(manifest: dict[str, Any]) -> str:
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    return str(action.get("digitalSourceType", ""))
    return ""


def _reader_context() -> c2pa.Context | None:
    """A context trusting SCENECART_C2PA_TRUST_ANCHORS (a PEM bundle), or None: c2pa's
    defaults, which trust no one, so every signature reads as untrusted."""
    anchors = str(settings.SCENECART_C2PA_TRUST_ANCHORS or "")
    if not anchors:
        return None
    try:
        pem = Path(anchors).read_text()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SCENECART_C2PA_TRUST_ANCHORS={anchors!r} cannot be read: {exc}"
        ) from exc
    return c2pa.Context.from_dict({"trust": {"trust_anchors": pem}})


def video_manifest(*, video: Video) -> dict[str, Any]:
    """``read_manifest`` of a video's stored file without the full manifest, cached: the public
    page must not hash a whole MP4 from storage on every view. The key names the file and
    when it was made, so a re-assembled (re-signed) file is read afresh."""
    if not video.file:
        return _without_manifest(_summary(state="missing"))
    stamp = video.ready_at.timestamp() if video.ready_at else 0
    name_hash = hashlib.sha256(video.file.name.encode()).hexdigest()[:16]

    def load() -> dict[str, Any] | None:
        try:
            with default_storage.open(video.file.name, "rb") as stream:
                return _without_manifest(read_manifest(stream))
        except OSError:
            # Not cached: storage may answer next time.
            logger.exception(
                "Cannot read video %s (%s) for its manifest", video.pk, video.file.name
            )
            return None

    summary = read_through(
        f"provenance:manifest:v1:{video.pk}:{name_hash}:{stamp}",
        ttl=MANIFEST_CACHE_SECONDS,
        load=load,
    )
    return summary or _without_manifest(_summary(state="missing", error="The file cannot be read."))


def _without_manifest(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "manifest"}
