from django.contrib.admin.apps import AdminConfig


class ScenecartAdminConfig(AdminConfig):
    default_site = "scenecart.admin.ScenecartAdminSite"
