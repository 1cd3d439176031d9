"""Pages of the storefront: the demo shop, the iframe player and oEmbed.

The demo shop is built the way a merchant's own storefront would be: product pages that carry
one ``<scenecart-video>`` tag each and nothing else of ours. The iframe player is for pages
that cannot run our script (CMSs, marketplaces, email-to-web), and oEmbed lets those find the
iframe from a product's URL.
"""

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.html import format_html
from django.utils.text import slugify
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from catalog.demo import DEMO_SHOPPERS
from catalog.models import Merchant, Product, ShopperProfile
from catalog.selectors import merchants_for_user, products_for_merchant
from catalog.vocabulary import Aesthetic, Climate, TimeOfDay
from personalization.context import GENERIC_BUCKET
from personalization.models import BucketPolicy
from personalization.policy import policy_for
from personalization.tokens import shopper_token_issue
from rendering.profiles import UnknownAspect, profile_for
from rendering.selectors import Variant, product_variants
from videokit.job import OutputProfile

from .presenters import price_label

# The query parameters of the iframe page that go on to the component: the shopper's token
# and hints, exactly as a page embedding the tag itself would set them.
EMBED_PASSTHROUGH = ("st", "climate", "aesthetic", "time", "consent")
# The longer side of an oEmbed player when the consumer sets no maximum.
OEMBED_LONG_SIDE = 640
OEMBED_VIEWS = {"storefront:embed", "storefront:product"}


@dataclass(frozen=True)
class ShopperOption:
    """One entry of the demo shop's shopper switcher.

    A staff preview (a signed-in member of the shop) names the shop's own shoppers and carries
    a token issued as the shop's server would. Anyone else sees the demo's personas only: a
    place and a taste, played as context hints, never a profile's id or a token.
    """

    key: str
    label: str
    consent: bool
    token: str = ""
    climate: str = ""
    aesthetic: str = ""


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("storefront:shop", merchant=settings.SCENECART_DEMO_MERCHANT)


@require_GET
def shop(request: HttpRequest, merchant: str) -> HttpResponse:
    """The product grid of one shop, each card playing its product's video."""
    shop = Merchant.objects.filter(slug=merchant).first()
    if shop is None:
        is_demo = merchant == settings.SCENECART_DEMO_MERCHANT
        return render(
            request,
            "storefront/shop/missing.html",
            {"slug": merchant, "is_demo": is_demo},
            status=200 if is_demo else 404,
        )
    cards = [
        {
            "product": product,
            "price": price_label(product),
            "image_url": _image_url(product),
        }
        for product in products_for_merchant(merchant=shop)
    ]
    return render(request, "storefront/shop/grid.html", {"merchant": shop, "cards": cards})


@require_GET
def product(request: HttpRequest, merchant: str, sku: str) -> HttpResponse:
    """A product page with a large video and the demo's shopper switcher."""
    shop, item = _published_product(merchant, sku)
    policy = BucketPolicy.objects.filter(merchant=shop).first()
    page_url = request.build_absolute_uri(reverse("storefront:product", args=[shop.slug, item.sku]))
    others = [
        {"product": other, "price": price_label(other), "image_url": _image_url(other)}
        for other in products_for_merchant(merchant=shop).exclude(pk=item.pk)[:4]
    ]
    hints_allowed = bool(policy and policy.allow_public_hints)
    staff_preview = _is_member(request, shop)
    if staff_preview:
        shoppers = _staff_shopper_options(shop)
    elif shop.slug == settings.SCENECART_DEMO_MERCHANT and hints_allowed:
        shoppers = _demo_personas(shop)
    else:
        shoppers = []
    response = render(
        request,
        "storefront/shop/product.html",
        {
            "merchant": shop,
            "product": item,
            "price": price_label(item),
            "image_url": _image_url(item),
            "shoppers": shoppers,
            "staff_preview": staff_preview,
            "hints_allowed": hints_allowed,
            "policy": policy,
            "climates": Climate.choices,
            "aesthetics": Aesthetic.choices,
            "times": TimeOfDay.choices,
            "oembed_url": _oembed_discovery_url(request, page_url),
            "others": others,
        },
    )
    if staff_preview:
        # Tokens of the shop's own shoppers: for this signed-in member's eyes only.
        response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@xframe_options_exempt
def embed(request: HttpRequest, merchant: str, sku: str) -> HttpResponse:
    """The player alone, full-bleed, for an ``<iframe>`` on the merchant's own pages."""
    shop, item = _published_product(merchant, sku)
    try:
        aspect = profile_for(request.GET.get("aspect", "16:9")).aspect
    except UnknownAspect as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    page_url = request.build_absolute_uri(
        reverse("storefront:embed", args=[shop.slug, item.sku])
        + "?"
        + urlencode({"aspect": aspect}, safe=":")
    )
    attributes = {
        "token" if key == "st" else key: request.GET[key]
        for key in EMBED_PASSTHROUGH
        if request.GET.get(key)
    }
    response = render(
        request,
        "storefront/embed.html",
        {
            "merchant": shop,
            "product": item,
            "aspect": aspect,
            "attributes": attributes,
            "image_url": _image_url(item),
            "fallback_src": _generic_src(request, item, aspect),
            "oembed_url": _oembed_discovery_url(request, page_url),
        },
    )
    response["Content-Security-Policy"] = "frame-ancestors " + " ".join(["'self'", *_origins(shop)])
    return response


@require_GET
def oembed(request: HttpRequest) -> HttpResponse:
    """oEmbed 1.0 (https://oembed.com/): the iframe player for a product or player URL."""
    url = request.GET.get("url", "").strip()
    if not url:
        return _oembed_error("The url parameter is required.", status=400)
    if request.GET.get("format", "json") != "json":
        # The spec's answer for a format the provider does not produce.
        return _oembed_error("Only format=json is supported.", status=501)
    try:
        max_width = _positive_int(request.GET.get("maxwidth"))
        max_height = _positive_int(request.GET.get("maxheight"))
    except ValueError:
        return _oembed_error("maxwidth and maxheight must be positive integers.", status=400)
    found = _embeddable(request, url)
    if found is None:
        return _oembed_error(f"{url} is not a Scenecart product or player URL.", status=404)
    item, aspect = found
    profile = profile_for(aspect)
    width, height = _fit(profile, max_width, max_height)
    player = request.build_absolute_uri(
        reverse("storefront:embed", args=[item.merchant.slug, item.sku])
        + "?"
        + urlencode({"aspect": aspect}, safe=":")
    )
    body: dict[str, object] = {
        "version": "1.0",
        "type": "video",
        "title": item.title,
        "author_name": item.merchant.name,
        "author_url": request.build_absolute_uri(
            reverse("storefront:shop", args=[item.merchant.slug])
        ),
        "provider_name": "Scenecart",
        "provider_url": request.build_absolute_uri("/"),
        "width": width,
        "height": height,
        "html": format_html(
            '<iframe src="{}" width="{}" height="{}" title="{}" frameborder="0" '
            'allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>',
            player,
            width,
            height,
            item.title,
        ),
    }
    generic = _ready_generic(item, aspect)
    if generic is not None and generic.poster:
        # Posters are frames of the video, so they have the house format's size.
        body["thumbnail_url"] = request.build_absolute_uri(generic.poster)
        body["thumbnail_width"] = profile.width
        body["thumbnail_height"] = profile.height
    response = JsonResponse(body)
    # Public data: JavaScript consumers on any site may read it.
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- Helpers ----------------------------------------------------------------------------------


def _published_product(merchant: str, sku: str) -> tuple[Merchant, Product]:
    """The shop and one of its active products; 404 for anything else (drafts included)."""
    shop = Merchant.objects.filter(slug=merchant).first()
    if shop is None:
        raise Http404(f"No shop {merchant!r}.")
    item = Product.objects.filter(merchant=shop, sku=sku, status=Product.Status.ACTIVE).first()
    if item is None:
        raise Http404(f"{shop.name} has no product {sku!r}.")
    item.merchant = shop
    return shop, item


def _image_url(product: Product) -> str:
    image = next(iter(product.images.all()), None)
    return image.file.url if image else ""


def _origins(shop: Merchant) -> list[str]:
    try:
        return shop.origins
    except ValidationError:
        # A list saved around the admin's validation: frame only on our own pages.
        return []


def _is_member(request: HttpRequest, shop: Merchant) -> bool:
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return False
    return merchants_for_user(user=user).filter(pk=shop.pk).exists()


def _taste(profile: ShopperProfile) -> str:
    if not profile.personalization_consent:
        return "no personalization consent: generic video"
    return " · ".join(
        str(label)
        for label in (profile.get_climate_display(), profile.get_aesthetic_display())
        if label
    )


def _place(profile: ShopperProfile) -> str:
    return "/".join(part for part in (profile.country, profile.region) if part)


def _staff_shopper_options(shop: Merchant) -> list[ShopperOption]:
    """The shop's known shoppers, each with a token issued here as the shop's server would."""
    options = []
    for profile in ShopperProfile.objects.filter(merchant=shop).order_by("external_id"):
        parts = (profile.external_id, _place(profile), _taste(profile))
        options.append(
            ShopperOption(
                key=profile.external_id,
                label=" — ".join(part for part in parts if part),
                consent=profile.personalization_consent,
                token=shopper_token_issue(merchant=shop, external_id=profile.external_id),
            )
        )
    return options


def _demo_personas(shop: Merchant) -> list[ShopperOption]:
    """The demo shoppers ``seed_demo`` made, as personas: where they are and what they like,
    played as hints. Only those: a real profile never reaches a public page."""
    profiles = ShopperProfile.objects.filter(
        merchant=shop, external_id__in=[str(s["external_id"]) for s in DEMO_SHOPPERS]
    ).order_by("country", "region")
    options = []
    for profile in profiles:
        place = _place(profile)
        options.append(
            ShopperOption(
                key=f"persona-{slugify(place.replace('/', ' ')) or profile.pk}",
                label=f"A shopper in {place} — {_taste(profile)}",
                consent=profile.personalization_consent,
                climate=profile.climate or "",
                aesthetic=profile.aesthetic or "",
            )
        )
    return options


def _ready_generic(product: Product, aspect: str) -> Variant | None:
    """The generic video if the storefront publishes it, read as the lookup reads it (its
    cached table of variants and the merchant's cached policy, the same servable rule): never
    one that awaits the merchant's review or was rejected."""
    table = product_variants(merchant=product.merchant, sku=product.sku, aspect=aspect)
    variant = table.variants.get(GENERIC_BUCKET) if table is not None else None
    require = policy_for(merchant=product.merchant).require_approval
    if table is None or variant is None or not table.servable(variant, require_approval=require):
        return None
    return variant


def _generic_src(request: HttpRequest, product: Product, aspect: str) -> str:
    variant = _ready_generic(product, aspect)
    return request.build_absolute_uri(variant.src) if variant is not None else ""


def _oembed_discovery_url(request: HttpRequest, page_url: str) -> str:
    return request.build_absolute_uri(
        reverse("storefront:oembed") + "?" + urlencode({"url": page_url, "format": "json"})
    )


def _oembed_error(message: str, *, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _positive_int(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


def _embeddable(request: HttpRequest, url: str) -> tuple[Product, str] | None:
    """The product and aspect an absolute URL of this site's product or player page names."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.get_host().lower():
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.view_name not in OEMBED_VIEWS:
        return None
    try:
        aspect = profile_for(QueryDict(parts.query).get("aspect", "16:9")).aspect
        _, item = _published_product(match.kwargs["merchant"], match.kwargs["sku"])
    except (UnknownAspect, Http404):
        return None
    return item, aspect


def _fit(profile: OutputProfile, max_width: int | None, max_height: int | None) -> tuple[int, int]:
    """The player's size: the aspect's shape at OEMBED_LONG_SIDE, shrunk to fit the maxima."""
    ratio = profile.width / profile.height
    width: float
    height: float
    if ratio >= 1:
        width, height = OEMBED_LONG_SIDE, OEMBED_LONG_SIDE / ratio
    else:
        width, height = OEMBED_LONG_SIDE * ratio, OEMBED_LONG_SIDE
    scale = min(
        1.0,
        (max_width / width) if max_width else 1.0,
        (max_height / height) if max_height else 1.0,
    )
    return max(1, int(width * scale)), max(1, int(height * scale))
