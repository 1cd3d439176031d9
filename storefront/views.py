"""The demo home page and the video lookup the page (and later every storefront) calls."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.models import Merchant
from catalog.selectors import CatalogLookupError, merchant_get, product_get, products_for_merchant
from personalization.context import ContextError, ShopperContext
from rendering.models import Video
from rendering.profiles import UnknownAspect, profile_for
from rendering.selectors import videos_for_products

from .presenters import price_label, video_payload

# The variants the home page offers per product; scripts/run queues exactly these.
DEMO_CONTEXTS = [
    ("Everyone", "generic"),
    ("Rainy · minimalist", "climate=rainy,aesthetic=minimalist"),
    ("Sunny · playful", "climate=sunny,aesthetic=playful"),
]
DEMO_VARIANTS = [(label, text, ShopperContext.parse(text).bucket) for label, text in DEMO_CONTEXTS]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    slug = settings.SCENECART_DEMO_MERCHANT
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        return render(request, "storefront/home.html", {"merchant": None, "slug": slug}, status=200)
    products = list(products_for_merchant(merchant=merchant))
    videos = videos_for_products(products=products, aspect="16:9")
    cards = []
    for product in products:
        by_bucket = {video.bucket: video for video in videos[product.pk]}
        variants = [
            {
                "label": label,
                "context": text,
                "video": video_payload(by_bucket.get(bucket), request),
            }
            for label, text, bucket in DEMO_VARIANTS
        ]
        image = next(iter(product.images.all()), None)
        cards.append(
            {
                "product": product,
                "price": price_label(product),
                "image_url": image.file.url if image else "",
                "variants": variants,
            }
        )
    return render(request, "storefront/home.html", {"merchant": merchant, "cards": cards})


@require_GET
def video_lookup(request: HttpRequest, merchant: str, sku: str) -> JsonResponse:
    """The ready video for a product in the context the query names, or the best fallback.

    ``status`` is ``ready`` (the exact variant), ``fallback`` (another ready variant of the
    product, generic first) or ``pending`` (nothing ready yet; ``src`` is null).
    ``requested`` says where the asked-for variant itself stands: ``ready``, ``rendering``
    (queued or in progress), ``failed`` (with ``error``) or ``missing`` (never requested), so a
    page knows whether waiting is worth it.
    """
    try:
        shop = merchant_get(slug=merchant)
        product = product_get(merchant=shop, sku=sku)
    except CatalogLookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    try:
        aspect = profile_for(request.GET.get("aspect", "16:9")).aspect
        hints = ",".join(
            f"{key}={request.GET[key]}"
            for key in ShopperContext.VOCABULARIES
            if request.GET.get(key)
        )
        context = ShopperContext.parse(hints)
    except (UnknownAspect, ContextError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    variants = videos_for_products(products=[product], aspect=aspect)[product.pk]
    exact = next((v for v in variants if v.bucket == context.bucket), None)
    if exact is not None and exact.status == exact.Status.READY:
        chosen, status = exact, "ready"
    else:
        chosen = next((v for v in variants if v.status == v.Status.READY), None)
        status = "fallback" if chosen is not None else "pending"
    payload = video_payload(chosen, request) or {}
    body: dict[str, object] = {
        "status": status,
        "src": payload.get("src"),
        "poster": payload.get("poster"),
        "variant": chosen.bucket if chosen is not None else context.bucket,
        "personalized": chosen is not None and not context.is_generic and status == "ready",
        "requested": _requested_state(exact),
    }
    if exact is not None and exact.status == exact.Status.FAILED:
        body["error"] = exact.error
    response = JsonResponse(body)
    response["Cache-Control"] = "no-cache" if status != "ready" else "public, max-age=30"
    return response


def _requested_state(video: Video | None) -> str:
    if video is None:
        return "missing"
    return {
        Video.Status.READY: "ready",
        Video.Status.FAILED: "failed",
    }.get(video.status, "rendering")
