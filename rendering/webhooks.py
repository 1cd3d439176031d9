"""Provider callbacks. A callback is a hint, never a source of truth: it schedules a poll of
the provider, which reads the job's state back with our own credentials. A forged or replayed
callback can therefore only cause one extra poll; providers that sign their callbacks
(Replicate, fal) are verified as well.

The URL carries a signed token naming the segment (``rendering.remote.webhook_url``), so a
callback reaches exactly the segment it was created for.
"""

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from providers.remote import RemoteBackend

from .backends import backend_for
from .remote import segment_from_webhook, segment_poke

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def provider_webhook(request: HttpRequest, alias: str, token: str) -> HttpResponse:
    segment = segment_from_webhook(alias=alias, token=token)
    if segment is None:
        return JsonResponse({"error": "Unknown callback."}, status=404)
    backend = backend_for(alias)
    if not isinstance(backend, RemoteBackend):
        return JsonResponse({"error": "Unknown callback."}, status=404)
    raw = request.body
    if not backend.verify_webhook(raw, request.headers):
        logger.warning("Refused an unverified %s callback for segment %s", alias, segment.pk)
        return JsonResponse({"error": "Signature does not verify."}, status=401)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return JsonResponse({"error": "The body is not JSON."}, status=400)
    if isinstance(body, dict):
        reply = backend.webhook_reply(body)
        if reply is not None:  # a handshake (MiniMax's challenge), answered at once
            return JsonResponse(reply)
    segment_poke(segment=segment)
    return JsonResponse({"ok": True})
