"""The storefront: the public API (DRF, the OpenAPI schema), its rate limits, shopper tokens,
weather, and the demo shop."""

from .env import env

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The public API is anonymous: shoppers are named by signed tokens, merchants' servers by
    # their storefront secret (storefront.api.MerchantSecretAuthentication).
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "storefront.api.json_exception_handler",
    # Client addresses for rate limits: REMOTE_ADDR, or the address this many proxies in
    # front of Django put in X-Forwarded-For.
    "NUM_PROXIES": env.int("SCENECART_NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "events": env.str("SCENECART_EVENTS_RATE", default="600/min"),
        "shopper_tokens": env.str("SCENECART_TOKENS_RATE", default="1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Scenecart storefront API",
    "DESCRIPTION": (
        "Personalized product videos: the variant that fits a shopper, playback events, "
        "and signed shopper tokens for merchants' servers."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}
# Seconds a product's table of variants is cached for the video lookup. Rendering drops the
# entry when a video changes, so this only bounds staleness when that drop cannot reach every
# web process.
SCENECART_LOOKUP_CACHE_SECONDS = env.int("SCENECART_LOOKUP_CACHE_SECONDS", default=10)
# How long a CDN or browser may keep a "ready" lookup answer (Cache-Control max-age), and how
# much longer a CDN may serve it while it fetches a new one (stale-while-revalidate). Their sum
# bounds how long a shopper behind a CDN can still be sent a video after a price change
# withdrew it (README, "How fresh is fresh").
SCENECART_LOOKUP_MAX_AGE = env.int("SCENECART_LOOKUP_MAX_AGE", default=15)
SCENECART_LOOKUP_STALE_WHILE_REVALIDATE = env.int(
    "SCENECART_LOOKUP_STALE_WHILE_REVALIDATE", default=15
)
# Video lookups a client address may make per window (storefront/ratelimit.py), like
# "1200/min" (s, min, h, day); past it the lookup answers 429 with Retry-After. Behind a CDN
# the address is the CDN's edge unless SCENECART_NUM_PROXIES is set. "" or "0": no limit.
SCENECART_LOOKUP_RATE = env.str("SCENECART_LOOKUP_RATE", default="1200/min")
# How long a shopper token is valid when the merchant's server does not say.
SCENECART_SHOPPER_TOKEN_TTL = env.int("SCENECART_SHOPPER_TOKEN_TTL", default=24 * 60 * 60)
# Today's weather refines a shopper's climate where the CDN sends their coordinates.
SCENECART_WEATHER_PROVIDER = env.str("SCENECART_WEATHER_PROVIDER", default="open-meteo")
SCENECART_WEATHER_URL = env.str(
    "SCENECART_WEATHER_URL", default="https://api.open-meteo.com/v1/forecast"
)
SCENECART_WEATHER_TIMEOUT = env.float("SCENECART_WEATHER_TIMEOUT", default=0.3)
SCENECART_WEATHER_CACHE_SECONDS = env.int("SCENECART_WEATHER_CACHE_SECONDS", default=30 * 60)

# The merchant whose products the home page shows.
SCENECART_DEMO_MERCHANT = env.str("SCENECART_DEMO_MERCHANT", default="demo")
