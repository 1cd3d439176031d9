"""The rendering app's admin, one module per page: Django's autodiscovery imports this package,
and these imports register each admin."""

from . import bulk, products, providers, segments, videos  # noqa: F401
