"""Settings shared by every entry point, read from the environment.

Every setting has an embedded default that needs no service: SQLite, files under ``./media``
and a Celery broker kept in files under ``./var``. Set ``DATABASE_URL``, ``REDIS_URL`` and
``SCENECART_STORAGE=s3`` (with ``AWS_*``) to run on PostgreSQL, Redis and S3 instead; the code
path is the same. The README lists every variable.

Django's own settings are here; each concern of Scenecart's has a module of its own, star-imported
at the end (HackSoft's ``config/settings/<integration>.py``). Settings only read the environment:
checking what was read is ``scenecart.checks``'s job (Django system checks that name the
variable), run by ``manage.py`` commands and when a worker starts.
"""

from .env import BASE_DIR, env

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "scenecart.apps.ScenecartAdminConfig",  # django.contrib.admin with the merchant dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "catalog",
    "personalization",
    "provenance",
    "rendering",
    "storefront",
    "integrations",
    "scenecart.apps.ScenecartConfig",  # system checks of the settings below
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scenecart.urls"
WSGI_APPLICATION = "scenecart.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file: WAL lets readers run beside the one
    # writer, IMMEDIATE transactions take the write lock up front instead of failing on upgrade,
    # and the timeout makes a writer wait rather than raise "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}


# Each concern's settings.
from .cache import *  # noqa: E402, F403
from .catalog import *  # noqa: E402, F403
from .celery import *  # noqa: E402, F403
from .provenance import *  # noqa: E402, F403
from .rendering import *  # noqa: E402, F403
from .storage import *  # noqa: E402, F403
from .storefront import *  # noqa: E402, F403
from .voice import *  # noqa: E402, F403
