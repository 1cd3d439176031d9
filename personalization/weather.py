"""Today's weather at the shopper's location, to refine the climate their country suggests.

The storefront answers from the request path, so this lookup must never slow a page down or
break it: it answers from the shared cache when it can, spends at most the configured timeout
when it cannot, and says "unknown" (``None``) on any failure, so the caller keeps the country's
typical climate.

Three things keep the cost bounded:

* Coordinates are snapped to a grid cell of ``GRID_DEGREES``; every shopper in a cell shares one
  lookup, cached for ``SCENECART_WEATHER_CACHE_SECONDS``. The cache holds the WMO weather code,
  not a climate, because the climate also depends on the caller's ``base``.
* A failed lookup is cached for the cell too, for ``FAILURE_CACHE_SECONDS``.
* After any failure a circuit breaker skips every lookup for ``BREAKER_SECONDS``: with the
  network down, one shopper pays one timeout and the next ones pay nothing.

The provider is Open-Meteo's forecast API (https://open-meteo.com/en/docs), which needs no key:
``GET /v1/forecast?latitude=…&longitude=…&current=weather_code`` answers
``{"current": {"weather_code": <WMO 4677 code>, …}, …}``, and a bad request answers 400 with
``{"error": true, "reason": "…"}``.
"""

import logging
import math
import re
from collections.abc import Mapping

import requests
from django.conf import settings
from django.core.cache import cache
from urllib3.util import Timeout

from catalog.vocabulary import Climate

logger = logging.getLogger(__name__)

GRID_DEGREES = 0.25
"""About 28 km north–south, the grid of the global models (GFS, ECMWF open data): finer buys
little, and a city's shoppers still share one lookup."""
FAILURE_CACHE_SECONDS = 60
BREAKER_SECONDS = 30
DISABLED_PROVIDERS = frozenset({"", "none"})
OPEN_METEO = "open-meteo"

_CACHE_VERSION = "v1"
_BREAKER_KEY = f"weather:{_CACHE_VERSION}:breaker"
_FAILED = -1  # cached for a cell whose lookup failed; WMO codes are 0–99

# One pooled HTTP session for the process: keep-alive saves a TCP and TLS handshake per lookup.
# Only plain GETs without cookies go through it, the part of a Session that is safe to share
# between threads (https://github.com/psf/requests/issues/2766).
_session = requests.Session()

# --- Where the shopper is ---------------------------------------------------------------------

# Django's META names for each CDN's visitor-location headers, in the order they are trusted.
# Cloudflare "Add visitor location headers": CF-IPLatitude / CF-IPLongitude.
# CloudFront viewer-location headers: CloudFront-Viewer-Latitude / CloudFront-Viewer-Longitude.
# Vercel: X-Vercel-IP-Latitude / X-Vercel-IP-Longitude.
_LATITUDE_LONGITUDE_HEADERS = (
    ("HTTP_CF_IPLATITUDE", "HTTP_CF_IPLONGITUDE"),
    ("HTTP_CLOUDFRONT_VIEWER_LATITUDE", "HTTP_CLOUDFRONT_VIEWER_LONGITUDE"),
    ("HTTP_X_VERCEL_IP_LATITUDE", "HTTP_X_VERCEL_IP_LONGITUDE"),
)
# Google App Engine: X-AppEngine-CityLatLong: "37.386051,-122.083851"; "0.000000,0.000000" when
# the city is unknown.
_APP_ENGINE_CITY_LAT_LONG = "HTTP_X_APPENGINE_CITYLATLONG"

# Plain decimal degrees, as every CDN above sends them. ``float()`` alone would also take "nan",
# "inf", "1e2" and "4_5", none of which a CDN sends.
_DECIMAL_DEGREES = re.compile(r"[+-]?\d{1,3}(?:\.\d+)?")


def _degrees(value: object, *, limit: float) -> float | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _DECIMAL_DEGREES.fullmatch(value):
        return None
    degrees = float(value)
    return degrees if -limit <= degrees <= limit else None


def _position(latitude: object, longitude: object) -> tuple[float, float] | None:
    lat = _degrees(latitude, limit=90)
    lon = _degrees(longitude, limit=180)
    if lat is None or lon is None:
        return None
    # 0,0 ("Null Island", open sea) is what geolocation databases answer when they do not know.
    if lat == 0 and lon == 0:
        return None
    return lat, lon


def coordinates_from_headers(meta: Mapping[str, str]) -> tuple[float, float] | None:
    """The shopper's (latitude, longitude) from a CDN's geolocation headers in Django's
    ``request.META``, or ``None`` when no CDN sent a usable pair.

    A malformed or out-of-range pair is skipped, never raised: these headers are only a hint,
    and a request that did not come through the CDN may carry anything in them.
    """
    for latitude_key, longitude_key in _LATITUDE_LONGITUDE_HEADERS:
        if latitude_key in meta or longitude_key in meta:
            position = _position(meta.get(latitude_key), meta.get(longitude_key))
            if position is not None:
                return position
    city_lat_long = meta.get(_APP_ENGINE_CITY_LAT_LONG)
    if isinstance(city_lat_long, str) and city_lat_long.count(",") == 1:
        latitude, longitude = city_lat_long.split(",")
        return _position(latitude, longitude)
    return None


# --- What the weather is ----------------------------------------------------------------------

_CLEAR = frozenset({0, 1})  # clear sky, mainly clear
_PARTLY_CLOUDY = frozenset({2})
_OVERCAST = frozenset({3, 45, 48})  # overcast, fog, depositing rime fog
_RAIN = frozenset(
    {51, 53, 55, 56, 57}  # drizzle, freezing drizzle
    | {61, 63, 65, 66, 67}  # rain, freezing rain
    | {80, 81, 82}  # rain showers
    | {95, 96, 99}  # thunderstorm, with hail
)
_SNOW = frozenset({71, 73, 75, 77, 85, 86})  # snowfall, snow grains, snow showers
# A clear or partly cloudy day does not turn a desert or the tropics into a "sunny" scene: the
# country's climate already says more about how the scene should look.
_KEPT_WHEN_FAIR = frozenset({Climate.ARID, Climate.HUMID_TROPICAL})


def climate_for_weather_code(code: int, *, base: Climate | None) -> Climate | None:
    """The climate a scene should show for a WMO 4677 weather code, as Open-Meteo reports it;
    ``None`` for a code Open-Meteo does not use."""
    if code in _RAIN:
        return Climate.RAINY
    if code in _SNOW:
        return Climate.SNOWY
    if code in _CLEAR or code in _PARTLY_CLOUDY:
        if base in _KEPT_WHEN_FAIR:
            return base
        return Climate.SUNNY if code in _CLEAR else Climate.OVERCAST
    if code in _OVERCAST:
        return Climate.HUMID_TROPICAL if base == Climate.HUMID_TROPICAL else Climate.OVERCAST
    return None


def _grid_cell(latitude: float, longitude: float) -> tuple[int, int]:
    cells_per_half_turn = round(180 / GRID_DEGREES)
    row = min(math.floor(latitude / GRID_DEGREES), round(90 / GRID_DEGREES) - 1)
    # Longitude 180 is -180: fold it so the cell's centre stays inside [-180, 180).
    column = math.floor(((longitude + 180) % 360 - 180) / GRID_DEGREES)
    return row, min(column, cells_per_half_turn - 1)


def _cell_centre(cell: tuple[int, int]) -> tuple[float, float]:
    row, column = cell
    return round((row + 0.5) * GRID_DEGREES, 4), round((column + 0.5) * GRID_DEGREES, 4)


def _weather_code_from_open_meteo(*, latitude: float, longitude: float) -> int | None:
    """Ask Open-Meteo for the current WMO weather code; ``None`` on any failure (logged)."""
    timeout = float(settings.SCENECART_WEATHER_TIMEOUT)
    url = settings.SCENECART_WEATHER_URL
    params = {"latitude": f"{latitude}", "longitude": f"{longitude}", "current": "weather_code"}
    try:
        # (connect, read): the whole wait is bounded even when the host does not answer at all.
        # One budget for connecting (with TLS) and reading together: a (connect, read) tuple
        # would allow twice the setting.
        response = _session.get(url, params=params, timeout=Timeout(total=timeout))  # type: ignore[arg-type]  # requests takes a urllib3 Timeout (HTTPAdapter.send documents it), its annotations leave it out
    except requests.Timeout:
        logger.info("Weather lookup at %s,%s timed out after %ss", latitude, longitude, timeout)
        return None
    except requests.RequestException as error:
        logger.info("Weather lookup at %s,%s failed: %s", latitude, longitude, error)
        return None
    if response.status_code != 200:
        logger.warning(
            "Weather provider answered %s for %s,%s: %.200s",
            response.status_code,
            latitude,
            longitude,
            response.text,
        )
        return None
    try:
        code = response.json()["current"]["weather_code"]
    except (ValueError, KeyError, TypeError):
        logger.warning("Weather provider sent an unreadable answer: %.200r", response.content)
        return None
    if isinstance(code, float) and code.is_integer():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 99:
        logger.warning("Weather provider sent an invalid weather code: %r", code)
        return None
    return code


def climate_from_weather(
    *, latitude: float, longitude: float, base: Climate | None
) -> Climate | None:
    """Today's weather at the shopper's location as a climate, or ``None`` when it is unknown
    (lookups disabled, provider down or slow, an answer we cannot read).

    ``base`` is the climate the shopper's country suggests; a fair day keeps an arid or humid
    tropical base rather than turning it into "sunny". Never raises.
    """
    provider = (settings.SCENECART_WEATHER_PROVIDER or "").strip().lower()
    if provider in DISABLED_PROVIDERS:
        return None
    if provider != OPEN_METEO:
        logger.warning("Unknown SCENECART_WEATHER_PROVIDER %r; weather is off", provider)
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # also refuses NaN
        return None

    try:
        code = _cached_weather_code(provider=provider, latitude=latitude, longitude=longitude)
    except Exception:
        # Mostly the shared cache (Redis) being unreachable. Without it there is no breaker
        # either, so give up on the refinement rather than risk a timeout on every request.
        logger.warning("Weather refinement failed; keeping the country's climate", exc_info=True)
        return None
    return None if code is None else climate_for_weather_code(code, base=base)


def _cached_weather_code(*, provider: str, latitude: float, longitude: float) -> int | None:
    """The weather code for the grid cell around a place: from the cache, else from the
    provider unless the breaker is open; ``None`` when unknown."""
    cell = _grid_cell(latitude, longitude)
    key = f"weather:{_CACHE_VERSION}:{provider}:{GRID_DEGREES}:{cell[0]}:{cell[1]}"
    code = cache.get(key)
    if code is not None:
        return None if code == _FAILED else int(code)
    if cache.get(_BREAKER_KEY) is not None:
        return None
    centre_latitude, centre_longitude = _cell_centre(cell)
    code = _weather_code_from_open_meteo(latitude=centre_latitude, longitude=centre_longitude)
    if code is None:
        cache.set(_BREAKER_KEY, True, BREAKER_SECONDS)
        cache.set(key, _FAILED, FAILURE_CACHE_SECONDS)
        return None
    cache.set(key, code, int(settings.SCENECART_WEATHER_CACHE_SECONDS))
    return code
