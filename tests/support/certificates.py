"""Signing certificates as a merchant gets them from a certificate authority, made in the test:
a CA and a signing certificate it issued, as PEM bytes, in the keywords of
``provenance.credentials.signing_certificate_set`` (``signing_certificate_set(merchant_id=…,
**signing_chain("Northwind Outfitters"))``).

Keyword arguments spoil one thing at a time, for the refusals: a leaf that signed itself, one
without the digitalSignature key usage, one that has already expired.
"""

import datetime as dt
from typing import TypedDict

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.utils import timezone


class SigningChain(TypedDict):
    chain_pem: bytes  # the signing certificate, then the CA that issued it (if any)
    key_pem: bytes  # the signing certificate's private key, PKCS#8


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _key_usage(*, digital_signature: bool, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        # A leaf without digitalSignature still needs some usage: non-repudiation.
        content_commitment=not digital_signature and not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def signing_chain(
    common_name: str,
    *,
    organization: str = "Example Merchant",
    ca_name: str = "Example Trust Services CA",
    self_signed: bool = False,
    digital_signature: bool = True,
    expired: bool = False,
) -> SigningChain:
    """A CA and a signing certificate it issued for ``common_name``, valid for a year."""
    now = timezone.now()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = _name(ca_name, "Example Trust Services")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name, organization)
    issuer, issuer_key = (subject, key) if self_signed else (ca.subject, ca_key)
    starts = now - dt.timedelta(days=365 if expired else 1)
    ends = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=365)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(starts)
        .not_valid_after(ends)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=digital_signature), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .sign(issuer_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + (b"" if self_signed else ca.public_bytes(pem))
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"chain_pem": chain, "key_pem": key_pem}
