"""Plain Django views of the storefront: the health check load balancers and monitors call."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the web process answers. Deliberately touches nothing else, so a slow
    database does not get healthy web processes taken out of the load balancer."""
    return JsonResponse({"ok": True})
