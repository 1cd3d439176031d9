"""The development entry point: ``manage.py`` and ``scripts/run`` use it.

DEBUG is on and a fixed, clearly insecure key is used unless the environment says otherwise.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
