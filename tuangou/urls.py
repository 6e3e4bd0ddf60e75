from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import pwa, views
from .private_files import serve_public_media

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", pwa.favicon, name="favicon"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("admin/", admin.site.urls),
    path("accounts/", include("tuangou.accounts.sign_in_urls")),
    path("accounts/", include("allauth.urls")),
    path("me/", include("tuangou.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("leader/", include("leaders.urls")),
    path("orders/", include("orders.urls")),
    path("groups/", include("groupbuy.urls")),
    path("promo/", include("marketing.urls")),
    path("delivery/", include("logistics.urls")),
    path("reports/", include("analytics.urls")),
    path("", include("catalog.urls")),
]

if settings.DEBUG or settings.TESTING:
    # Production serves media from the web server or object storage. Private
    # files are not under MEDIA_ROOT; their views check the reader.
    urlpatterns.insert(0, path("media/<path:path>", serve_public_media))

admin.site.site_header = _("Neighbourhood Buy operations")
admin.site.site_title = _("Neighbourhood Buy")
