"""From what we know about a shopper to a ``ShopperContext``.

Sources, most trusted first: the merchant's ``ShopperProfile`` (named by a signed token),
request hints the merchant allows, then request signals: a CDN's country header, the browser's
``Accept-Language`` and time zone. A country maps to its typical climate and hemisphere through
the table below; the season follows hemisphere and date, the time of day the shopper's clock;
where the CDN sends coordinates, today's weather there refines the climate.
"""

import hashlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from catalog.models import Merchant, ShopperProfile
from catalog.vocabulary import Climate, Locale, Season, TimeOfDay

from . import weather
from .context import ShopperContext
from .policy import Policy
from .tokens import ShopperTokenError, shopper_token_read

# ISO 3166 country → (typical climate a shop should stage for, hemisphere). Deliberately coarse:
# one value per country, for the climate most of its shoppers live in.
COUNTRY_CLIMATE: dict[str, tuple[Climate, str]] = {
    "US": (Climate.SUNNY, "N"), "CA": (Climate.SNOWY, "N"), "MX": (Climate.SUNNY, "N"),
    "BR": (Climate.HUMID_TROPICAL, "S"), "AR": (Climate.SUNNY, "S"), "CL": (Climate.SUNNY, "S"),
    "CO": (Climate.HUMID_TROPICAL, "N"), "PE": (Climate.ARID, "S"),
    "GB": (Climate.RAINY, "N"), "IE": (Climate.RAINY, "N"), "NL": (Climate.RAINY, "N"),
    "BE": (Climate.RAINY, "N"), "DE": (Climate.OVERCAST, "N"), "FR": (Climate.OVERCAST, "N"),
    "AT": (Climate.SNOWY, "N"), "CH": (Climate.SNOWY, "N"), "PL": (Climate.OVERCAST, "N"),
    "CZ": (Climate.OVERCAST, "N"), "DK": (Climate.RAINY, "N"), "NO": (Climate.SNOWY, "N"),
    "SE": (Climate.SNOWY, "N"), "FI": (Climate.SNOWY, "N"), "IS": (Climate.SNOWY, "N"),
    "ES": (Climate.SUNNY, "N"), "PT": (Climate.SUNNY, "N"), "IT": (Climate.SUNNY, "N"),
    "GR": (Climate.SUNNY, "N"), "TR": (Climate.SUNNY, "N"), "RU": (Climate.SNOWY, "N"),
    "UA": (Climate.OVERCAST, "N"), "EG": (Climate.ARID, "N"), "MA": (Climate.ARID, "N"),
    "NG": (Climate.HUMID_TROPICAL, "N"), "KE": (Climate.SUNNY, "S"), "ZA": (Climate.SUNNY, "S"),
    "SA": (Climate.ARID, "N"), "AE": (Climate.ARID, "N"), "IL": (Climate.SUNNY, "N"),
    "IN": (Climate.HUMID_TROPICAL, "N"), "PK": (Climate.ARID, "N"), "CN": (Climate.OVERCAST, "N"),
    "JP": (Climate.RAINY, "N"), "KR": (Climate.OVERCAST, "N"), "TW": (Climate.HUMID_TROPICAL, "N"),
    "TH": (Climate.HUMID_TROPICAL, "N"), "VN": (Climate.HUMID_TROPICAL, "N"),
    "SG": (Climate.HUMID_TROPICAL, "N"), "MY": (Climate.HUMID_TROPICAL, "N"),
    "ID": (Climate.HUMID_TROPICAL, "S"), "PH": (Climate.HUMID_TROPICAL, "N"),
    "AU": (Climate.SUNNY, "S"), "NZ": (Climate.RAINY, "S"),
}  # fmt: skip

_NORTHERN_SEASONS = {
    12: Season.WINTER, 1: Season.WINTER, 2: Season.WINTER,
    3: Season.SPRING, 4: Season.SPRING, 5: Season.SPRING,
    6: Season.SUMMER, 7: Season.SUMMER, 8: Season.SUMMER,
    9: Season.AUTUMN, 10: Season.AUTUMN, 11: Season.AUTUMN,
}  # fmt: skip
_OPPOSITE = {
    Season.WINTER: Season.SUMMER, Season.SUMMER: Season.WINTER,
    Season.SPRING: Season.AUTUMN, Season.AUTUMN: Season.SPRING,
}  # fmt: skip


def season_for(*, hemisphere: str, when: datetime) -> Season:
    season = _NORTHERN_SEASONS[when.month]
    return _OPPOSITE[season] if hemisphere == "S" else season


def time_of_day_for(hour: int) -> TimeOfDay:
    if 5 <= hour < 10:
        return TimeOfDay.MORNING
    if 10 <= hour < 17:
        return TimeOfDay.DAY
    if 17 <= hour < 19:
        return TimeOfDay.GOLDEN_HOUR
    if 19 <= hour < 22:
        return TimeOfDay.EVENING
    return TimeOfDay.NIGHT


def locale_for(accept_language: str) -> Locale | None:
    """The best supported locale for an ``Accept-Language`` header: an exact tag first, then
    the first supported locale of the same language, in the header's order of preference."""
    if not accept_language:
        return None
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().replace("_", "-").lower()))
    for _, _, tag in sorted(ranked):
        if tag in _SUPPORTED_LOCALES:
            return _SUPPORTED_LOCALES[tag]
        language = tag.split("-")[0]
        for value, locale in _SUPPORTED_LOCALES.items():
            if value.split("-")[0] == language:
                return locale
    return None


_SUPPORTED_LOCALES = {locale.value.lower(): locale for locale in Locale}


def context_for_profile(profile: ShopperProfile) -> ShopperContext:
    """A known shopper's context; the generic one when they have not agreed to personalization."""
    if not profile.personalization_consent:
        return ShopperContext()
    climate = profile.climate or (
        COUNTRY_CLIMATE[profile.country][0] if profile.country in COUNTRY_CLIMATE else None
    )
    return ShopperContext.from_values(
        climate=climate or None,
        aesthetic=profile.aesthetic or None,
        locale=profile.locale or None,
    )


def context_from_signals(
    *,
    country: str = "",
    accept_language: str = "",
    time_zone: str = "",
    now: datetime,
) -> ShopperContext:
    """What anonymous request signals say: climate and season from the country, locale from the
    browser's languages, time of day from its clock. Unknown or malformed signals are ignored."""
    climate = season = time = None
    known = COUNTRY_CLIMATE.get(country.strip().upper())
    local_now = now
    if time_zone:
        try:
            local_now = now.astimezone(ZoneInfo(time_zone))
            time = time_of_day_for(local_now.hour)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if known is not None:
        climate = known[0]
        season = season_for(hemisphere=known[1], when=local_now)
    return ShopperContext(
        climate=climate, season=season, time=time, locale=locale_for(accept_language)
    )


@dataclass(frozen=True, slots=True)
class ShopperSignals:
    """What one storefront request says about its shopper."""

    token: str = ""
    hints: dict[str, str] = field(default_factory=dict)
    country: str = ""
    accept_language: str = ""
    time_zone: str = ""
    coordinates: tuple[float, float] | None = None
    # The page's word on consent: True (agreed), False (refused) or None (not said).
    consent: bool | None = None
    # The browser's Global Privacy Control signal (Sec-GPC: 1): an opt-out of personalization.
    global_privacy_control: bool = False
    # A number 0-99 the embed keeps per browser, so an anonymous shopper stays in or out of
    # the holdout from one page to the next.
    cohort: int | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    context: ShopperContext  # already cut to the merchant's dimensions
    source: str  # "profile", "hints", "signals" or "none" (no consent / held out)
    holdout: bool = False
    token_error: str = ""


def shopper_resolve(
    *, merchant: Merchant, policy: Policy, signals: ShopperSignals, now: datetime
) -> Resolution:
    """The context to show this shopper, under the merchant's policy.

    A valid token's profile wins over hints, hints (if the merchant allows them) over request
    signals; each fills only what the more trusted source left open. A token that does not
    verify is ignored (and reported): the shopper is treated as anonymous, never as someone
    else. Shoppers who did not consent, and shoppers in the holdout, get the generic context.
    Raises ``ContextError`` for a malformed hint the merchant allows.
    """
    profile_context: ShopperContext | None = None
    shopper_key: str | None = None
    token_error = ""
    if signals.token:
        try:
            token = shopper_token_read(merchant=merchant, token=signals.token)
        except ShopperTokenError as exc:
            token_error = str(exc)
        else:
            shopper_key = token.external_id
            profile = ShopperProfile.objects.filter(
                merchant=merchant, external_id=token.external_id
            ).first()
            if profile is not None:
                if not profile.personalization_consent:
                    return Resolution(ShopperContext(), "none", token_error=token_error)
                profile_context = context_for_profile(profile)

    hinted = ShopperContext()
    if policy.allow_public_hints and signals.hints:
        hinted = ShopperContext.parse(",".join(f"{k}={v}" for k, v in signals.hints.items() if v))

    if profile_context is None and (
        signals.global_privacy_control
        or signals.consent is False
        or (policy.require_consent and signals.consent is not True)
    ):
        return Resolution(ShopperContext(), "none", token_error=token_error)

    if _in_holdout(merchant=merchant, policy=policy, shopper_key=shopper_key, signals=signals):
        return Resolution(ShopperContext(), "none", holdout=True, token_error=token_error)

    observed = context_from_signals(
        country=signals.country,
        accept_language=signals.accept_language,
        time_zone=signals.time_zone,
        now=now,
    )
    if (
        "climate" in policy.dimensions
        and signals.coordinates is not None
        and hinted.climate is None
        and (profile_context is None or profile_context.climate is None)
    ):
        today = weather.climate_from_weather(
            latitude=signals.coordinates[0], longitude=signals.coordinates[1], base=observed.climate
        )
        if today is not None:
            observed = replace(observed, climate=today)
    context = _overlay(_overlay(observed, hinted), profile_context)
    source = (
        "profile"
        if profile_context is not None
        else "hints"
        if not hinted.is_generic
        else "signals"
    )
    return Resolution(policy.project(context), source, token_error=token_error)


def _overlay(base: ShopperContext, top: ShopperContext | None) -> ShopperContext:
    """``base`` with every dimension ``top`` sets replaced by ``top``'s value."""
    if top is None or top.is_generic:
        return base
    if base.is_generic:
        return top
    changes = {f.name: getattr(top, f.name) for f in fields(top) if getattr(top, f.name)}
    return replace(base, **changes)


def _in_holdout(
    *, merchant: Merchant, policy: Policy, shopper_key: str | None, signals: ShopperSignals
) -> bool:
    """Whether this shopper belongs to the merchant's holdout share: by a hash of their id when
    a token names them (stable across devices), else by the embed's per-browser cohort."""
    if not policy.holdout_percent:
        return False
    if shopper_key is not None:
        digest = hashlib.sha256(f"{merchant.pk}:{shopper_key}".encode()).digest()
        group = int.from_bytes(digest[:4], "big") % 100
    elif signals.cohort is not None and 0 <= signals.cohort < 100:
        group = signals.cohort
    else:
        return False
    return group < policy.holdout_percent
