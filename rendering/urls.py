from django.urls import path

from .webhooks import provider_webhook

urlpatterns = [
    path("webhooks/<str:alias>/<str:token>", provider_webhook, name="rendering-webhook"),
]
