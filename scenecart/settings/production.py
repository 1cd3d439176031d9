"""Production settings: wsgi, asgi and Celery default to these.

Refuses to start without SECRET_KEY; DEBUG is off unless explicitly turned on. With the
environment of the README's deployment section, ``manage.py check --deploy`` reports nothing
(tests/test_security.py keeps it that way).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Production settings need a secret key from the environment, "
        "e.g. SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
DEBUG = env.bool("DEBUG", default=False)

# TLS ends at the proxy or load balancer in front of gunicorn, which says so in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe the health check over plain HTTP, straight at gunicorn; it says nothing
# but {"ok": true}, and a redirect would read as "unhealthy" to some of them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No page of ours may be framed, except the iframe player, which says per merchant who may
# frame it (storefront.pages: xframe_options_exempt and a CSP frame-ancestors list).
X_FRAME_OPTIONS = "DENY"

# Preloading HSTS is a decision about the whole registrable domain (often the merchant's or
# the company's, not this installation's) and cannot be undone quickly, so it stays opt-in.
# hstspreload.org accepts a domain only with a max-age of at least a year: below that,
# security.W021 ("without SECURE_HSTS_PRELOAD your site cannot be submitted") is moot, and it
# is silenced. Raise SECURE_HSTS_SECONDS to a year and the check asks the question again.
HSTS_PRELOAD_MIN_SECONDS = 365 * 24 * 60 * 60
SILENCED_SYSTEM_CHECKS = (
    ["security.W021"]
    if not SECURE_HSTS_PRELOAD and SECURE_HSTS_SECONDS < HSTS_PRELOAD_MIN_SECONDS
    else []
)
