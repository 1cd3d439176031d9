"""The public provenance page of a video: what made it, and whether its file carries valid
Content Credentials (C2PA). Anyone holding a Scenecart video can look it up; no login.

The page names a video by its unguessable ``public_id``, never the sequential primary key, and
answers only for published videos (what the storefront's lookup would serve): a video awaiting
review, rejected, or of a draft product is a 404, like one that does not exist. It shows the
public record only (``rendering.video_provenance.public_provenance_record``).
"""

import uuid

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from rendering.video_provenance import (
    public_provenance_record,
    video_for_provenance,
    video_manifest,
)

# What each manifest state means to someone who is not a C2PA specialist.
STATE_LABELS = {
    "valid": "Signed and verified: the file is unchanged since Scenecart signed it.",
    "untrusted": (
        "Signed: the file is unchanged since it was signed, but the signing certificate is not "
        "on a trust list this site checks (a development certificate, or a merchant's own CA)."
    ),
    "invalid": "The file does not match its Content Credentials: it was changed after signing.",
    "missing": "This file carries no Content Credentials.",
}


@require_GET
def provenance_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    video = video_for_provenance(public_id=public_id)
    if video is None:
        raise Http404("No published video has this id.")
    record = public_provenance_record(video)
    credentials = video_manifest(video=video)
    if request.GET.get("format") == "json":
        return JsonResponse({"record": record, "content_credentials": credentials})
    return render(
        request,
        "storefront/provenance.html",
        {
            "record": record,
            "credentials": credentials,
            "state_label": STATE_LABELS.get(credentials["state"], credentials["state"]),
        },
    )
