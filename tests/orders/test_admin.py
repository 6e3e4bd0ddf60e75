"""Operators in the orders admin: search, filters, read-only history, and actions
that go through the services (dispatch, operator refund, refund retry, claims)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import (
    AfterSaleClaim,
    ClaimLine,
    ClaimStatus,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from orders.services.checkout import Want, place_order
from orders.services.refunds import refund_lines
from tests.admin_html import column_headers, rows

from .pickup_support import paid_order

pytestmark = pytest.mark.django_db

ORDERS = "admin:orders_order_changelist"
REFUNDS = "admin:orders_refund_changelist"
CLAIMS = "admin:orders_aftersaleclaim_changelist"


def _action(client, url_name, action, objects, **extra):
    return client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [o.pk for o in objects], **extra},
        follow=True,
    )


def test_orders_are_found_by_number_phone_and_point_name(
    client, operator, clock, shopper, other_shopper, point, other_pickup_point, sku
):
    mine = paid_order(shopper, point, (sku, 1))
    theirs = paid_order(other_shopper, other_pickup_point, (sku, 1))
    client.force_login(operator)
    for query, expected in (
        (mine.number, [mine.pk]),
        ("13800000002", [theirs.pk]),
        ("阳光花园", [theirs.pk]),
    ):
        response = client.get(reverse(ORDERS), {"q": query})
        assert [o.pk for o in response.context["cl"].result_list] == expected


def test_orders_filter_by_status_day_warehouse_and_leader(
    client, operator, clock, shopper, other_shopper, point, other_pickup_point, sku, other_leader
):
    paid_order(shopper, point, (sku, 1))
    theirs = paid_order(other_shopper, other_pickup_point, (sku, 1))
    client.force_login(operator)
    response = client.get(
        reverse(ORDERS),
        {
            "status__exact": "confirmed",
            "delivery_date__gte": "2026-11-26",
            "warehouse__id__exact": point.warehouse_id,
            "leader__id__exact": other_leader.pk,
        },
    )
    assert response.status_code == 200
    assert [o.pk for o in response.context["cl"].result_list] == [theirs.pk]


def test_an_order_page_is_read_only_with_its_lines_and_events(
    client, operator, clock, shopper, point, sku
):
    order = paid_order(shopper, point, (sku, 2))
    client.force_login(operator)
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "西红柿" in page
    assert "已确认" in page  # the event log
    assert 'name="status"' not in page
    assert client.get(reverse("admin:orders_order_add")).status_code == 403


def test_dispatching_selected_orders_moves_only_confirmed_ones(
    client, operator, clock, shopper, point, sku
):
    paid = paid_order(shopper, point, (sku, 1))
    unpaid = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    client.force_login(operator)
    response = _action(client, ORDERS, "dispatch_selected", [paid, unpaid])
    page = response.content.decode()
    assert "1 个订单已发货。" in page
    assert "跳过了 1 个订单：只有已确认的订单可以发货。" in page
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.IN_DELIVERY
    assert Order.objects.get(pk=unpaid.pk).status == OrderStatus.PENDING_PAYMENT


def test_an_operator_refund_asks_first_then_refunds_through_the_service(
    client, operator, clock, shopper, point, sku, django_capture_on_commit_callbacks
):
    order = paid_order(shopper, point, (sku, 2))
    client.force_login(operator)
    confirm = _action(client, ORDERS, "refund_selected", [order])
    assert "¥7.80" in confirm.content.decode()
    assert not Refund.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        _action(client, ORDERS, "refund_selected", [order], apply="1")
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason) == (Decimal("7.80"), RefundReason.OPERATOR)
    assert refund.requested_by == operator
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED


def test_a_refund_of_an_unpaid_order_is_refused_with_a_message(
    client, operator, clock, shopper, point, sku
):
    unpaid = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    client.force_login(operator)
    response = _action(client, ORDERS, "refund_selected", [unpaid], apply="1")
    assert f"{unpaid.number}: " in response.content.decode()
    assert not Refund.objects.exists()


def test_a_failed_refund_is_sent_again_with_the_same_number(
    client, operator, clock, shopper, point, sku, django_capture_on_commit_callbacks
):
    order = paid_order(shopper, point, (sku, 1))
    refund = refund_lines(order=order, reason=RefundReason.OPERATOR)
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED, error="NOTENOUGH")
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(client, REFUNDS, "retry_selected", [refund])
    assert "1 笔退款已重新发送。" in response.content.decode()
    again = Refund.objects.get(pk=refund.pk)
    assert again.status == RefundStatus.SUCCEEDED
    assert again.out_refund_no == refund.out_refund_no
    assert Refund.objects.count() == 1


def test_a_succeeded_refund_is_not_sent_again(
    client, operator, clock, shopper, point, sku, django_capture_on_commit_callbacks
):
    order = paid_order(shopper, point, (sku, 1))
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_lines(order=order, reason=RefundReason.OPERATOR)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    client.force_login(operator)
    response = _action(client, REFUNDS, "retry_selected", [refund])
    assert "跳过了 1 笔退款：已经成功。" in response.content.decode()


@pytest.fixture
def claim(clock, shopper, leader_user, point, sku):
    from orders.services.delivery import sign_for_delivery
    from orders.services.pickup import hand_out

    from .pickup_support import delivery_morning

    order = paid_order(shopper, point, (sku, 2))
    clock.move_to(delivery_morning())
    sign_for_delivery(pickup_point=point, delivery_date=order.delivery_date, actor=leader_user)
    line = OrderLine.objects.get(order=order)
    hand_out(pickup_point=point, quantities={line.pk: 2}, actor=leader_user)
    claim = AfterSaleClaim.objects.create(order=order, user=shopper, reason="烂了一个")
    ClaimLine.objects.create(claim=claim, order_line=line, quantity=1)
    return claim


def test_approving_a_claim_refunds_the_claimed_units(
    client, operator, claim, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        _action(client, CLAIMS, "approve_selected", [claim])
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert claim.refund.amount == Decimal("3.90")
    assert claim.refund.reason == RefundReason.AFTER_SALE
    assert Order.objects.get(pk=claim.order_id).status == OrderStatus.COMPLETED


def test_rejecting_a_claim_needs_a_reason(client, operator, claim):
    client.force_login(operator)
    asked = _action(client, CLAIMS, "reject_selected", [claim])
    assert "烂了一个" in asked.content.decode()
    assert AfterSaleClaim.objects.get(pk=claim.pk).status == ClaimStatus.OPEN
    _action(client, CLAIMS, "reject_selected", [claim], apply="1", reason="照片看不出问题")
    claim.refresh_from_db()
    assert (claim.status, claim.reject_reason) == (ClaimStatus.REJECTED, "照片看不出问题")
    assert not Refund.objects.exists()


@pytest.fixture
def history(claim, operator):
    """One order's whole trail: payment, its notification, the sign-off, the
    pickup code, the hand-out, the messages, a claim and an operator refund."""
    line = OrderLine.objects.get(order=claim.order)
    refund = refund_lines(
        order=claim.order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR, actor=operator
    )
    return claim, refund


def _list(client, url_name) -> tuple[list[str], list[list[str]]]:
    page = client.get(reverse(url_name)).content.decode()
    return column_headers(page), rows(page)


def test_the_other_lists_show_their_rows_to_operators(client, operator, history, shopper, point):
    """Each list opens with its own columns and shows the order's rows in words."""
    from orders.models import DeliverySignoff, Notice, Payment, PickupCode
    from orders.notices import render

    claim, refund = history
    order = claim.order
    payment = Payment.objects.get(order=order)
    code = PickupCode.objects.get(user=shopper, pickup_point=point)
    notices = list(Notice.objects.filter(order=order).order_by("-created_at", "-pk"))
    client.force_login(operator)

    headers, found = _list(client, "admin:orders_payment_changelist")
    assert headers == ["商户订单号", "订单", "提供者", "支付方式", "金额", "状态", "付款时间"]
    assert [r[:6] for r in found] == [
        [payment.out_trade_no, order.number, "sandbox", "h5", f"{payment.amount}", "已付款"]
    ]

    headers, found = _list(client, "admin:orders_paymentnotificationlog_changelist")
    assert headers == ["接收时间", "通知类型", "处理结果", "商户订单号", "详情"]
    assert [r[1:4] for r in found] == [["支付通知", "已处理", payment.out_trade_no]]

    headers, found = _list(client, "admin:orders_pickupcode_changelist")
    assert headers == ["取货码", "顾客", "自提点", "配送日期", "创建时间"]
    assert [r[:3] for r in found] == [[code.code, "张阿姨", "幸福里便利店"]]

    headers, found = _list(client, "admin:orders_deliverysignoff_changelist")
    assert headers == ["自提点", "配送日期", "签收人", "签收时间"]
    signoff = DeliverySignoff.objects.get()
    assert [[r[0], r[2]] for r in found] == [["幸福里便利店", "幸福里团长小王"]]
    assert signoff.pickup_point_id == point.pk

    headers, found = _list(client, "admin:orders_handout_changelist")
    assert headers == ["时间", "订单商品", "数量", "核销人"]
    assert [r[1:] for r in found] == [["西红柿 500g/份 × 2", "2", "幸福里团长小王"]]

    headers, found = _list(client, "admin:orders_notice_changelist")
    assert headers == ["发送时间", "顾客", "标题", "订单", "阅读时间"]
    assert [r[1:4] for r in found] == [["张阿姨", render(n)[0], order.number] for n in notices]
    assert len(found) == len(notices) >= 3

    headers, found = _list(client, CLAIMS)
    assert headers == ["申请编号", "订单", "顾客", "状态", "原因", "提交时间", "审核人"]
    assert [r[:5] + r[6:] for r in found] == [
        [str(claim.pk), order.number, "张阿姨", "审核中", "烂了一个", "-"]
    ]

    headers, found = _list(client, REFUNDS)
    assert headers == [
        "退款单号",
        "订单",
        "金额",
        "原因",
        "状态",
        "尝试次数",
        "最近错误",
        "创建时间",
    ]
    refund.refresh_from_db()
    assert [r[:5] for r in found] == [
        [refund.out_refund_no, order.number, "3.90", "运营退款", refund.get_status_display()]
    ]


def test_finance_sees_orders_but_has_no_actions(client, finance, clock, shopper, point, sku):
    order = paid_order(shopper, point, (sku, 1))
    client.force_login(finance)
    response = client.get(reverse(ORDERS))
    assert response.status_code == 200
    assert "dispatch_selected" not in response.content.decode()
    _action(client, ORDERS, "dispatch_selected", [order])
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CONFIRMED


# --- 部分退款: one order, some lines ---------------------------------------------------


def _partial_url(order):
    return reverse("admin:orders_order_partial_refund", args=[order.pk])


def test_an_operator_refunds_some_units_of_one_line_from_the_order_page(
    client, operator, clock, shopper, point, sku, egg_sku, django_capture_on_commit_callbacks
):
    order = paid_order(shopper, point, (sku, 3), (egg_sku, 1))
    tomato, eggs = order.lines.order_by("pk")
    client.force_login(operator)
    change = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert _partial_url(order) in change
    page = client.get(_partial_url(order)).content.decode()
    assert f'name="line_{tomato.pk}"' in page and 'max="3"' in page
    assert f'name="line_{eggs.pk}"' in page and 'max="1"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _partial_url(order),
            {f"line_{tomato.pk}": "2", f"line_{eggs.pk}": "0", "note": "顾客电话要求"},
            follow=True,
        )
    assert response.redirect_chain[-1][0] == reverse("admin:orders_order_change", args=[order.pk])
    refund = Refund.objects.get(order=order)
    assert refund.amount == Decimal("7.80")
    assert refund.reason == RefundReason.OPERATOR
    assert refund.requested_by == operator
    assert refund.note == "顾客电话要求"
    assert [(rl.order_line_id, rl.quantity) for rl in refund.lines.all()] == [(tomato.pk, 2)]
    assert "¥7.80" in response.content.decode()
    tomato.refresh_from_db()
    eggs.refresh_from_db()
    assert (tomato.refunded_quantity, eggs.refunded_quantity) == (2, 0)
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED


@pytest.mark.parametrize(
    ("tomato", "eggs", "message"),
    [
        ("4", "0", "最多还能退 3 件。"),
        ("0", "0", "请至少选择一件要退款的商品。"),
        ("abc", "0", "请输入整数。"),
        ("-1", "0", "数量不能为负数。"),
    ],
)
def test_bad_partial_refunds_say_why_in_chinese_and_write_nothing(
    client, operator, clock, shopper, point, sku, egg_sku, tomato, eggs, message
):
    order = paid_order(shopper, point, (sku, 3), (egg_sku, 1))
    tomato_line, egg_line = order.lines.order_by("pk")
    client.force_login(operator)
    response = client.post(
        _partial_url(order),
        {f"line_{tomato_line.pk}": tomato, f"line_{egg_line.pk}": eggs, "note": ""},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Refund.objects.exists()
    assert list(
        OrderLine.objects.filter(order=order).values_list("refunded_quantity", flat=True)
    ) == [0, 0]


def test_a_partial_refund_of_an_unpaid_order_is_refused_by_the_service(
    client, operator, clock, shopper, point, sku
):
    order = place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point)
    line = order.lines.get()
    client.force_login(operator)
    response = client.post(_partial_url(order), {f"line_{line.pk}": "1"})
    assert response.status_code == 200
    assert "该订单未支付。" in response.content.decode()
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_shopper_cannot_open_the_partial_refund_page(client, shopper, clock, point, sku):
    order = paid_order(shopper, point, (sku, 1))
    client.force_login(shopper)
    response = client.get(_partial_url(order))
    assert response.status_code == 302  # to the admin login
    assert not Refund.objects.exists()
