from django.urls import path

from .shopify import views as shopify_views

app_name = "integrations"

urlpatterns = [
    path(
        "integrations/shopify/webhooks",
        shopify_views.shopify_webhook,
        name="shopify-webhooks",
    ),
]
