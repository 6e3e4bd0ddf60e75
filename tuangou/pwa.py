"""The site's icon and web app manifest, so a shopper can add the shop to the
home screen (添加到主屏幕) and browsers stop asking for a missing /favicon.ico.

Both answer at the site's root, where browsers look for them; the icon files
themselves are static (static/img/icons/, drawn by scripts/make_icons.py).
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

THEME_COLOR = "#ff5a1f"  # --brand in static/css/app.css, and base.html's theme-color
BACKGROUND_COLOR = "#f5f6f7"
FAVICON = "img/icons/favicon.ico"
ICONS = [
    # (static path, size, purpose)
    ("img/icons/icon-192.png", 192, "any"),
    ("img/icons/icon-512.png", 512, "any"),
    ("img/icons/icon-maskable-512.png", 512, "maskable"),
]


@functools.cache
def _favicon_bytes() -> bytes | None:
    path = finders.find(FAVICON)
    if not path:
        return None
    with open(path, "rb") as fh:
        return fh.read()


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    body = _favicon_bytes()
    if body is None:  # pragma: no cover - the file is committed
        raise Http404("no favicon")
    return HttpResponse(body, content_type="image/x-icon")


@require_GET
@cache_control(public=True, max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    name = _("Neighbourhood Buy")
    data = {
        "name": name,
        "short_name": name,
        "description": _("Order today, pick up tomorrow at your neighbourhood pickup point."),
        "lang": translation.get_language() or settings.LANGUAGE_CODE,
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {"src": static(p), "sizes": f"{n}x{n}", "type": "image/png", "purpose": purpose}
            for p, n, purpose in ICONS
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response
