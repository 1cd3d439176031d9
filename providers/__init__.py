"""Render backends, one module each on a small base (``base.py``; HTTP providers share
``remote.py``), in the manner of django-storages' ``backends/``: the built-in renderer
(``local.py``) and the AI video providers. No models: the rendering core keeps the state."""
