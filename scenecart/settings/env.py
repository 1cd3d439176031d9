"""The environment every settings module reads (django-environ), where the project lives, and
the shape of a pluggable part's setting."""

from pathlib import Path
from typing import Any, NotRequired, TypedDict

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


class Pluggable(TypedDict):
    """One alias of a pluggable part, shaped like Django's STORAGES: a dotted class path and the
    keyword options its constructor takes. Declared so that code reading ``settings.X`` through
    django-stubs knows the shape; the loaders still check it, since JSON from the environment
    can say anything."""

    BACKEND: str
    OPTIONS: NotRequired[dict[str, Any]]
