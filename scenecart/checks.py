"""System checks of Scenecart's settings: what the environment said, checked, with the variable
named. Settings modules only read the environment; these run with every ``manage.py`` command
(``check``, ``migrate``, ``runserver``) and when a Celery worker starts (``scenecart.celery``).
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

STORAGES_SUPPORTED = ("local", "s3")
VOICE_PROVIDERS = ("openai", "elevenlabs")


@register("scenecart")
def check_storage(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    storage = settings.SCENECART_STORAGE
    if storage not in STORAGES_SUPPORTED:
        return [
            Error(
                f"SCENECART_STORAGE={storage!r} is not supported: use 'local' or 's3'.",
                id="scenecart.E001",
            )
        ]
    options = settings.STORAGES["default"].get("OPTIONS", {})
    if storage == "s3" and not options.get("bucket_name"):
        return [
            Error(
                "SCENECART_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (the bucket for images, "
                "segments and videos).",
                id="scenecart.E002",
            )
        ]
    return []


@register("scenecart")
def check_prices(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    prices = settings.SCENECART_PRICES
    if not isinstance(prices, dict):
        return [
            Error(
                'SCENECART_PRICES must be a JSON object of USD per second, e.g. {"kling": "0.07"}.',
                id="scenecart.E003",
            )
        ]
    errors = []
    for alias, price in prices.items():
        try:
            valid = Decimal(str(price)) >= 0
        except InvalidOperation:
            valid = False
        if not valid:
            errors.append(
                Error(
                    f'SCENECART_PRICES[{alias!r}] is {price!r}: give USD per second, e.g. "0.07".',
                    id="scenecart.E003",
                )
            )
    return errors


@register("scenecart")
def check_voice(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    provider = settings.SCENECART_VOICE_PROVIDER
    if provider in ("", "none"):
        return []
    if provider not in VOICE_PROVIDERS:
        return [
            Error(
                f"SCENECART_VOICE_PROVIDER={provider!r} is not supported: use openai or "
                "elevenlabs.",
                id="scenecart.E004",
            )
        ]
    voice = settings.SCENECART_VOICE
    options = voice.get("OPTIONS", {}) if voice else {}
    if provider == "elevenlabs" and not options.get("voice"):
        return [
            Error(
                "SCENECART_VOICE_PROVIDER=elevenlabs needs SCENECART_VOICE_NAME (the voice id).",
                id="scenecart.E005",
            )
        ]
    return []
