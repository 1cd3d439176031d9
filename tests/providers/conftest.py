"""The fake providers' fixtures live in tests/providers/fixtures.py (a plugin of the whole
suite, so rendering tests use them too); ``serve`` is re-exported for the provider tests."""

from .fixtures import serve

__all__ = ["serve"]
