"""Test-only urlconf: the project's urls plus uploaded/rendered media.

The test settings have DEBUG=False, so scenecart.urls does not serve MEDIA_URL; a browser test
on the live server needs the video files. MEDIA_ROOT changes per test (the ``media_root``
fixture), so the view reads it at request time rather than when this module is imported.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import include, re_path
from django.views.static import serve


def media(request: HttpRequest, path: str) -> HttpResponse:
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", media),
    re_path(r"", include("scenecart.urls")),
]
