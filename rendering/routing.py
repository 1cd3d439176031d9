"""Which backend renders a segment, on whose key, and where it goes when that fails.

A segment's backend, most specific first: the merchant's override for its segment kind, the
merchant's override for its bucket, the backend the request named (a bulk job's choice), the
merchant's default, the installation's default. Kinds come first because they carry the cost
decision ("AI for the scene, the free renderer for the price card").
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from personalization.context import ContextError, ShopperContext
from providers.base import RenderBackend
from scenecart.encryption import decrypt, encrypt

from .backends import backend_for
from .models import ProviderKey, RenderRouting

SEGMENT_KINDS = ("hero", "scene", "offer", "outro")


@dataclass(frozen=True, slots=True)
class Routing:
    default: str = ""
    kinds: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    fallbacks: tuple[str, ...] = ()

    def alias_for(self, *, kind: str, bucket: str, requested: str | None) -> str:
        return (
            self.kinds.get(kind)
            or self.buckets.get(bucket)
            or requested
            or self.default
            or settings.SCENECART_DEFAULT_BACKEND
        )


def routing_for(*, merchant_id: int) -> Routing:
    row = RenderRouting.objects.filter(merchant_id=merchant_id).first()
    if row is None:
        return Routing()
    return Routing(
        default=row.default_backend,
        kinds=dict(row.kind_backends),
        buckets=dict(row.bucket_backends),
        fallbacks=tuple(row.fallbacks),
    )


def merchant_backend(alias: str, *, merchant_id: int) -> RenderBackend:
    """The backend under ``alias``, on the merchant's own key when it has one."""
    stored = (
        ProviderKey.objects.filter(merchant_id=merchant_id, backend=alias)
        .values_list("encrypted_key", flat=True)
        .first()
    )
    return backend_for(alias, api_key=decrypt(stored) if stored else None)


def fallback_chain(alias: str, *, merchant_id: int) -> list[str]:
    """Where a segment of ``alias`` goes when the provider fails for good: the merchant's
    chain if it set one, else SCENECART_FALLBACKS for the alias."""
    own = routing_for(merchant_id=merchant_id).fallbacks
    return list(own) if own else list(settings.SCENECART_FALLBACKS.get(alias, []))


def render_routing_update(
    *,
    merchant_id: int,
    default_backend: str = "",
    kind_backends: dict[str, str] | None = None,
    bucket_backends: dict[str, str] | None = None,
    fallbacks: list[str] | None = None,
) -> RenderRouting:
    """Set a merchant's routing; every alias, kind and bucket is checked, naming the bad one."""
    known = set(settings.SCENECART_BACKENDS)

    def check(alias: str, field_name: str) -> str:
        if alias not in known:
            raise ValidationError(
                {
                    field_name: f"Unknown backend {alias!r}: configured are {', '.join(sorted(known))}."
                }
            )
        return alias

    kinds = {}
    for kind, alias in (kind_backends or {}).items():
        if kind not in SEGMENT_KINDS:
            raise ValidationError(
                {"kind_backends": f"Unknown segment kind {kind!r}: use {', '.join(SEGMENT_KINDS)}."}
            )
        kinds[kind] = check(alias, "kind_backends")
    buckets = {}
    for text, alias in (bucket_backends or {}).items():
        try:
            bucket = ShopperContext.parse(text).bucket
        except ContextError as exc:
            raise ValidationError({"bucket_backends": f"{text!r}: {exc}"}) from exc
        buckets[bucket] = check(alias, "bucket_backends")
    row, _ = RenderRouting.objects.update_or_create(
        merchant_id=merchant_id,
        defaults={
            "default_backend": check(default_backend, "default_backend") if default_backend else "",
            "kind_backends": kinds,
            "bucket_backends": buckets,
            "fallbacks": [check(alias, "fallbacks") for alias in fallbacks or []],
        },
    )
    return row


def provider_key_set(*, merchant_id: int, backend: str, key: str) -> ProviderKey:
    """Store a merchant's key for a provider, encrypted; only its last 4 characters are kept
    readable, to tell keys apart in the admin."""
    key = key.strip()
    if backend not in settings.SCENECART_BACKENDS:
        raise ValidationError({"backend": f"Unknown backend {backend!r}."})
    if len(key) < 8:
        raise ValidationError({"key": "That is too short to be an API key."})
    row, _ = ProviderKey.objects.update_or_create(
        merchant_id=merchant_id,
        backend=backend,
        defaults={"encrypted_key": encrypt(key), "hint": key[-4:]},
    )
    return row
