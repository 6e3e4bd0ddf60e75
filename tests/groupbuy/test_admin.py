"""Operators: campaigns with their numbers, groups with members, a manual close with a reason."""

from __future__ import annotations

import pytest
from django.urls import reverse

from groupbuy.models import Campaign, Group, GroupStatus
from groupbuy.services import join_group, open_group
from orders.models import Refund
from tests.admin_html import column_headers, inline_headers, inline_rows, rows, title

from .conftest import pay

pytestmark = pytest.mark.django_db


def _open_paid_group(campaign, user, point):
    member = open_group(campaign=campaign, user=user, pickup_point=point)
    pay(member.order)
    return Group.objects.get(pk=member.group_id)


def test_the_campaign_page_shows_its_numbers(
    clock, client, operator, shopper, other_shopper, point, campaign
):
    group = _open_paid_group(campaign, shopper, point)
    pay(join_group(group=group, user=other_shopper, pickup_point=point).order)
    client.force_login(operator)
    listing = client.get(reverse("admin:groupbuy_campaign_changelist"))
    assert listing.status_code == 200
    page = client.get(reverse("admin:groupbuy_campaign_change", args=[campaign.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "开团 1 · 成团 1（模拟成团 0）· 失败 0" in html
    assert "成团率 100%" in html
    assert "已付款团员 2 · GMV ¥5.80 · 退款 ¥0.00" in html


def test_an_operator_creates_a_campaign_and_the_rules_are_checked(clock, client, operator, sku):
    client.force_login(operator)
    data = {
        "title": "西红柿 3人团",
        "kind": "group",
        "sku": sku.pk,
        "group_price": "4.50",  # above the everyday ¥3.90
        "is_active": "on",
        "group_size": "3",
        "time_limit_hours": "24",
        "auto_complete_min_percent": "60",
        "starts_at_0": "2026-11-25",
        "starts_at_1": "16:00:00",
        "ends_at_0": "2026-11-28",
        "ends_at_1": "20:00:00",
        "stock_total": "30",
        "per_order_limit": "2",
        "per_shopper_limit": "4",
        "scope": "community",
        "threshold_quantity": "0",
    }
    url = reverse("admin:groupbuy_campaign_add")
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "拼团价必须低于日常团购价（¥3.90）。" in refused.content.decode()
    assert not Campaign.objects.exists()

    saved = client.post(url, {**data, "group_price": "2.90"})
    assert saved.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.group_size, campaign.scope, campaign.stock_taken) == (3, "community", 0)


def test_closing_a_group_asks_for_a_reason_then_refunds_every_member(
    clock, client, operator, shopper, point, campaign, django_capture_on_commit_callbacks
):
    group = _open_paid_group(campaign, shopper, point)
    client.force_login(operator)
    url = reverse("admin:groupbuy_group_changelist")
    form = {"action": "close_with_reason", "_selected_action": [group.pk]}
    asked = client.post(url, form)
    assert asked.status_code == 200
    assert "关闭并退款" in asked.content.decode()
    group.refresh_from_db()
    assert group.status == GroupStatus.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {**form, "reason": "供应商缺货"}, follow=True)
    assert "已关闭 1 个团。" in done.content.decode()
    group.refresh_from_db()
    assert (group.status, group.close_reason, group.closed_by) == ("failed", "供应商缺货", operator)
    assert Refund.objects.filter(order__group_member__group=group).count() == 1


def test_the_group_page_in_the_admin_lists_its_members(
    clock, client, operator, shopper, other_shopper, point, campaign
):
    group = _open_paid_group(campaign, shopper, point)
    joined = join_group(group=group, user=other_shopper, pickup_point=point)  # not paid yet
    opener = group.members.get(user=shopper)
    client.force_login(operator)

    listing = client.get(reverse("admin:groupbuy_group_changelist")).content.decode()
    assert column_headers(listing)[:7] == [
        "编码",
        "拼团活动",
        "状态",
        "已付款人数",
        "已占名额",
        "人数",
        "开团人的自提点",
    ]
    assert [r[:7] for r in rows(listing)] == [
        [group.code, campaign.title, "拼团中", "1", "2", str(campaign.group_size), point.name]
    ]

    page = client.get(reverse("admin:groupbuy_group_change", args=[group.pk])).content.decode()
    assert title(page).startswith(f"{group.code} | 修改 拼团 |")
    assert inline_headers(page) == [
        "顾客",
        "订单",
        "数量",
        "开团人",
        "状态",
        "参团时间",
        "付款时间",
    ]
    members = inline_rows(page)
    assert [(m["user"], m["order"], m["quantity"], m["status"]) for m in members] == [
        ("张阿姨", opener.order.number, "1", opener.get_status_display()),
        ("李先生", joined.order.number, "1", joined.get_status_display()),
    ]
    assert opener.get_status_display() != joined.get_status_display()


def test_a_shopper_cannot_reach_the_groupbuy_admin(client, shopper):
    client.force_login(shopper)
    answer = client.get(reverse("admin:groupbuy_campaign_changelist"))
    assert answer.status_code == 302
