"""How catalog and rendering rows are shown on storefront pages and in JSON."""

from django.http import HttpRequest

from catalog.models import Product
from personalization.plans import price_label as localized_price
from rendering.models import Video


def price_label(product: Product, locale: str = "en-US") -> str:
    return localized_price(price=product.price, currency=product.currency, locale=locale)


def video_payload(video: Video | None, request: HttpRequest) -> dict[str, object] | None:
    if video is None:
        return None
    ready = video.status == Video.Status.READY and bool(video.file)
    return {
        "status": video.status,
        "src": request.build_absolute_uri(video.file.url) if ready else None,
        "poster": request.build_absolute_uri(video.poster.url) if ready and video.poster else None,
        "duration": video.duration,
        "error": video.error,
    }
