# ruff: noqa: F811 - pytest fixtures imported from tests.leaders.conftest
"""The admin speaks Chinese: column headers, page titles, field labels and the
values shown are words, never field names (PK, ORDER, USER, REVIEWED BY),
stored codes ("ready", "pending_payment → paid", "placed") or JSON. Opening
hours are edited as a row per weekday, checked, and bad input is a message."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from leaders.models import BindingEvent, LeaderApplication, PickupPoint
from orders.event_notes import describe_note
from orders.models import AfterSaleClaim, Notice, Order, OrderEvent, Refund
from orders.notices import TEXTS, render
from tests.admin_html import column_headers, field_labels, first_row, inline_headers, title
from tests.admin_html import text as _text
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401 - fixtures
from tuangou.timeutils import SHANGHAI

pytestmark = pytest.mark.django_db

# Stored codes that must never be shown as they are.
ORDER_STATUS_CODES = ["pending_payment", "awaiting_group", "ready_for_pickup", "in_delivery"]


@pytest.fixture
def admin_client(client, make_user):
    root = make_user("root", "+8613900000999", "超级管理员", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


@pytest.fixture
def demo(admin_client):
    """The whole demo (claims, refunds, notices, events, groups…), at a fixed moment."""
    with time_machine.travel(datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI), tick=True):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield admin_client


def _get(client, name, *args) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200, name
    return response.content.decode()


def test_the_admin_pages_that_showed_english_or_codes_show_chinese(demo):
    client = demo

    # After-sale claims: the list, the page title, the labels.
    claims = _get(client, "admin:orders_aftersaleclaim_changelist")
    assert column_headers(claims) == [
        "申请编号",
        "订单",
        "顾客",
        "状态",
        "原因",
        "提交时间",
        "审核人",
    ]
    claim = AfterSaleClaim.objects.select_related("order").order_by("-created_at", "-pk").first()
    assert first_row(claims)[:2] == [str(claim.pk), claim.order.number]
    page = _get(client, "admin:orders_aftersaleclaim_change", claim.pk)
    assert title(page).startswith(f"售后申请 #{claim.pk}（订单 {claim.order.number}） |")
    assert {"订单", "顾客", "退款", "审核人"} <= set(field_labels(page))
    assert "订单商品" in inline_headers(page)
    assert f"claim {claim.pk} on" not in page

    # Refunds.
    refunds = _get(client, "admin:orders_refund_changelist")
    assert column_headers(refunds)[:3] == ["退款单号", "订单", "金额"]
    refund = Refund.objects.filter(lines__isnull=False).first()
    page = _get(client, "admin:orders_refund_change", refund.pk)
    assert {"订单", "支付记录"} <= set(field_labels(page))
    assert "订单商品" in inline_headers(page)

    # Messages: their title, never the kind code; the text, never the JSON.
    notices = _get(client, "admin:orders_notice_changelist")
    assert column_headers(notices) == ["发送时间", "顾客", "标题", "订单", "阅读时间"]
    latest = Notice.objects.order_by("-created_at", "-pk").first()
    assert first_row(notices)[2] == render(latest)[0]
    shown = set(re.findall(r'<td class="field-title">(.*?)</td>', notices))
    assert shown and not shown & set(TEXTS), shown
    assert '<a href="?kind=ready"' in notices and ">待取货</a>" in notices
    page = _get(client, "admin:orders_notice_change", latest.pk)
    assert {"标题", "内容"} <= set(field_labels(page))
    assert "参数" not in field_labels(page)
    assert render(latest)[1] in _text(page)

    # An order's history: translated statuses and what happened.
    event = OrderEvent.objects.filter(note="placed").select_related("order").first()
    page = _get(client, "admin:orders_order_change", event.order.pk)
    assert {"原状态", "新状态", "说明"} <= set(inline_headers(page))
    assert "订单类型" in field_labels(page)
    assert describe_note("placed") == "下单"
    assert ">下单<" in page.replace('<td class="field-what_happened"><p>', ">")
    assert ">placed<" not in page
    for code in ORDER_STATUS_CODES:
        assert code not in _text(page), code
    assert "待付款 → 已付款" in _text(page) or "待付款 → 待成团" in _text(page)

    # Other orders lists that showed Order / User / Pickup point / Signed by.
    for name, expected in [
        ("admin:orders_payment_changelist", ["商户订单号", "订单"]),
        ("admin:orders_pickupcode_changelist", ["取货码", "顾客", "自提点"]),
        ("admin:orders_deliverysignoff_changelist", ["自提点", "配送日期", "签收人"]),
        ("admin:orders_handout_changelist", ["时间", "订单商品", "数量", "核销人"]),
        ("admin:orders_paymentnotificationlog_changelist", ["接收时间", "通知类型"]),
    ]:
        assert column_headers(_get(client, name))[: len(expected)] == expected, name
    logs = _get(client, "admin:orders_paymentnotificationlog_changelist")
    assert ">payment<" not in logs and "支付通知" in logs

    # Model names: 拼团 (not the permission 组), 提现 (not 提现笔数).
    index = _get(client, "admin:index")
    groupbuy = index.split('class="app-groupbuy', 1)[1].split("</table>", 1)[0]
    assert ">拼团</a>" in groupbuy and ">组</a>" not in groupbuy
    leaders = index.split('class="app-leaders', 1)[1].split("</table>", 1)[0]
    assert ">提现</a>" in leaders and "提现笔数" not in leaders
    assert "可提现" in column_headers(_get(client, "admin:leaders_commissionaccount_changelist"))

    # Titles that were ids and codes.
    binding = BindingEvent.objects.filter(from_point__isnull=True).first()
    assert "None" not in title(_get(client, "admin:leaders_bindingevent_change", binding.pk))
    from catalog.models import StockLedger, StockRecord
    from groupbuy.models import CommunityDeal

    ledger = StockLedger.objects.filter(reason="roll_forward").first()
    assert title(_get(client, "admin:catalog_stockledger_change", ledger.pk)).startswith(
        "每日配额 +"
    )
    record = StockRecord.objects.select_related("sku__product").first()
    assert title(_get(client, "admin:catalog_stockrecord_change", record.pk)).startswith(
        f"{record.sku.product.name} {record.sku.spec} · "
    )
    deal = CommunityDeal.objects.select_related("campaign", "community").first()
    assert title(_get(client, "admin:groupbuy_communitydeal_change", deal.pk)).startswith(
        f"{deal.campaign.title} · {deal.community} |"
    )
    assert "成团判定时间" in field_labels(
        _get(client, "admin:groupbuy_communitydeal_change", deal.pk)
    )

    # A leader application's hours: a line per weekday, not JSON.
    application = LeaderApplication.objects.exclude(opening_hours={}).first()
    page = _get(client, "admin:leaders_leaderapplication_change", application.pk)
    first_day = application.opening_hours.get("0")
    expected = f"周一: {first_day[0]}–{first_day[1]}" if first_day else "周一: 休息"
    assert expected in _text(page)
    assert "{&quot;0&quot;" not in page and '{"0"' not in page


# --- opening hours, edited in the admin --------------------------------------------------


def _hours_post(point, **days) -> dict:
    """The change form's data: opening_hours_open_<n> / _close_<n> per weekday n."""
    data = {
        "name": point.name,
        "daily_capacity": point.daily_capacity,
        "photos-TOTAL_FORMS": 0,
        "photos-INITIAL_FORMS": 0,
        "pauses-TOTAL_FORMS": 0,
        "pauses-INITIAL_FORMS": 0,
    }
    for n in range(7):
        opens, closes = days.get(f"d{n}", ("", ""))
        data[f"opening_hours_open_{n}"] = opens
        data[f"opening_hours_close_{n}"] = closes
    return data


def _every_day(opens="08:00", closes="21:00") -> dict:
    return {f"d{n}": (opens, closes) for n in range(7)}


def test_the_pickup_point_page_shows_a_row_per_weekday(admin_client, pickup_point):
    html = _get(admin_client, "admin:leaders_pickuppoint_change", pickup_point.pk)
    table = html.split("data-opening-hours", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-weekday="(\d)"><th scope="row">(.*?)</th>', table)
    assert rows == [
        ("0", "周一"),
        ("1", "周二"),
        ("2", "周三"),
        ("3", "周四"),
        ("4", "周五"),
        ("5", "周六"),
        ("6", "周日"),
    ]
    assert table.count('type="time"') == 14
    assert 'name="opening_hours_open_0" value="08:00"' in table
    assert 'name="opening_hours_close_6" value="21:00"' in table
    assert "{&quot;0&quot;" not in html


def test_an_operator_changes_the_hours_and_closes_sunday(admin_client, pickup_point):
    days = _every_day("07:30", "20:00")
    days["d6"] = ("", "")
    url = reverse("admin:leaders_pickuppoint_change", args=[pickup_point.pk])
    response = admin_client.post(url, _hours_post(pickup_point, **days))

    assert response.status_code == 302
    pickup_point.refresh_from_db()
    assert pickup_point.opening_hours == {str(n): ["07:30", "20:00"] for n in range(6)}


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ({"d0": ("25:99", "21:00")}, "输入一个有效的时间。"),
        ({"d1": ("08:00", "")}, "请同时填写周二的开门和关门时间，或都留空。"),
        ({"d2": ("21:00", "08:00")}, "周三：关门时间必须晚于开门时间。"),
        ({}, "A pickup point needs opening hours"),
        ({"d3": ("<script>", "x")}, "输入一个有效的时间。"),
    ],
)
def test_bad_hours_are_a_message_and_nothing_changes(admin_client, pickup_point, days, message):
    before = dict(pickup_point.opening_hours)
    url = reverse("admin:leaders_pickuppoint_change", args=[pickup_point.pk])
    if days:
        data = _hours_post(pickup_point, **{**_every_day(), **days})
    else:
        data = _hours_post(pickup_point)
    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = _text(str(response.context["adminform"].form.errors))
    if message.startswith("A pickup point"):
        message = "自提点需要营业时间"
    assert message in errors, errors
    pickup_point.refresh_from_db()
    assert pickup_point.opening_hours == before
    assert PickupPoint.objects.get(pk=pickup_point.pk).opening_hours == before
    assert Order.objects.count() == 0
