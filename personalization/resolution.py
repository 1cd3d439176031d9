"""From what we know about a shopper to a ``ShopperContext``.

Sources, most trusted first: the merchant's ``ShopperProfile`` (named by a signed token),
request hints the merchant allows, then request signals: a CDN's country header, the browser's
``Accept-Language`` and time zone. A country maps to its typical climate and hemisphere through
the table below; the season follows hemisphere and date, the time of day the shopper's clock.
"""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from catalog.models import ShopperProfile
from catalog.vocabulary import Climate, Locale, Season, TimeOfDay

from .context import ShopperContext

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
    supported = {locale.value.lower(): locale for locale in Locale}
    for _, _, tag in sorted(ranked):
        if tag in supported:
            return supported[tag]
        language = tag.split("-")[0]
        for value, locale in supported.items():
            if value.split("-")[0] == language:
                return locale
    return None


def context_for_profile(profile: ShopperProfile) -> ShopperContext:
    """A known shopper's context; the generic one when they have not agreed to personalization."""
    if not profile.personalization_consent:
        return ShopperContext()
    climate = profile.climate or (
        COUNTRY_CLIMATE[profile.country][0] if profile.country in COUNTRY_CLIMATE else None
    )
    return ShopperContext(
        climate=climate or None,  # type: ignore[arg-type]
        aesthetic=profile.aesthetic or None,  # type: ignore[arg-type]
        locale=profile.locale or None,  # type: ignore[arg-type]
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
