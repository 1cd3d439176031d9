"""pytest settings: the base settings with fast hashing and a throwaway key.

The database is whatever DATABASE_URL says (SQLite by default). Under SQLite the test database
is a file, not memory, so a Celery worker started by a test in its own process sees the rows.

Each test run gets its own folder (``SCENECART_TEST_RUN_DIR``) for that file and for the
filesystem broker, so two runs on one machine, or a run beside the demo, never take each
other's tasks. Worker processes the suite starts inherit it through the environment.
"""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CACHES, CELERY_BROKER_URL, DATABASES, env
from .celery import broker_transport_options
from .rendering import HouseFormat

TEST_RUN_DIR = Path(
    os.environ.setdefault("SCENECART_TEST_RUN_DIR", tempfile.mkdtemp(prefix="scenecart-test-"))
)
SCENECART_VAR_DIR = TEST_RUN_DIR / "var"
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL, SCENECART_VAR_DIR)

SECRET_KEY = "test-only-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_RUN_DIR / "test.sqlite3")}

# Test-sized house formats and short segments: renders take a fraction of a second.
SMALL_PROFILES: dict[str, HouseFormat] = {
    "16:9": {"width": 320, "height": 180, "fps": 15},
    "9:16": {"width": 180, "height": 320, "fps": 15},
    "1:1": {"width": 240, "height": 240, "fps": 15},
}
SMALL_SEGMENT_SECONDS = {"hero": 1.0, "scene": 1.0, "offer": 1.0, "outro": 1.0}
if env.bool("SCENECART_TEST_SMALL_VIDEOS", default=False):
    # A worker started by the test suite renders what the tests' `small_videos` fixture
    # configures in-process.
    SCENECART_PROFILES = SMALL_PROFILES
    SCENECART_SEGMENT_SECONDS = SMALL_SEGMENT_SECONDS
CACHES = {
    "default": {
        **CACHES["default"],
        # A worker the suite starts shares the keys of the test that started it.
        "KEY_PREFIX": os.environ.get("SCENECART_TEST_CACHE_PREFIX", "test"),
    }
}
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    CACHES["default"]["LOCATION"] = str(TEST_RUN_DIR / "cache")
# Weather lookups go to a closed port unless a test points them at its own server.
SCENECART_WEATHER_URL = "http://127.0.0.1:9/v1/forecast"

# Fault-injection tests swap in storage that refuses writes, in the workers they start too.
if env.str("SCENECART_TEST_STORAGE_BACKEND", default=""):
    STORAGES = {
        **STORAGES,  # noqa: F405
        "default": {"BACKEND": env.str("SCENECART_TEST_STORAGE_BACKEND")},
    }
