"""The environment every settings module reads (django-environ), and where the project lives."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
