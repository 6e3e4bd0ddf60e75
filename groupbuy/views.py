"""Shopper pages of 拼团: the group page, open / join, share link, QR code and card.

Thin views: they parse input, call groupbuy.services or selectors, and render.
Groups and campaigns are found only by their unguessable codes.
"""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leaders import services as leader_services
from leaders.catalog_bridge import product_photo
from leaders.selectors import pickup_point_for_shopper
from leaders.sharing import absolute, qr_png, qr_svg, share_card_png

from . import selectors, services
from .services import GroupbuyError

SMS_LOGIN_URL_NAME = "account_request_login_code"


def _login(request: HttpRequest, next_url: str | None = None) -> HttpResponse:
    return redirect_to_login(next_url or request.get_full_path(), reverse(SMS_LOGIN_URL_NAME))


def _group_or_404(code: str):
    group = selectors.group_by_code(code=code)
    if group is None:
        raise Http404
    return group


def _pay_url(order) -> str:
    """The orders app's pay page; the order page when it is not there."""
    for name in ("orders:pay", "orders:detail"):
        try:
            return reverse(name, args=[order.code])
        except NoReverseMatch:
            continue
    return ""


def share_path(group) -> str:
    """The share link: the group's code and the opener's leader's share code."""
    return reverse("groupbuy:share", args=[group.code, group.pickup_point.leader.share_code])


def _back(request: HttpRequest, default: str) -> str:
    """The page the form came from, only when it is on this site (never an open redirect)."""
    back = request.POST.get("back", "")
    # A path on this site only: redirect() would take "abc" for a view name.
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return default


def _quantity(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("quantity", "1"))
    except ValueError:
        return 0


def group_page(request: HttpRequest, code: str) -> HttpResponse:
    group = _group_or_404(code)
    point = pickup_point_for_shopper(user=request.user) if request.user.is_authenticated else None
    members = group.shown_members
    mine = next(
        (m for m in members if request.user.is_authenticated and m.user_id == request.user.pk),
        None,
    )
    others = (
        []
        if group.is_open and group.seats_left
        else selectors.open_groups_to_join(
            # Near the shopper; for a visitor without a point, near this group.
            campaign=group.campaign,
            pickup_point=point or group.pickup_point,
            user=request.user,
            limit=3,
        )
    )
    url = absolute(share_path(group))
    context = {
        "group": group,
        "campaign": group.campaign,
        "sku": group.campaign.sku,
        "members": members,
        # Only an open group has seats to fill; a closed one shows who was in it.
        "empty_seats": range(group.seats_left if group.is_open else 0),
        "mine": mine,
        "pay_url": _pay_url(mine.order) if mine and mine.status == "holding" else "",
        "share_url": url,
        "other_groups": others,
        "pickup_point": point,
    }
    return render(request, "groupbuy/group.html", context)


def share(request: HttpRequest, code: str, share_code: str) -> HttpResponse:
    """Arriving through a shared link: bound to the sharing leader's point when the
    shopper has none yet, then on to the group page."""
    group = _group_or_404(code)
    if not request.user.is_authenticated:
        return _login(request)
    # An old or wrong leader code still shows the group.
    with contextlib.suppress(ValidationError):
        leader_services.bind_shopper_from_share(user=request.user, share_code=share_code)
    return redirect("groupbuy:group", code=group.code)


@require_POST
def open_new(request: HttpRequest, campaign_code: str) -> HttpResponse:
    campaign = selectors.campaign_by_code(code=campaign_code)
    if campaign is None:
        raise Http404
    if not request.user.is_authenticated:
        return _login(request, reverse("catalog:product", args=[campaign.sku.product.code]))
    point = pickup_point_for_shopper(user=request.user)
    try:
        if campaign.is_threshold:
            deal_order = services.join_deal(
                campaign=campaign,
                user=request.user,
                pickup_point=point,
                quantity=_quantity(request),
            )
            return redirect(_pay_url(deal_order.order) or "/")
        member = services.open_group(
            campaign=campaign, user=request.user, pickup_point=point, quantity=_quantity(request)
        )
    except GroupbuyError as exc:
        messages.error(request, exc.message)
        return redirect(
            _back(request, reverse("catalog:product", args=[campaign.sku.product.code]))
        )
    return redirect(_pay_url(member.order) or reverse("groupbuy:group", args=[member.group.code]))


@require_POST
def join(request: HttpRequest, code: str) -> HttpResponse:
    group = _group_or_404(code)
    if not request.user.is_authenticated:
        return _login(request, reverse("groupbuy:group", args=[group.code]))
    point = pickup_point_for_shopper(user=request.user)
    try:
        member = services.join_group(
            group=group, user=request.user, pickup_point=point, quantity=_quantity(request)
        )
    except GroupbuyError as exc:
        messages.error(request, exc.message)
        return redirect("groupbuy:group", code=group.code)
    return redirect(_pay_url(member.order) or reverse("groupbuy:group", args=[group.code]))


def qr(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    group = _group_or_404(code)
    url = absolute(share_path(group))
    if fmt == "svg":
        return HttpResponse(qr_svg(url), content_type="image/svg+xml")
    return HttpResponse(qr_png(url), content_type="image/png")


def card(request: HttpRequest, code: str) -> HttpResponse:
    """A share card image for WeChat: product, 拼团价, the pickup point and the QR code."""
    group = _group_or_404(code)
    product = group.campaign.sku.product
    photo = product_photo(product)
    title = _("%(n)d-person group · %(name)s") % {"n": group.size, "name": product.name}
    data = share_card_png(
        title=title,
        price=group.campaign.group_price,
        point=group.pickup_point,
        url=absolute(share_path(group)),
        photo=photo,
    )
    response = HttpResponse(data, content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="group-{group.code}.png"'
    return response
