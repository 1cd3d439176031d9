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
