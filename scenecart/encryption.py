"""Merchant API keys encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from SCENECART_ENCRYPTION_KEY (a Fernet key: set it in production). Without it
the key is derived from SECRET_KEY, which then must never change, or the stored keys become
unreadable (the error says so).
Rotating: put the new key first and the old ones after it (comma-separated); everything still
decrypts, and ``MultiFernet`` encrypts with the first.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: str, secret: str) -> MultiFernet:
    if keys:
        try:
            return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
        except ValueError as exc:
            raise ImproperlyConfigured(
                "SCENECART_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
                "comma-separated; make one with: python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'"
            ) from exc
    derived = base64.urlsafe_b64encode(hashlib.sha256(f"scenecart-keys:{secret}".encode()).digest())
    return MultiFernet([Fernet(derived)])


def _box() -> MultiFernet:
    return _fernet(settings.SCENECART_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    return _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored provider key cannot be decrypted: SCENECART_ENCRYPTION_KEY changed "
            "without keeping the old key after the new one."
        ) from exc
