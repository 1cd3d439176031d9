"""Catalog imports: how images named by URL in merchants' feeds are fetched."""

from .env import env

# Images named by URL in merchants' feeds are fetched by workers (catalog/fetch.py). Hosts
# listed here may resolve to loopback or private addresses (tests, a feed server on the LAN);
# every other host that does is refused.
SCENECART_FETCH_ALLOWED_HOSTS = env.list("SCENECART_FETCH_ALLOWED_HOSTS", default=[])
SCENECART_FETCH_TIMEOUT = env.float("SCENECART_FETCH_TIMEOUT", default=10.0)
SCENECART_FETCH_MAX_BYTES = env.int("SCENECART_FETCH_MAX_BYTES", default=25 * 1024 * 1024)
SCENECART_FETCH_RETRIES = env.int("SCENECART_FETCH_RETRIES", default=2)
