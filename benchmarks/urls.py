"""The app's URLs plus the bare anchor view (benchmark settings only)."""

from django.http import HttpResponse
from django.urls import include, path

from catalog.models import Warehouse


def bare(request):
    """A tiny response after one SELECT: what Django + gunicorn cost on their own."""
    name = Warehouse.objects.values_list("name", flat=True).order_by("pk").first()
    return HttpResponse(f"ok {name}", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("", include("tuangou.urls")),
]
