"""The public storefront API: the video for a shopper, playback events, shopper tokens.

The video lookup is the hot path: it reads the merchant, its policy and the product's variants
from the shared cache (rendering drops an entry when a video changes), resolves the shopper's
context in memory and builds the answer without touching the database on a cache hit. A miss
on an approved variant queues its render once and answers at once with the best fallback.
"""

import hmac
import uuid
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView, exception_handler

from catalog.models import Merchant
from catalog.selectors import CatalogLookupError, merchant_for_storefront
from catalog.services import shopper_profile_upsert
from personalization.context import ContextError, ShopperContext
from personalization.policy import Policy, policy_for
from personalization.resolution import ShopperSignals, shopper_resolve
from personalization.tokens import shopper_token_issue, shopper_token_read
from personalization.weather import coordinates_from_headers
from rendering.profiles import UnknownAspect, profile_for
from rendering.selectors import product_variants

from .ratelimit import lookup_rate_limit
from .serializers import (
    ErrorSerializer,
    EventBatchSerializer,
    EventsAcceptedSerializer,
    ShopperTokenRequestSerializer,
    ShopperTokenSerializer,
    VideoLookupSerializer,
)
from .services import playback_events_record
from .variant_choice import variant_choose

# Country headers set by CDNs and hosting platforms, most common first.
COUNTRY_HEADERS = (
    "CF-IPCountry",
    "X-Country-Code",
    "CloudFront-Viewer-Country",
    "X-Vercel-IP-Country",
    "X-AppEngine-Country",
)
COORDINATE_HEADERS = (
    "CF-IPLatitude",
    "CF-IPLongitude",
    "CloudFront-Viewer-Latitude",
    "CloudFront-Viewer-Longitude",
    "X-Vercel-IP-Latitude",
    "X-Vercel-IP-Longitude",
    "X-AppEngine-CityLatLong",
)
HINT_KEYS = tuple(ShopperContext.VOCABULARIES)
YES, NO = {"1", "true", "yes"}, {"0", "false", "no"}


class JSONOnly(BaseContentNegotiation):
    """The lookup speaks JSON only; skipping the parse of the Accept header is measurable on
    the storefront's hot path (DRF's documented "ignore client content negotiation")."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        # The view declares its renderers: there is always a first one.
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class EventsThrottle(AnonRateThrottle):
    scope = "events"


class ShopperTokensThrottle(AnonRateThrottle):
    scope = "shopper_tokens"


@receiver(setting_changed)
def _throttle_rates_follow_settings(*, setting: str, **kwargs: object) -> None:
    """DRF binds ``SimpleRateThrottle.THROTTLE_RATES`` to the settings' dict once, at import,
    so a changed ``REST_FRAMEWORK`` (override_settings in tests) never reached the throttles
    (encode/django-rest-framework#6030). DRF's own receiver has reloaded its settings by now."""
    if setting == "REST_FRAMEWORK":
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]  # the very assignment DRF's throttling.py makes; djangorestframework-stubs types the two dicts differently


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing a body nested deeper than any request of this API needs.

    The stdlib decoder recurses once per bracket: ``[[[[…`` a few thousand deep raises
    RecursionError in the parse, and a body just shallow enough to decode raises it later in
    whatever walks it (a serializer quoting the bad value). Either is the client's fault: a 400.
    """

    max_depth = 32

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        too_deep = exceptions.ParseError(
            f"JSON nested too deeply: more than {self.max_depth} levels of arrays and objects."
        )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if _nesting_exceeds(data, self.max_depth):
            raise too_deep
        return data


def _nesting_exceeds(data: Any, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest more than ``limit`` deep; level by level,
    not recursively, so the check itself cannot run out of stack."""
    level = [data]
    for _ in range(limit):
        level = [
            child
            for node in level
            if isinstance(node, (dict, list))
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return False
    return any(isinstance(node, (dict, list)) for node in level)


class PlainTextJSONParser(BoundedJSONParser):
    """JSON sent as text/plain: what ``navigator.sendBeacon(url, string)`` sends, and a content
    type browsers post cross-origin without a CORS preflight."""

    media_type = "text/plain"


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's errors as ``{"error": "...", "fields": {"events[2].quartile": "..."}}``."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        summary = "; ".join(f"{name}: {message}" for name, message in fields.items())
        response.data = {"error": f"Invalid request: {summary}", "fields": fields}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


def _flatten(detail: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(detail, dict):
        found: dict[str, str] = {}
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by item index
                name = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            found.update(_flatten(value, name))
        return found
    if isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        return {prefix or "request": " ".join(str(d) for d in detail)}
    if isinstance(detail, list):
        found = {}
        for index, value in enumerate(detail):
            if value:
                found.update(_flatten(value, f"{prefix}[{index}]"))
        return found
    return {prefix or "request": str(detail)}


def _error(message: str, code: int) -> Response:
    return Response({"error": message}, status=code)


def _own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _allow_origin(response: Response, request: HttpRequest, merchant: Merchant) -> None:
    """Let the merchant's own pages read the response from the browser (CORS)."""
    origin = request.headers.get("Origin")
    if origin and origin in merchant.origins:
        response["Access-Control-Allow-Origin"] = origin
    patch_vary_headers(response, ["Origin"])


# request.META names of the headers above, looked up directly on the hot path.
COUNTRY_META = tuple(f"HTTP_{h.upper().replace('-', '_')}" for h in COUNTRY_HEADERS)
COORDINATE_META = tuple(f"HTTP_{h.upper().replace('-', '_')}" for h in COORDINATE_HEADERS)
COORDINATE_META_SET = frozenset(COORDINATE_META)


def _signals(request: HttpRequest, policy: Policy) -> ShopperSignals:
    """What the request says about its shopper; signals for dimensions the merchant does not
    count are not even read."""
    query, meta = request.GET, request.META
    counted = policy.dimensions
    places = "climate" in counted or "season" in counted
    cohort = query.get("cohort", "")
    consent = query.get("consent", "").lower()
    return ShopperSignals(
        token=query.get("st", ""),
        hints={key: query[key] for key in HINT_KEYS if query.get(key)}
        if policy.allow_public_hints
        else {},
        country=next((meta[h] for h in COUNTRY_META if meta.get(h)), "") if places else "",
        accept_language=meta.get("HTTP_ACCEPT_LANGUAGE", "") if "locale" in counted else "",
        time_zone=query.get("tz", "")[:64] if "time" in counted or places else "",
        coordinates=_coordinates(meta) if "climate" in counted else None,
        consent=True if consent in YES else False if consent in NO else None,
        global_privacy_control=meta.get("HTTP_SEC_GPC", "").strip() == "1",
        cohort=int(cohort) if cohort.isdigit() and len(cohort) <= 2 else None,
    )


def _coordinates(meta: dict[str, Any]) -> tuple[float, float] | None:
    if COORDINATE_META_SET.isdisjoint(meta) or settings.SCENECART_WEATHER_PROVIDER in ("", "none"):
        return None
    return coordinates_from_headers(meta)


@lru_cache(maxsize=64)
def _vary_on(dimensions: tuple[str, ...], weather: bool) -> str:
    """The request headers that chose this answer, so a CDN keeps one copy per value."""
    vary = ["Origin", "Sec-GPC"]
    if "locale" in dimensions:
        vary.append("Accept-Language")
    if {"climate", "season"} & set(dimensions):
        vary.extend(COUNTRY_HEADERS)
        if weather and "climate" in dimensions:
            vary.extend(COORDINATE_HEADERS)
    return ", ".join(vary)


# Each throttled answer says when to come back.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    description="Seconds until the client may ask again.",
    response=[429],
)
RATE_LIMITED = OpenApiResponse(ErrorSerializer, description="Rate limited; see Retry-After.")
LOOKUP_PARAMETERS = [
    # What the route (storefront.urls) matches: any other path is no lookup at all.
    OpenApiParameter(
        "merchant",
        str,
        OpenApiParameter.PATH,
        required=True,
        pattern=r"^[^/]+$",
        description="The merchant's slug.",
    ),
    OpenApiParameter(
        "sku",
        str,
        OpenApiParameter.PATH,
        required=True,
        description="The product's SKU (a SKU with a slash is matched too: XL/RED).",
    ),
    RETRY_AFTER,
    OpenApiParameter("aspect", str, enum=["16:9", "9:16", "1:1"], description="Default 16:9."),
    OpenApiParameter("st", str, description="A signed shopper token from the merchant's server."),
    *(
        OpenApiParameter(
            key,
            str,
            enum=list(vocabulary.values),
            description="A hint, honoured only if the merchant allows public hints.",
        )
        for key, vocabulary in ShopperContext.VOCABULARIES.items()
    ),
    OpenApiParameter("tz", str, description="The browser's IANA time zone, e.g. Europe/Berlin."),
    OpenApiParameter("cohort", int, description="0-99, kept per browser, for the holdout."),
    OpenApiParameter("consent", str, enum=["0", "1"], description="The shopper's consent."),
]


def video_lookup(request: HttpRequest, merchant: str, sku: str) -> HttpResponse:
    """``GET /api/v1/videos/<merchant>/<sku>``: the video for this shopper, or the best ready
    stand-in at once (queuing the shopper's own variant once if it is approved and missing).

    A plain Django view: the storefront's hot path skips DRF's per-request machinery
    (authentication, permissions, throttles, negotiation), none of which an anonymous JSON GET
    needs. ``VideoLookupView`` below documents it in the OpenAPI schema.
    """
    limited = lookup_rate_limit(request)
    if limited is not None:
        return limited
    if request.method != "GET":
        return JsonResponse({"error": "Only GET is allowed."}, status=405, headers={"Allow": "GET"})
    try:
        shop = merchant_for_storefront(slug=merchant)
    except CatalogLookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    aspect = request.GET.get("aspect", "16:9").strip()
    if aspect not in settings.SCENECART_PROFILES:
        try:
            profile_for(aspect)
        except UnknownAspect as exc:
            return _answer(request, shop, Policy(), JsonResponse({"error": str(exc)}, status=400))
    table = product_variants(merchant=shop, sku=sku, aspect=aspect)
    if table is None:
        message = f"Merchant {merchant!r} has no product with SKU {sku!r}."
        return _answer(request, shop, Policy(), JsonResponse({"error": message}, status=404))
    policy = policy_for(merchant=shop)
    signals = _signals(request, policy)
    try:
        resolution = shopper_resolve(
            merchant=shop, policy=policy, signals=signals, now=timezone.now()
        )
    except ContextError as exc:
        return _answer(request, shop, policy, JsonResponse({"error": str(exc)}, status=400))

    choice = variant_choose(table=table, context=resolution.context, policy=policy, aspect=aspect)
    chosen = choice.served
    # Storage URLs are site-relative on local storage, absolute on S3 or a CDN.
    site = f"{request.scheme}://{request.get_host()}"
    body: dict[str, object] = {
        "status": choice.status,
        "src": _absolute(site, chosen.src) if chosen else None,
        "poster": _absolute(site, chosen.poster) if chosen and chosen.poster else None,
        "variant": choice.served_bucket or choice.target_bucket,
        "personalized": choice.personalized,
        "requested": choice.requested,
        "video": chosen.video_id if chosen else None,
        "provenance": f"{site}{_provenance_prefix()}{chosen.public_id}" if chosen else None,
        "holdout": resolution.holdout,
        "source": resolution.source,
    }
    if choice.error:
        body["error"] = choice.error
    if resolution.token_error:
        body["warning"] = f"Shopper token ignored: {resolution.token_error}"
    response = JsonResponse(body)
    # Short while the shopper's own variant is on its way (the page polls for it); an answer
    # for a named shopper is theirs alone, never for a shared cache.
    response["Cache-Control"] = _cache_control(
        ready=choice.status == "ready", named=bool(signals.token)
    )
    return _answer(request, shop, policy, response)


@lru_cache(maxsize=8)
def _cache_control(*, ready: bool, named: bool) -> str:
    """Short while the shopper's own variant is on its way (the page polls for it); an answer
    for a named shopper is theirs alone, never for a shared cache. A ready answer lives at most
    SCENECART_LOOKUP_MAX_AGE + SCENECART_LOOKUP_STALE_WHILE_REVALIDATE seconds in a CDN: the
    bound on how long a withdrawn (stale) video can still be named after a catalog change."""
    if named:
        return f"private, max-age={min(settings.SCENECART_LOOKUP_MAX_AGE, 30) if ready else 5}"
    if not ready:
        return "public, max-age=5, stale-while-revalidate=5"
    return (
        f"public, max-age={settings.SCENECART_LOOKUP_MAX_AGE}, "
        f"stale-while-revalidate={settings.SCENECART_LOOKUP_STALE_WHILE_REVALIDATE}"
    )


@receiver(setting_changed)
def _cache_control_follows_settings(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("SCENECART_LOOKUP_"):
        _cache_control.cache_clear()


def _answer(
    request: HttpRequest, shop: Merchant, policy: Policy, response: HttpResponse
) -> HttpResponse:
    origin = request.META.get("HTTP_ORIGIN")
    if origin and origin in shop.origins:
        response["Access-Control-Allow-Origin"] = origin
    weather = settings.SCENECART_WEATHER_PROVIDER not in ("", "none")
    response["Vary"] = _vary_on(policy.dimensions, weather)
    return response


class VideoLookupView(APIView):
    """The lookup as the OpenAPI schema describes it (see ``storefront.schema_urls``); it
    answers exactly as ``video_lookup``, which serves the route."""

    throttle_classes: list[type] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly

    @extend_schema(
        operation_id="video_lookup",
        summary="The video variant for a shopper",
        parameters=LOOKUP_PARAMETERS,
        responses={
            200: VideoLookupSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad aspect or hint."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown merchant or SKU."),
            429: RATE_LIMITED,
        },
    )
    def get(self, request: Request, merchant: str, sku: str) -> HttpResponse:
        return video_lookup(request._request, merchant, sku)


@lru_cache(maxsize=1)
def _provenance_prefix() -> str:
    """``/provenance/``, reversed once: the lookup builds the link for every answer."""
    return reverse("storefront:provenance", args=[uuid.UUID(int=0)]).removesuffix(
        str(uuid.UUID(int=0))
    )


def _absolute(site: str, url: str) -> str:
    return site + url if url.startswith("/") else url


class EventsView(APIView):
    parser_classes = [BoundedJSONParser, PlainTextJSONParser]
    throttle_classes = [EventsThrottle]

    @extend_schema(
        operation_id="events_record",
        summary="Record playback events",
        description=(
            "Send as application/json, or as text/plain (what navigator.sendBeacon sends; "
            "no CORS preflight). Browsers may post only from the merchant's storefront origins."
        ),
        request=EventBatchSerializer,
        responses={
            202: EventsAcceptedSerializer,
            400: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Origin not allowed."),
            404: ErrorSerializer,
            429: RATE_LIMITED,
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        batch = EventBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        try:
            shop = merchant_for_storefront(slug=batch.validated_data["merchant"])
        except CatalogLookupError as exc:
            return _error(str(exc), status.HTTP_404_NOT_FOUND)
        origin = request.headers.get("Origin")
        if origin and origin != _own_origin(request) and origin not in shop.origins:
            response = _error(
                f"Origin {origin} is not one of {shop.slug!r}'s storefront origins.",
                status.HTTP_403_FORBIDDEN,
            )
        else:
            accepted, rejected = playback_events_record(
                merchant=shop, events=batch.validated_data["events"]
            )
            response = Response(
                {"accepted": accepted, "rejected": rejected}, status=status.HTTP_202_ACCEPTED
            )
        _allow_origin(response, request, shop)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(exclude=True)
    def options(self, request: Request, *args: object, **kwargs: object) -> Response:  # type: ignore[override]  # DRF hands views its Request, not an HttpRequest; the stubs' APIView.options carries the same ignore
        """CORS preflight (for application/json posts): the merchant is in the body, which a
        preflight does not carry, so any merchant's storefront origin passes here and the
        POST itself is checked against its own merchant."""
        response = Response(status=status.HTTP_204_NO_CONTENT)
        origin = request.headers.get("Origin", "")
        if origin and any(
            origin in m.origins
            for m in Merchant.objects.filter(storefront_origins__contains=origin)
        ):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "POST"
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = "86400"
        patch_vary_headers(response, ["Origin"])
        return response


class ShopperTokensView(APIView):
    parser_classes = [BoundedJSONParser]
    throttle_classes = [ShopperTokensThrottle]

    @extend_schema(
        operation_id="shopper_token_issue",
        summary="Issue a signed shopper token (merchant servers only)",
        description=(
            "Authenticate with `Authorization: Bearer <the merchant's shopper token secret>`. "
            "Optionally creates or updates the shopper's profile. Tokens can also be made "
            "offline with the HMAC recipe in the README."
        ),
        request=ShopperTokenRequestSerializer,
        responses={
            201: ShopperTokenSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            429: RATE_LIMITED,
        },
        parameters=[
            OpenApiParameter(
                "Authorization", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
            ),
            RETRY_AFTER,
        ],
    )
    def post(self, request: Request) -> Response:
        data = ShopperTokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            shop = merchant_for_storefront(slug=fields["merchant"])
        except CatalogLookupError as exc:
            return _error(str(exc), status.HTTP_404_NOT_FOUND)
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            secret.strip().encode(), shop.shopper_token_secret.encode()
        ):
            response = _error(
                f"Send 'Authorization: Bearer <{shop.slug}'s shopper token secret>'.",
                status.HTTP_401_UNAUTHORIZED,
            )
            response["WWW-Authenticate"] = 'Bearer realm="scenecart"'
            return response
        if fields.get("profile"):
            try:
                shopper_profile_upsert(
                    merchant=shop, external_id=fields["shopper"], **fields["profile"]
                )
            except DjangoValidationError as exc:
                raise exceptions.ValidationError({"profile": exc.message_dict}) from exc
        token = shopper_token_issue(
            merchant=shop, external_id=fields["shopper"], ttl=fields.get("ttl")
        )
        read = shopper_token_read(merchant=shop, token=token)
        response = Response(
            {"token": token, "shopper": read.external_id, "expires_at": read.expires_at},
            status=status.HTTP_201_CREATED,
        )
        response["Cache-Control"] = "no-store"
        return response
