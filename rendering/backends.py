"""The backend registry, configured like Django's STORAGES::

    SCENECART_BACKENDS = {
        "local": {"BACKEND": "providers.local.LocalBackend", "OPTIONS": {...}},
    }

Backends are built lazily, once per process, with ``import_string``; unknown aliases and
unknown options raise ``ImproperlyConfigured`` with the alias in the message.
"""

import inspect
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.base import RenderBackend
from videokit.job import RenderAssets, RenderError, RenderJob

__all__ = ["RenderAssets", "RenderBackend", "RenderError", "RenderJob", "aliases", "backend_for"]


def aliases() -> list[str]:
    return list(settings.SCENECART_BACKENDS)


def is_remote(alias: str) -> bool:
    """Whether the alias's backend is a provider that works asynchronously (submit, then
    poll) rather than rendering in the worker."""
    return not type(backend_for(alias)).synchronous


def backend_for(alias: str | None = None, *, api_key: str | None = None) -> RenderBackend:
    """The backend configured under ``alias`` (the default backend if None); with
    ``api_key``, the same backend on a merchant's own key (rendering.routing)."""
    return _build(alias or settings.SCENECART_DEFAULT_BACKEND, api_key)


@cache
def _build(alias: str, api_key: str | None = None) -> RenderBackend:
    config = settings.SCENECART_BACKENDS.get(alias)
    if config is None:
        raise ImproperlyConfigured(
            f"Unknown render backend {alias!r}: SCENECART_BACKENDS has "
            f"{', '.join(settings.SCENECART_BACKENDS) or 'none'}."
        )
    unknown_keys = set(config) - {"BACKEND", "OPTIONS"}
    if unknown_keys:
        raise ImproperlyConfigured(
            f"SCENECART_BACKENDS[{alias!r}] has unknown keys: {', '.join(sorted(unknown_keys))}."
        )
    try:
        backend_class = import_string(config["BACKEND"])
    except (ImportError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"SCENECART_BACKENDS[{alias!r}]['BACKEND'] cannot be imported: {exc}"
        ) from exc
    options = dict(config.get("OPTIONS", {}))
    accepted = _accepted_options(backend_class)
    unknown = sorted(set(options) - set(accepted) - {"alias"})
    if unknown:
        raise ImproperlyConfigured(
            f"SCENECART_BACKENDS[{alias!r}] has options {backend_class.__name__} does not "
            f"take: {', '.join(unknown)}."
        )
    if api_key is not None:
        if "api_key" not in accepted:
            raise ImproperlyConfigured(f"{alias!r} takes no API key.")
        options["api_key"] = api_key
    try:
        return backend_class(alias=alias, **options)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"SCENECART_BACKENDS[{alias!r}]: {exc}") from exc


def _accepted_options(backend_class: type) -> set[str]:
    """The keyword options a backend takes, through ``**options`` passed up to its bases."""
    accepted: set[str] = set()
    for klass in backend_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters
        accepted |= {
            name
            for name, parameter in parameters.items()
            if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
        }
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            break
    return accepted


@receiver(setting_changed)
def _forget_backends(*, setting: str, **kwargs: object) -> None:
    if setting in {"SCENECART_BACKENDS", "SCENECART_DEFAULT_BACKEND"}:
        _build.cache_clear()
