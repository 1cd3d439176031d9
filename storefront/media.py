"""Stored media on local storage (``SCENECART_STORAGE=local``), served with the same headers
and the same public/private split as the S3 mode (``scenecart.storage``).

Published videos and posters (``public/``) and product photos (``products/``) are served to
anyone. Everything else is the merchant's own — brand assets, videos awaiting review, segments,
contact sheets, music beds — and is served only to a signed-in member of that merchant (or the
operator); anyone else gets the same 404 as for a file that does not exist, so names cannot be
probed.
"""

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest
from django.utils._os import safe_join
from django.views.decorators.http import require_safe

from catalog.selectors import merchants_for_user
from rendering.models import Segment
from scenecart.storage import is_open, media_headers

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Prefixes whose second part is the merchant's slug: brand/<slug>/…, videos/<slug>/…
MERCHANT_PREFIXES = ("brand", "videos", "contact-sheets", "audio/voice")


@require_safe
def serve_media(request: HttpRequest, path: str) -> FileResponse:
    name = str(PurePosixPath(path))
    if path != name or name.startswith(("/", "..")) or "/../" in f"/{name}/":
        raise Http404("No such file.")
    if not is_open(name) and not _may_read(request.user, name):
        raise Http404("No such file.")
    try:
        full_path = Path(safe_join(str(settings.MEDIA_ROOT), name))
        handle = full_path.open("rb")  # FileResponse closes it
    except (OSError, ValueError, SuspiciousFileOperation) as exc:
        raise Http404("No such file.") from exc
    headers = media_headers(name)
    response = FileResponse(handle, content_type=headers.pop("Content-Type"))
    # FileResponse would name the file; the name is ours and says nothing a browser needs.
    response["Content-Disposition"] = "inline"
    for header, value in headers.items():
        response[header] = value
    # Nothing stored is a page: even a file a browser were tricked into rendering runs no script.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=3600" if is_open(name) else "private, no-store"
    return response


def _may_read(user: "User | AnonymousUser", name: str) -> bool:
    """Whether a signed-in user may read a private file: a member of the merchant it belongs
    to, or the operator."""
    if not user.is_authenticated or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    merchants = merchants_for_user(user=user)
    for prefix in MERCHANT_PREFIXES:
        if name.startswith(prefix + "/"):
            slug = name[len(prefix) + 1 :].split("/", 1)[0]
            return merchants.filter(slug=slug).exists()
    if name.startswith("segments/"):
        return Segment.objects.filter(file=name, merchant__in=merchants).exists()
    return False
