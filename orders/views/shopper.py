"""The shopper's side of orders: cart, checkout, pay, my orders, after-sale, messages.

Thin views: they parse input, call orders.services or orders.selectors, and
render. Every order page loads the order through `_order_or_404`, which only
ever finds the signed-in shopper's own orders, by their unguessable code.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from catalog.services import InvalidPurchase, OutOfStock
from marketing.flash_selectors import may_admit
from marketing.services.checkout import AUTO as AUTO_COUPON
from marketing.services.checkout import NONE as NO_COUPON
from marketing.services.checkout import checkout_offer
from marketing.services.coupons import MarketingError
from marketing.services.flash import FlashSaleRefused, admit_lines, release_all
from tuangou.money import to_fen

from .. import selectors
from ..forms import AddToCartForm, CheckoutForm, ClaimForm, QuantityForm
from ..messaging import wechat_openid
from ..models import Cart, Order, OrderStatus, Payment, PaymentStatus
from ..notices import CANCEL_BY_SHOPPER
from ..services.cancellation import CLOSED, CancelRefused, cancel_paid_order
from ..services.cart import CartError, add_to_cart, remove_from_cart, set_cart_quantity
from ..services.checkout import CheckoutBusy, CheckoutError, Want, place_order
from ..services.claims import ClaimError, submit_claim
from ..services.inbox import mark_notices_read
from ..services.payments import (
    cancel_unpaid_order,
    handle_payment_notification,
    handle_refund_notification,
    start_payment,
)

logger = logging.getLogger("tuangou.orders")

# The leaders app's page for choosing a pickup point (linked, as catalog does).
CHOOSE_PICKUP_POINT_PATH = "/leader/points/choose/"


# --- helpers -----------------------------------------------------------------------


def _pickup_point(request):
    """The shopper's point, shared with the templates' `current_pickup_point` (one query)."""
    from leaders.context_processors import pickup_point

    return pickup_point(request)["current_pickup_point"]


def _warehouse(point):
    return selectors._warehouse_for(point)


def _order_or_404(request, code: str) -> Order:
    order = selectors.order_for_shopper(user=request.user, code=code)
    if order is None:
        raise Http404
    return order


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only: redirect() would take "abc" for a view name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _choose_point_url(request) -> str:
    return f"{CHOOSE_PICKUP_POINT_PATH}?{urlencode({'next': request.get_full_path()})}"


def _sku_id(code: str) -> int:
    from catalog.models import Sku

    sku_id = Sku.objects.filter(code=code).values_list("pk", flat=True).first()
    if sku_id is None:
        raise Http404
    return sku_id


def _sku(code: str):
    """The SKU with its product (what the cart's checks read), from the
    storefront cache (selectors.sku_for_purchase)."""
    sku = selectors.sku_for_purchase(code=code)
    if sku is None:
        raise Http404
    return sku


# --- cart --------------------------------------------------------------------------


@login_required
@require_POST
def cart_add(request):
    """The product page posts here: 加入购物车 (action=cart) or 立即购买 (action=buy)."""
    form = AddToCartForm(request.POST)
    back = _safe_next(request, reverse("orders:cart"))
    if not form.is_valid():
        error = next(iter(form.errors.values()))[0]
        messages.error(request, error)
        return redirect(back)
    code, quantity = form.cleaned_data["sku"], form.cleaned_data["quantity"]
    if form.cleaned_data["action"] == "buy":
        query = urlencode({"sku": code, "quantity": quantity})
        return redirect(f"{reverse('orders:checkout')}?{query}")
    sku = _sku(code)
    try:
        add_to_cart(
            user=request.user,
            sku_id=sku.pk,
            sku=sku,
            quantity=quantity,
            warehouse=_warehouse(_pickup_point(request)),
        )
    except CartError as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=409)
        messages.error(request, exc.message)
        return redirect(back)
    if request.htmx:
        return _cart_badge(request)
    messages.success(request, _("Added to your cart."))
    return redirect(back)


def _render_cart(request, *, error: str = "", status: int = 200):
    point = _pickup_point(request)
    basket = selectors.cart_for_shopper(user=request.user, pickup_point=point)
    # The tab bar's count is the basket's (orders_shopper.cart_count): no second query.
    _known_cart_count(request, basket.count)
    template = "orders/shopper/_cart.html" if request.htmx else "orders/shopper/cart.html"
    context = {"basket": basket, "error": error, "choose_point_url": _choose_point_url(request)}
    return render(request, template, context, status=status)


@login_required
@require_GET
def cart(request):
    return _render_cart(request)


@login_required
@require_POST
def cart_line(request, sku_code: str):
    """Change a line's quantity (htmx answers with the whole cart: totals change too)."""
    form = QuantityForm(request.POST)
    error = ""
    if not form.is_valid():
        error = next(iter(form.errors.values()))[0]
    else:
        try:
            set_cart_quantity(
                user=request.user,
                sku_id=_sku_id(sku_code),
                quantity=form.new_quantity,
                warehouse=_warehouse(_pickup_point(request)),
            )
        except CartError as exc:
            error = exc.message
    if request.htmx:
        return _render_cart(request, error=error)
    if error:
        messages.error(request, error)
    return redirect("orders:cart")


@login_required
@require_POST
def cart_remove(request, sku_code: str):
    remove_from_cart(user=request.user, sku_id=_sku_id(sku_code))
    if request.htmx:
        return _render_cart(request)
    return redirect("orders:cart")


def _known_cart_count(request, count: int) -> None:
    from ..templatetags.orders_shopper import _CACHE_ATTR

    setattr(request, _CACHE_ATTR, count)


def _cart_badge(request):
    count = selectors.cart_count(user=request.user)
    context = {"cart_count": count, "oob": bool(request.htmx)}
    return render(request, "orders/shopper/_cart_badge.html", context)


@require_GET
def cart_badge(request):
    """The tab bar's cart count (htmx swaps it out of band into #cart-tab-count)."""
    return _cart_badge(request)


# --- checkout ----------------------------------------------------------------------


def _buy_now_quantity(request) -> int:
    raw = request.POST.get("quantity") or request.GET.get("quantity") or "1"
    try:
        return max(1, min(int(raw), 999))
    except (TypeError, ValueError):
        return 1


def _marketing_choice(request) -> dict:
    """The coupon (auto / none / a code) and points the form asks for; the
    amounts are always computed on the server."""
    data = request.POST if request.method == "POST" else request.GET
    # The page suggests the best coupon; a POST uses only the one it names
    # (the page always names it), so an order without one reads no wallet.
    default = NO_COUPON if request.method == "POST" else AUTO_COUPON
    coupon = (data.get("coupon") or default).strip()
    if len(coupon) > 20:
        coupon = "?"
    choice: dict = {"coupon": coupon, "use_points": data.get("use_points") == "1"}
    raw_points = (data.get("points") or "").strip()
    if raw_points:
        try:
            choice["points"] = int(raw_points)
        except ValueError:
            raise MarketingError(_("Enter a number of points.")) from None
    return choice


def _marketing_offer(request, basket, choice):
    """The basket priced with 秒杀, 满减, the coupon and points; the shopper's
    reason (a str) when the chosen coupon or points cannot be used."""
    sellable = [
        (line.sku, line.quantity)
        for line in basket.lines
        if line.sku.is_active and line.sku.product.is_on_shelf
    ]
    if not sellable:
        return None
    try:
        return checkout_offer(user=request.user, lines=sellable, **choice)
    except MarketingError as exc:
        return exc.message


# Seconds a shopper refused by a full stock gate is asked to wait.
BUSY_RETRY_AFTER = 1


def _busy(request, message: str):
    """429 with Retry-After and 人太多了，请稍后再试; the button posts the same form again."""
    again = [
        (name, value)
        for name, values in request.POST.lists()
        if name != "csrfmiddlewaretoken"
        for value in values
    ]
    response = render(
        request,
        "orders/shopper/busy.html",
        {"message": message, "again": again, "retry_after": BUSY_RETRY_AFTER},
        status=429,
    )
    response["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


@login_required
def checkout(request):
    """Check out the cart, or one SKU (立即购买, ?sku=<code>&quantity=n).

    The page shows what the server computed; the POST re-reads the cart (or
    the one SKU) and places the order: no price from the browser is read.
    """
    point = _pickup_point(request)
    sku_code = request.POST.get("sku") or request.GET.get("sku") or ""
    sku = None
    if sku_code:
        sku = selectors.sku_for_purchase(code=sku_code)
        if sku is None:
            raise Http404
    form = CheckoutForm(request.POST if request.method == "POST" else None)
    error = ""
    try:
        marketing_choice = _marketing_choice(request)
    except MarketingError as exc:
        marketing_choice, error = {"coupon": NO_COUPON}, exc.message
    if request.method == "POST" and not error:
        if not form.is_valid():
            error = next(iter(form.errors.values()))[0]
        else:
            # The hot path: the lines as they are now, straight to place_order
            # (which checks them all); the priced basket is built only to show
            # the page again when something is wrong.
            if sku is not None:
                wants, cart_row = [Want(sku.pk, _buy_now_quantity(request))], None
                skus = {sku.pk: sku}
            else:
                lines = selectors.cart_lines_for_checkout(user=request.user)
                wants = [Want(line.sku_id, line.quantity) for line in lines]
                skus = {line.sku_id: line.sku for line in lines}
                cart_row = Cart(pk=lines[0].cart_id, user=request.user) if lines else None
            # Marketing: 秒杀 admission first (a refusal writes nothing), then
            # the rules of the shopper's coupon and points choice, priced here.
            admissions = []
            try:
                # No query when no running session holds one of these SKUs
                # (today's windows are cached: marketing.flash_selectors).
                if may_admit(sku_ids=[w.sku_id for w in wants]):
                    admissions = admit_lines(
                        user=request.user, wants=[(w.sku_id, w.quantity) for w in wants]
                    )
                offer = checkout_offer(
                    user=request.user,
                    lines=[(skus[w.sku_id], w.quantity) for w in wants if w.sku_id in skus],
                    admissions=admissions,
                    placing=True,
                    **marketing_choice,
                )
                order = place_order(
                    user=request.user,
                    wants=wants,
                    pickup_point=point,
                    cart=cart_row,
                    note=form.cleaned_data["note"],
                    skus=skus,
                    rules=list(offer.rules),
                    flash_admissions=admissions,
                )
            except CheckoutBusy as exc:
                # The SKU's gate stayed full: a quick, light answer, not the
                # whole page again (the shop is under load).
                release_all(admissions=admissions)
                return _busy(request, exc.message)
            except (
                CheckoutError,
                OutOfStock,
                InvalidPurchase,
                MarketingError,
                FlashSaleRefused,
            ) as exc:
                release_all(admissions=admissions)
                error = exc.message
            except BaseException:
                release_all(admissions=admissions)
                raise
            else:
                return redirect("orders:pay", code=order.code)
    if sku is not None:
        basket = selectors.buy_now_basket(
            sku=sku, quantity=_buy_now_quantity(request), pickup_point=point
        )
    else:
        basket = selectors.cart_for_shopper(user=request.user, pickup_point=point)
        _known_cart_count(request, basket.count)
    offer = _marketing_offer(request, basket, marketing_choice)
    if isinstance(offer, str):
        error, offer = error or offer, _marketing_offer(request, basket, {"coupon": NO_COUPON})
    if offer is not None:
        basket.price = offer.price
    context = {
        "basket": basket,
        "offer": offer,
        "form": form,
        "error": error,
        "sku_code": sku_code,
        "choose_point_url": _choose_point_url(request),
        "pay_minutes": settings.ORDER_PAYMENT_TIMEOUT_MINUTES,
    }
    return render(request, "orders/shopper/checkout.html", context, status=400 if error else 200)


# --- paying ------------------------------------------------------------------------


def _channel(request) -> tuple[str, str | None]:
    if settings.PAYMENT_PROVIDER == "sandbox":
        return "sandbox", None
    if "MicroMessenger" in request.headers.get("User-Agent", ""):
        openid = wechat_openid(request.user.pk)
        if openid:
            return "jsapi", openid
    return "h5", None


@login_required
def pay(request, code: str):
    """The pay page: 确认支付 starts (or resumes) the order's one live payment."""
    if request.method == "POST":
        # With its payments counted in the same query (start_payment reads none).
        order = selectors.order_for_paying(user=request.user, code=code)
        if order is None:
            raise Http404
    else:
        order = _order_or_404(request, code)
    if not order.is_open_for_payment:
        return redirect("orders:detail", code=order.code)
    if request.method != "POST":
        return render(request, "orders/shopper/pay.html", {"order": order})
    channel, openid = _channel(request)
    try:
        payment = start_payment(
            order=order,
            channel=channel,
            client_ip=request.META.get("REMOTE_ADDR", ""),
            payer_openid=openid,
        )
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return redirect("orders:detail", code=order.code)
    params = payment.pay_params or {}
    if params.get("sandbox_url"):
        return redirect(params["sandbox_url"])
    if params.get("jsapi"):
        return render(
            request,
            "orders/shopper/pay_jsapi.html",
            {"order": order, "jsapi": params["jsapi"]},
        )
    if params.get("h5_url"):
        back = request.build_absolute_uri(reverse("orders:detail", args=[order.code]))
        return redirect(f"{params['h5_url']}&redirect_url={quote(back, safe='')}")
    messages.error(request, _("The payment could not be started. Please try again."))
    return redirect("orders:detail", code=order.code)


@login_required
def sandbox_pay(request, out_trade_no: str):
    """模拟支付. Confirming renders the signed notification (headers and raw
    body) into a page whose script POSTs exactly that to the notify endpoint,
    as WeChat Pay would, then comes back here (?sent=1) and on to the order.
    Without JavaScript a button delivers the same notification in-process.
    """
    if settings.PAYMENT_PROVIDER != "sandbox":
        raise Http404
    payment = (
        Payment.objects.select_related("order")
        .filter(out_trade_no=out_trade_no, order__user=request.user)
        .first()
    )
    if payment is None:
        raise Http404
    order = payment.order
    if request.method == "GET" and request.GET.get("sent"):
        # Back from the notify endpoint: say how it went.
        if payment.status == PaymentStatus.PAID:
            messages.success(request, _("Payment received."))
        else:
            messages.error(request, _("The payment could not be confirmed. Please try again."))
        return redirect("orders:detail", code=order.code)
    if payment.status != PaymentStatus.CREATED or not order.is_open_for_payment:
        return redirect("orders:detail", code=order.code)
    if request.method != "POST":
        return render(
            request, "orders/shopper/sandbox_pay.html", {"order": order, "payment": payment}
        )
    from ..payments.sandbox import build_payment_notification

    headers, body = build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    if request.POST.get("deliver") == "server":
        # The no-JavaScript fallback: the same signed message, handed to the
        # notify handler here instead of POSTed by the browser.
        reply = handle_payment_notification(headers=headers, body=body)
        if reply.ok:
            messages.success(request, _("Payment received."))
        else:
            messages.error(request, _("The payment could not be confirmed. Please try again."))
        return redirect("orders:detail", code=order.code)
    notification = {
        "url": reverse("orders:notify_payment"),
        "headers": headers,
        "body": body.decode("utf-8"),
        "done": f"{reverse('orders:sandbox_pay', args=[payment.out_trade_no])}?sent=1",
    }
    return render(
        request,
        "orders/shopper/sandbox_send.html",
        {"order": order, "payment": payment, "notification": notification},
    )


@csrf_exempt
@require_POST
def notify_payment(request):
    """WeChat Pay (or the sandbox) POSTs payment results here; verified on the raw body."""
    reply = handle_payment_notification(headers=request.headers, body=request.body)
    return JsonResponse(reply.body, status=reply.status_code)


@csrf_exempt
@require_POST
def notify_refund(request):
    """Refund results; verified on the raw body, applied exactly once."""
    reply = handle_refund_notification(headers=request.headers, body=request.body)
    return JsonResponse(reply.body, status=reply.status_code)


# --- my orders ---------------------------------------------------------------------


@login_required
@require_GET
def order_list(request):
    tab = request.GET.get("tab", "all")
    tab = tab if tab in selectors.TAB_KEYS else "all"
    context = {
        "tabs": selectors.order_tabs(user=request.user, current=tab),
        "orders": selectors.orders_for_shopper(user=request.user, tab=tab),
        "tab": tab,
        "unread_count": selectors.unread_notice_count(user=request.user),
    }
    return render(request, "orders/list.html", context)


def _pickup_scan_url(request, code: str) -> str:
    """What the QR code holds: the leader's counter with the code filled in, so a
    phone camera opens it directly; the plain digits if that page is not there."""
    from django.urls import NoReverseMatch

    try:
        counter = reverse("orders:leader_pickup")
    except NoReverseMatch:
        return code
    return request.build_absolute_uri(f"{counter}?{urlencode({'code': code})}")


def _qr_svg(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=6, border=2, omitsize=True)


@login_required
@require_GET
def order_detail(request, code: str):
    order = _order_or_404(request, code)
    page = selectors.order_page(order=order)
    context = {
        "page": page,
        "order": order,
        "pickup_qr": _qr_svg(_pickup_scan_url(request, page.pickup_code))
        if page.pickup_code
        else "",
    }
    return render(request, "orders/shopper/detail.html", context)


@login_required
@require_POST
def order_cancel(request, code: str):
    order = _order_or_404(request, code)
    if cancel_unpaid_order(order=order, actor=request.user, reason=CANCEL_BY_SHOPPER):
        messages.success(request, _("The order was cancelled."))
    else:
        messages.error(request, _("This order can no longer be cancelled."))
    return redirect("orders:detail", code=order.code)


@login_required
@require_POST
def order_cancel_refund(request, code: str):
    """取消并退款: a paid order, before its cutoff (its own URL, so that a tap on
    the unpaid order's 取消订单 can never refund a payment that just arrived)."""
    order = _order_or_404(request, code)
    try:
        refund = cancel_paid_order(order=order, actor=request.user)
    except CancelRefused as exc:
        order.refresh_from_db(fields=["status"])
        if exc.code == CLOSED and order.status == OrderStatus.REFUNDED:
            # A second tap: the first one cancelled it.
            messages.info(request, _("The order is cancelled; the refund is on its way."))
        else:
            messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The order is cancelled. ¥%(amount)s goes back to where you paid from.")
            % {"amount": refund.amount},
        )
    return redirect("orders:detail", code=order.code)


@login_required
def order_claim(request, code: str):
    """售后: claim lines of a picked-up order (refund only, no return)."""
    order = _order_or_404(request, code)
    page = selectors.order_page(order=order)
    if not page.can_claim:
        messages.error(request, _("This order cannot take an after-sale claim now."))
        return redirect("orders:detail", code=order.code)
    posted = request.method == "POST"
    form = ClaimForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        lines=page.lines,
        claimable=page.claimable,
    )
    if request.method == "POST" and form.is_valid():
        try:
            submit_claim(
                order=order,
                user=request.user,
                reason=form.reason_text,
                quantities=form.cleaned_data["quantities"],
                photos=form.cleaned_data["photos"],
            )
        except ClaimError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Your claim was sent. We will review it soon."))
            return redirect("orders:detail", code=order.code)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "orders/shopper/claim.html", {"order": order, "form": form}, status=status
    )


# --- 我的消息 ----------------------------------------------------------------------------


@login_required
@require_GET
def notices(request):
    context = {
        "notices": selectors.notices_for(user=request.user),
        "unread_count": selectors.unread_notice_count(user=request.user),
    }
    return render(request, "orders/shopper/notices.html", context)


@login_required
@require_POST
def notices_read(request):
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()]
    mark_notices_read(user=request.user, notice_ids=ids or None)
    return redirect("orders:notices")


urlpatterns = [
    path("", order_list, name="list"),
    path("cart/", cart, name="cart"),
    path("cart/add/", cart_add, name="cart_add"),
    path("cart/badge/", cart_badge, name="cart_badge"),
    path("cart/<slug:sku_code>/", cart_line, name="cart_line"),
    path("cart/<slug:sku_code>/remove/", cart_remove, name="cart_remove"),
    path("checkout/", checkout, name="checkout"),
    path("o/<str:code>/", order_detail, name="detail"),
    path("o/<str:code>/pay/", pay, name="pay"),
    path("o/<str:code>/cancel/", order_cancel, name="cancel"),
    path("o/<str:code>/cancel-refund/", order_cancel_refund, name="cancel_refund"),
    path("o/<str:code>/claim/", order_claim, name="claim"),
    path("pay/sandbox/<str:out_trade_no>/", sandbox_pay, name="sandbox_pay"),
    path("notify/payment/", notify_payment, name="notify_payment"),
    path("notify/refund/", notify_refund, name="notify_refund"),
    path("notices/", notices, name="notices"),
    path("notices/read/", notices_read, name="notices_read"),
]
