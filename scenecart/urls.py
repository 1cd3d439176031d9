from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("rendering.urls")),
    path("", include("storefront.urls")),
]

if settings.DEBUG and settings.SCENECART_STORAGE == "local":
    # Development only: the dev server serves uploaded and rendered media. Production serves
    # them from S3/a CDN or the web server in front of Django.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
