"""A local server that speaks Open-Meteo's forecast API, for the weather tests.

It follows the API as documented at https://open-meteo.com/en/docs:
``GET /v1/forecast?latitude=…&longitude=…&current=…`` answers ``{"current": {…}}`` and refuses a
bad query with 400 ``{"error": true, "reason": "…"}``. It counts requests, and can be told to
stall, to send garbage or to rate-limit.
"""

import json
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

RAIN, SNOW, CLEAR = 61, 73, 0

# Variables Open-Meteo's forecast API accepts in ``current`` (the subset a shop might ask for).
CURRENT_VARIABLES = {
    "temperature_2m",
    "relative_humidity_2m",
    "apparent_temperature",
    "is_day",
    "precipitation",
    "rain",
    "showers",
    "snowfall",
    "weather_code",
    "cloud_cover",
    "wind_speed_10m",
}


class OpenMeteoServer(ThreadingHTTPServer):
    """Open-Meteo's forecast endpoint on 127.0.0.1, with knobs for the tests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OpenMeteoHandler)
        self.weather_code: int = RAIN
        self.mode = "ok"  # "ok" | "sleep" | "garbage" | "rate-limited"
        self.sleep_seconds = 2.0
        self.garbage = b"<html><body>502 Bad Gateway</body></html>"
        self.queries: list[dict[str, list[str]]] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/forecast"

    @property
    def request_count(self) -> int:
        return len(self.queries)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (our timeout) leaves a broken pipe behind; that is the point.
        pass


class OpenMeteoHandler(BaseHTTPRequestHandler):
    server: OpenMeteoServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send_json(self, status: HTTPStatus, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: HTTPStatus, reason: str) -> None:
        self._send_json(status, {"error": True, "reason": reason})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/v1/forecast":
            self._error(HTTPStatus.NOT_FOUND, "Not Found")
            return
        query = parse_qs(url.query, keep_blank_values=True)
        self.server.queries.append(query)
        position = {}
        for name, limit in (("latitude", 90.0), ("longitude", 180.0)):
            if name not in query:
                self._error(HTTPStatus.BAD_REQUEST, f"Parameter '{name}' is required")
                return
            try:
                value = float(query[name][0])
            except ValueError:
                self._error(HTTPStatus.BAD_REQUEST, f"Value of type 'Float' required for '{name}'")
                return
            if not -limit <= value <= limit:
                self._error(
                    HTTPStatus.BAD_REQUEST,
                    f"{name.title()} must be in range of -{limit:g} to {limit:g}°. Given: {value}.",
                )
                return
            position[name] = value
        current = [v for part in query.get("current", []) for v in part.split(",") if v]
        unknown = [v for v in current if v not in CURRENT_VARIABLES]
        if unknown:
            self._error(
                HTTPStatus.BAD_REQUEST,
                f"Cannot initialize ForecastVariable from invalid String value {unknown[0]}",
            )
            return
        if "weather_code" not in current:
            self._error(HTTPStatus.BAD_REQUEST, "This fake only answers current=weather_code")
            return

        if self.server.mode == "sleep" and self.server.stopping.wait(self.server.sleep_seconds):
            return
        if self.server.mode == "garbage":
            self._send(HTTPStatus.OK, self.server.garbage, "application/json")
            return
        if self.server.mode == "rate-limited":
            self._error(
                HTTPStatus.TOO_MANY_REQUESTS,
                "Minutely API request limit exceeded. Please try again in one minute.",
            )
            return
        values: dict[str, object] = {v: 0 for v in current}
        values["weather_code"] = self.server.weather_code
        self._send_json(
            HTTPStatus.OK,
            {
                "latitude": position["latitude"],
                "longitude": position["longitude"],
                "generationtime_ms": 0.025,
                "utc_offset_seconds": 0,
                "timezone": "GMT",
                "timezone_abbreviation": "GMT",
                "elevation": 38.0,
                "current_units": {
                    "time": "iso8601",
                    "interval": "seconds",
                    **{v: ("wmo code" if v == "weather_code" else "") for v in current},
                },
                "current": {"time": "2026-07-15T12:00", "interval": 900, **values},
            },
        )


@pytest.fixture
def open_meteo(settings: Any) -> Iterator[OpenMeteoServer]:
    server = OpenMeteoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    settings.SCENECART_WEATHER_PROVIDER = "open-meteo"
    settings.SCENECART_WEATHER_URL = server.url
    settings.SCENECART_WEATHER_TIMEOUT = 0.3
    settings.SCENECART_WEATHER_CACHE_SECONDS = 1800
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
