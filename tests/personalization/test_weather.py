"""Weather refinement of the shopper's climate, against a local server that speaks Open-Meteo.

The fake follows the forecast API as documented at https://open-meteo.com/en/docs:
``GET /v1/forecast?latitude=…&longitude=…&current=…`` answers ``{"current": {…}}`` and refuses a
bad query with 400 ``{"error": true, "reason": "…"}``. It counts requests, and can be told to
stall, to send garbage or to rate-limit, so the tests see what a shopper and the provider's
quota would see.
"""

import logging
import socket
import time
import uuid
from typing import Any

import pytest
import requests
from django.test import RequestFactory

from catalog.vocabulary import Climate
from personalization import weather
from personalization.weather import climate_from_weather, coordinates_from_headers
from tests.support.open_meteo import CLEAR, RAIN, SNOW, OpenMeteoServer

BERLIN = (52.52, 13.405)
BERLIN_WEDDING = (52.55, 13.36)  # 4 km north-west of BERLIN, same 0.25° cell
PARIS = (48.8566, 2.3522)


@pytest.fixture(autouse=True)
def own_cache(settings: Any) -> None:
    """Each test gets its own keys in the configured cache (files or Redis).

    Assigning ``settings.CACHES`` resets Django's cache handlers. No ``cache.clear()``: under
    Redis the cache shares a database with the Celery broker.
    """
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"weather-{uuid.uuid4().hex}"}
    }


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _climate_at(place: tuple[float, float], base: Climate | None = None) -> Climate | None:
    return climate_from_weather(latitude=place[0], longitude=place[1], base=base)


# --- From weather to the scene's climate ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "base", "expected"),
    [
        (61, None, Climate.RAINY),  # rain
        (53, Climate.SUNNY, Climate.RAINY),  # drizzle in a sunny country
        (81, Climate.ARID, Climate.RAINY),  # showers in the desert
        (95, Climate.HUMID_TROPICAL, Climate.RAINY),  # thunderstorm
        (73, None, Climate.SNOWY),  # snow
        (86, Climate.RAINY, Climate.SNOWY),  # snow showers
        (0, Climate.RAINY, Climate.SUNNY),  # a clear day in a rainy country
        (1, None, Climate.SUNNY),
        (0, Climate.ARID, Climate.ARID),  # a clear day keeps the desert scene
        (2, Climate.ARID, Climate.ARID),
        (1, Climate.HUMID_TROPICAL, Climate.HUMID_TROPICAL),
        (2, Climate.HUMID_TROPICAL, Climate.HUMID_TROPICAL),
        (2, Climate.SUNNY, Climate.OVERCAST),  # partly cloudy elsewhere
        (3, None, Climate.OVERCAST),
        (3, Climate.ARID, Climate.OVERCAST),
        (45, Climate.SUNNY, Climate.OVERCAST),  # fog
        (48, Climate.HUMID_TROPICAL, Climate.HUMID_TROPICAL),
    ],
)
def test_todays_weather_sets_the_scenes_climate(
    open_meteo: OpenMeteoServer, code: int, base: Climate | None, expected: Climate
) -> None:
    open_meteo.weather_code = code
    assert _climate_at(BERLIN, base) == expected


def test_a_code_open_meteo_does_not_use_leaves_the_country_climate(
    open_meteo: OpenMeteoServer,
) -> None:
    open_meteo.weather_code = 19  # a WMO 4677 code outside Open-Meteo's subset
    assert _climate_at(BERLIN, Climate.OVERCAST) is None


def test_the_query_is_one_open_meteo_accepts_at_the_poles_and_the_date_line(
    open_meteo: OpenMeteoServer,
) -> None:
    """Grid cells at the edges are asked for by a centre inside Open-Meteo's ranges (the fake
    refuses anything else with a 400, as Open-Meteo does)."""
    for place in [(90.0, 180.0), (-90.0, -180.0), (-33.9, 179.99)]:
        assert _climate_at(place) == Climate.RAINY
    for query in open_meteo.queries:
        assert -90 < float(query["latitude"][0]) < 90
        assert -180 < float(query["longitude"][0]) < 180


def test_the_fake_refuses_a_query_open_meteo_would_refuse(open_meteo: OpenMeteoServer) -> None:
    """Keeps the fake honest: the other tests only pass when Scenecart's query is valid."""
    answer = requests.get(
        open_meteo.url, params={"latitude": "north", "longitude": "13.4"}, timeout=2
    )
    assert answer.status_code == 400
    assert answer.json()["error"] is True
    assert "latitude" in answer.json()["reason"]
    answer = requests.get(
        open_meteo.url,
        params={"latitude": "91", "longitude": "13.4", "current": "weather_code"},
        timeout=2,
    )
    assert answer.status_code == 400
    assert "-90 to 90" in answer.json()["reason"]


# --- Cost: the cache, the grid ----------------------------------------------------------------


def test_shoppers_in_one_grid_cell_share_one_lookup(open_meteo: OpenMeteoServer) -> None:
    open_meteo.weather_code = CLEAR
    assert _climate_at(BERLIN) == Climate.SUNNY
    assert _climate_at(BERLIN_WEDDING) == Climate.SUNNY
    # The cached answer is the weather, not a climate: a desert base still keeps its scene.
    assert _climate_at(BERLIN_WEDDING, Climate.ARID) == Climate.ARID
    assert open_meteo.request_count == 1
    # Asked for the cell's centre, so the whole cell gets the same answer.
    assert open_meteo.queries[0]["latitude"] == ["52.625"]
    assert open_meteo.queries[0]["longitude"] == ["13.375"]


def test_another_grid_cell_gets_its_own_weather(open_meteo: OpenMeteoServer) -> None:
    open_meteo.weather_code = RAIN
    assert _climate_at(BERLIN) == Climate.RAINY
    open_meteo.weather_code = SNOW
    assert _climate_at(PARIS) == Climate.SNOWY
    assert _climate_at(BERLIN) == Climate.RAINY  # still Berlin's cached answer
    assert open_meteo.request_count == 2


# --- Failures: unknown weather, quickly -------------------------------------------------------


def test_a_stalled_provider_costs_one_short_wait_then_nothing(
    open_meteo: OpenMeteoServer, caplog: pytest.LogCaptureFixture
) -> None:
    open_meteo.mode = "sleep"
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="personalization.weather"):
        assert _climate_at(BERLIN, Climate.OVERCAST) is None
    assert time.monotonic() - started < 0.8
    assert "timed out" in caplog.text

    # The breaker is open: even a healthy provider and another cell cost no request at all.
    open_meteo.mode = "ok"
    started = time.monotonic()
    assert _climate_at(PARIS) is None
    assert time.monotonic() - started < 0.1
    assert open_meteo.request_count == 1


def test_lookups_resume_after_the_breaker_window(
    open_meteo: OpenMeteoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weather, "BREAKER_SECONDS", 1)
    open_meteo.mode = "garbage"
    assert _climate_at(BERLIN) is None
    open_meteo.mode = "ok"
    assert _climate_at(PARIS) is None  # breaker open
    time.sleep(1.2)
    assert _climate_at(PARIS) == Climate.RAINY
    assert _climate_at(BERLIN) is None  # its failure is remembered for a minute
    assert open_meteo.request_count == 2


def test_no_network_gives_no_weather_quickly(settings: Any) -> None:
    settings.SCENECART_WEATHER_PROVIDER = "open-meteo"
    settings.SCENECART_WEATHER_URL = f"http://127.0.0.1:{_closed_port()}/v1/forecast"
    started = time.monotonic()
    assert _climate_at(BERLIN, Climate.OVERCAST) is None
    assert _climate_at(PARIS, Climate.OVERCAST) is None
    assert time.monotonic() - started < 0.8


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"current": {"time": "2026-07-15T12:00"',  # cut off
        b"[]",
        b'{"current": {}}',
        b'{"current": {"weather_code": "rain"}}',
        b'{"current": {"weather_code": true}}',
        b'{"current": {"weather_code": 4000}}',
    ],
)
def test_an_unreadable_answer_gives_no_weather(open_meteo: OpenMeteoServer, body: bytes) -> None:
    open_meteo.mode = "garbage"
    open_meteo.garbage = body
    assert _climate_at(BERLIN, Climate.SUNNY) is None
    assert _climate_at(BERLIN, Climate.SUNNY) is None
    assert open_meteo.request_count == 1


def test_a_rate_limited_provider_is_left_alone(open_meteo: OpenMeteoServer) -> None:
    open_meteo.mode = "rate-limited"
    assert _climate_at(BERLIN) is None
    assert _climate_at(PARIS) is None
    assert open_meteo.request_count == 1


def test_an_unreachable_cache_gives_no_weather_and_no_lookup(
    open_meteo: OpenMeteoServer, settings: Any
) -> None:
    """Without the shared cache there is no breaker either; skip the lookup, do not fail."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    assert _climate_at(BERLIN) is None
    assert open_meteo.request_count == 0


@pytest.mark.parametrize("provider", ["none", "", "None", "openweathermap"])
def test_without_a_known_provider_there_is_no_lookup(
    open_meteo: OpenMeteoServer, settings: Any, provider: str
) -> None:
    settings.SCENECART_WEATHER_PROVIDER = provider
    assert _climate_at(BERLIN) is None
    assert open_meteo.request_count == 0


@pytest.mark.parametrize("place", [(91.0, 0.0), (0.0, -180.5), (float("nan"), 13.4)])
def test_impossible_coordinates_cost_no_lookup(
    open_meteo: OpenMeteoServer, place: tuple[float, float]
) -> None:
    assert _climate_at(place) is None
    assert open_meteo.request_count == 0


# --- Where the shopper is: CDN geolocation headers --------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"CF-IPLatitude": "37.78044", "CF-IPLongitude": "-122.39055"}, (37.78044, -122.39055)),
        (
            {"CloudFront-Viewer-Latitude": "42.30680", "CloudFront-Viewer-Longitude": "-83.70590"},
            (42.3068, -83.7059),
        ),
        ({"X-Vercel-IP-Latitude": "52.52", "X-Vercel-IP-Longitude": "13.405"}, (52.52, 13.405)),
        ({"X-AppEngine-CityLatLong": "37.386051,-122.083851"}, (37.386051, -122.083851)),
        ({"X-AppEngine-CityLatLong": "-33.8688, 151.2093"}, (-33.8688, 151.2093)),
    ],
    ids=["cloudflare", "cloudfront", "vercel", "app-engine", "app-engine-spaced"],
)
def test_each_cdns_headers_give_the_shoppers_position(
    headers: dict[str, str], expected: tuple[float, float]
) -> None:
    request = RequestFactory().get("/", headers=headers)
    assert coordinates_from_headers(request.META) == expected


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"HTTP_CF_IPLATITUDE": "37.78044"},  # longitude missing
        {"HTTP_CF_IPLATITUDE": "", "HTTP_CF_IPLONGITUDE": ""},
        {"HTTP_CF_IPLATITUDE": "north", "HTTP_CF_IPLONGITUDE": "-122.4"},
        {"HTTP_CF_IPLATITUDE": "91.0", "HTTP_CF_IPLONGITUDE": "0.5"},
        {"HTTP_CLOUDFRONT_VIEWER_LATITUDE": "42.3", "HTTP_CLOUDFRONT_VIEWER_LONGITUDE": "-181"},
        {"HTTP_X_VERCEL_IP_LATITUDE": "nan", "HTTP_X_VERCEL_IP_LONGITUDE": "13.4"},
        {"HTTP_X_VERCEL_IP_LATITUDE": "inf", "HTTP_X_VERCEL_IP_LONGITUDE": "13.4"},
        {"HTTP_X_VERCEL_IP_LATITUDE": "5e1", "HTTP_X_VERCEL_IP_LONGITUDE": "13.4"},
        {"HTTP_X_VERCEL_IP_LATITUDE": "52,52", "HTTP_X_VERCEL_IP_LONGITUDE": "13,40"},
        {"HTTP_X_VERCEL_IP_LATITUDE": "5_2", "HTTP_X_VERCEL_IP_LONGITUDE": "13.4"},
        {"HTTP_X_APPENGINE_CITYLATLONG": "0.000000,0.000000"},  # App Engine's "unknown city"
        {"HTTP_X_APPENGINE_CITYLATLONG": "37.386051"},
        {"HTTP_X_APPENGINE_CITYLATLONG": "37.3,-122.0,5"},
        {"HTTP_X_APPENGINE_CITYLATLONG": "lat,long"},
        {"HTTP_X_APPENGINE_CITYLATLONG": "-91,10"},
    ],
)
def test_malformed_headers_give_no_position(meta: dict[str, str]) -> None:
    assert coordinates_from_headers(meta) is None


def test_a_malformed_cdn_header_does_not_hide_a_good_one() -> None:
    meta = {
        "HTTP_CF_IPLATITUDE": "garbage",
        "HTTP_CF_IPLONGITUDE": "garbage",
        "HTTP_X_APPENGINE_CITYLATLONG": "48.8566,2.3522",
    }
    assert coordinates_from_headers(meta) == (48.8566, 2.3522)


def test_a_shopper_behind_cloudflare_in_the_rain_sees_the_rainy_scene(
    open_meteo: OpenMeteoServer,
) -> None:
    """The two halves together, as the storefront will call them."""
    open_meteo.weather_code = 63
    request = RequestFactory().get(
        "/", headers={"CF-IPLatitude": "53.3498", "CF-IPLongitude": "-6.2603"}
    )
    position = coordinates_from_headers(request.META)
    assert position is not None
    rainy_day = climate_from_weather(
        latitude=position[0], longitude=position[1], base=Climate.SUNNY
    )
    assert rainy_day == Climate.RAINY
