"""Settings modules: ``dev`` (``manage.py`` and the run script), ``production`` (wsgi, asgi,
Celery) and ``test`` (pytest). All of them read the environment through ``base``."""
