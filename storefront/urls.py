from django.urls import path

from . import page_urls, views

app_name = "storefront"

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/videos/<slug:merchant>/<str:sku>", views.video_lookup, name="video-lookup"),
    *page_urls.urlpatterns,
]
