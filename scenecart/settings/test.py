"""pytest settings: the base settings with fast hashing and a throwaway key.

The database is whatever DATABASE_URL says (SQLite by default). Under SQLite the test database
is a file, not memory, so a Celery worker started by a test in its own process sees the rows.
"""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

SECRET_KEY = "test-only-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SCENECART_TEST_SQLITE", default=str(BASE_DIR / "var" / "test.sqlite3"))
    }

# Test-sized house formats and short segments: renders take a fraction of a second.
SMALL_PROFILES = {
    "16:9": {"width": 320, "height": 180, "fps": 15},
    "9:16": {"width": 180, "height": 320, "fps": 15},
    "1:1": {"width": 240, "height": 240, "fps": 15},
}
SMALL_SEGMENT_SECONDS = {"hero": 1.0, "scene": 1.0}
if env.bool("SCENECART_TEST_SMALL_VIDEOS", default=False):
    # A worker started by the test suite renders what the tests' `small_videos` fixture
    # configures in-process.
    SCENECART_PROFILES = SMALL_PROFILES
    SCENECART_SEGMENT_SECONDS = SMALL_SEGMENT_SECONDS
