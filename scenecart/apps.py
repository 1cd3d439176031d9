from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class ScenecartAdminConfig(AdminConfig):
    default_site = "scenecart.admin.ScenecartAdminSite"


class ScenecartConfig(AppConfig):
    """The project itself: no models, only the system checks of its settings."""

    name = "scenecart"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers them)
