"""限时秒杀 pages: today's sessions, and the 抢购 button's endpoint.

The endpoint is the hottest path of the platform. For a Redis-gated session a
refusal (sold out, already bought, not started, ended, over the limit) is
answered from Redis alone: the shopper's id comes from the session (read from
Redis: SESSION_ENGINE cached_db) and `request.user` is never touched, so no
SQL statement runs (pinned by tests/marketing/test_flash_views.py). The cost
of a signed-in request is the session read: one Redis GET, or one SELECT of
the session row when it has fallen out of the cache (then cached again).
The session's auth hash is not checked against the user row on a refusal
(that would be the user SELECT); an admission goes to the checkout, which
loads the user as every page does.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from catalog.models import Sku

from .. import flash_selectors
from ..services import flash

CHECKOUT_PATH = "/orders/checkout/"  # orders:checkout (buy one SKU: ?sku=&quantity=)


def flash_page(request: HttpRequest) -> HttpResponse:
    """限时秒杀: today's sessions (running, upcoming, ended), countdowns, sold-out states."""
    board = flash_selectors.flash_board()
    flash_selectors.keep_board(board)
    return render(
        request,
        "marketing/flash/page.html",
        {
            "refusal": _refusal_from_query(request),
            "running": [s for s in board if s.is_running],
            "upcoming": [s for s in board if s.is_upcoming],
            "ended": [s for s in board if s.is_ended],
        },
    )


def _refusal_from_query(request: HttpRequest) -> str:
    """The reason a 抢购 was refused (?refused=<code>&n=<number>), as text."""
    code = request.GET.get("refused", "")
    if not code:
        return ""
    try:
        units = int(request.GET.get("n", "0"))
    except ValueError:
        units = 0
    return flash.refusal_for(code[:20], units).message


def _quantity(request: HttpRequest) -> int:
    raw = request.POST.get("quantity") or "1"
    try:
        return int(raw)
    except ValueError:
        return 0  # refused by the service with a message


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
def flash_grab(request: HttpRequest, item_id: int) -> HttpResponse:
    """抢购: ask the gate; admitted → the checkout (price, coupons, points there),
    refused → the reason (409 for htmx / JSON, else back to the 秒杀 page)."""
    user_id = request.session.get(SESSION_KEY)
    if not user_id:
        login = f"{reverse('account_login')}?{urlencode({'next': reverse('marketing:flash')})}"
        if request.htmx or _wants_json(request):
            return JsonResponse({"ok": False, "login": login}, status=401)
        return redirect(login)
    answer = flash.attempt(user_id=int(user_id), item_id=item_id, quantity=_quantity(request))
    if answer.refusal is not None:
        message = answer.refusal.message
        if _wants_json(request):
            return JsonResponse({"ok": False, "code": answer.refusal.code, "message": message},
                                status=409)  # fmt: skip
        if request.htmx:
            return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
        # The reason rides in the URL, not in a signed message cookie: nothing
        # to sign or store on the hottest answer (the page rebuilds the text).
        query = urlencode({"refused": answer.refusal.code, "n": answer.refusal.units})
        return redirect(f"{reverse('marketing:flash')}?{query}")
    admission = answer.admission
    code = Sku.objects.filter(pk=admission.sku_id).values_list("code", flat=True).first()
    target = f"{CHECKOUT_PATH}?{urlencode({'sku': code, 'quantity': admission.quantity})}"
    if _wants_json(request):
        return JsonResponse({"ok": True, "next": target})
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


urlpatterns = [
    path("flash/", flash_page, name="flash"),
    path("flash/<int:item_id>/grab/", flash_grab, name="flash_grab"),
]
