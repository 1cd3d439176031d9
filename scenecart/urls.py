import re

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from storefront.media import serve_media

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("", include("rendering.urls")),
    path("", include("storefront.urls")),
    path("", include("integrations.urls")),
]

if settings.SCENECART_STORAGE == "local" and settings.MEDIA_URL.startswith("/"):
    # Local storage is served by Django in every mode, so the public/private split and the
    # safe headers (scenecart.storage) hold without a web server configured to match. S3 mode
    # serves media from the bucket or the CDN.
    urlpatterns.append(
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", serve_media, name="media"
        )
    )
