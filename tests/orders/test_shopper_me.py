"""我的 (issue #10, shoppers 1): what users of 美团优选 / 多多买菜 expect there —
orders waiting on them, 我的消息 with the unread count, 我的自提点, 团长工作台 or
申请成为团长, help and the platform's phone number — and the help page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders.models import Notice
from orders.services.inbox import mark_notices_read
from tests.leaders.factories import LeaderApplicationFactory, UserFactory

from . import shopper_helpers
from .shopper_helpers import bind, deliver, pay, place

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _service_phone(settings):
    settings.SERVICE_PHONE = "400-800-1234"


def _entry(html: str, name: str) -> str:
    match = re.search(rf'<a [^>]*data-me="{name}"[^>]*>.*?</a>', html, re.S)
    assert match, name
    return match.group(0)


def _shortcut(html: str, tab: str) -> str:
    match = re.search(rf'<a [^>]*data-shortcut="{tab}"[^>]*>.*?</a>', html, re.S)
    assert match, tab
    return match.group(0)


def _notices(user, n):
    for i in range(n):
        Notice.objects.create(
            user=user, kind="uncollected", params={"number": f"T{i}", "point": "幸福里"}
        )


def test_me_lists_messages_pickup_point_leader_application_help_and_the_phone(
    clock, shopper_client, bound_shopper, other_shopper, point, sku
):
    place(bound_shopper, point, (sku, 1))
    pay(place(bound_shopper, point, (sku, 1)))
    deliver(pay(place(bound_shopper, point, (sku, 1))))
    mark_notices_read(user=bound_shopper, notice_ids=None)
    _notices(bound_shopper, 3)
    _notices(other_shopper, 5)

    html = shopper_client.get(reverse("accounts:me")).content.decode()

    messages = _entry(html, "notices")
    assert reverse("orders:notices") in messages
    assert "我的消息" in messages and "3 条未读" in messages
    pickup = _entry(html, "pickup-point")
    assert "我的自提点" in pickup and "幸福里便利店" in pickup
    assert reverse("leaders:choose_point") in pickup
    apply = _entry(html, "leader-apply")
    assert "申请成为团长" in apply and reverse("leaders:apply") in apply
    assert 'data-me="leader-desk"' not in html
    assert "帮助中心" in _entry(html, "help")
    phone = _entry(html, "service-phone")
    assert 'href="tel:4008001234"' in phone and "400-800-1234" in phone and "联系客服" in phone
    assert '<span class="me-count">1</span>' in _shortcut(html, "unpaid")
    assert '<span class="me-count">2</span>' in _shortcut(html, "pickup")
    assert "me-count" not in _shortcut(html, "group")
    assert "退出登录" in html


def test_a_leader_finds_the_leader_desk_and_no_application(
    clock, client, leader_user, leader, point
):
    client.force_login(leader_user)

    html = client.get(reverse("accounts:me")).content.decode()

    desk = _entry(html, "leader-desk")
    assert "团长工作台" in desk and reverse("leaders:home") in desk
    assert "申请成为团长" not in html


def test_a_pending_application_shows_under_review(clock, client, shopper):
    LeaderApplicationFactory(user=shopper)
    client.force_login(shopper)

    html = client.get(reverse("accounts:me")).content.decode()

    entry = _entry(html, "leader-application")
    assert "我的团长申请" in entry and "审核中" in entry
    assert reverse("leaders:application") in entry
    assert "申请成为团长" not in html


def test_without_a_pickup_point_me_invites_to_choose_one(clock, client, shopper):
    client.force_login(shopper)

    html = client.get(reverse("accounts:me")).content.decode()

    assert "去选择" in _entry(html, "pickup-point")
    assert "条未读" not in _entry(html, "notices")


def test_a_phone_only_shopper_gets_a_figure_not_the_digit_1(clock, client):
    by_phone = UserFactory(username="phone-only", phone="+8613812345678", nickname="")
    client.force_login(by_phone)

    html = client.get(reverse("accounts:me")).content.decode()

    head = re.search(r'<section class="card row me-head">.*?</section>', html, re.S).group(0)
    assert "data-default-avatar" in head
    assert '<div class="avatar">1' not in head and "avatar-initial" not in head
    assert "138****5678" in head


def test_a_nickname_gives_the_avatar_its_first_character(clock, shopper_client):
    html = shopper_client.get(reverse("accounts:me")).content.decode()

    assert '<span class="avatar-initial" aria-hidden="true">张</span>' in html


def test_no_phone_number_is_shown_when_none_is_set(clock, settings, shopper_client):
    settings.SERVICE_PHONE = ""

    html = shopper_client.get(reverse("accounts:me")).content.decode()

    assert "tel:" not in html
    assert "联系客服" not in html


def test_a_visitor_is_invited_to_sign_in_and_can_still_find_help_and_the_phone(clock, client):
    html = client.get(reverse("accounts:me")).content.decode()

    assert "短信验证码登录" in html
    assert "帮助中心" in _entry(html, "help")
    assert 'href="tel:4008001234"' in _entry(html, "service-phone")
    assert 'data-me="notices"' not in html


def test_me_runs_a_fixed_number_of_queries(
    clock, shopper_client, bound_shopper, point, sku, django_assert_num_queries
):
    for _n in range(3):
        pay(place(bound_shopper, point, (sku, 1)))
    # user (the session is read from Redis), pickup point, cart count (tab
    # bar), order counts, unread count, leader, application, coupons and
    # points (one read: marketing.selectors.me_benefits)
    with django_assert_num_queries(8):
        shopper_client.get(reverse("accounts:me"))
    for _n in range(3):
        place(bound_shopper, point, (sku, 1))
    # Warm now: the user, the pickup point and the cart count come from Redis.
    with django_assert_num_queries(5):
        shopper_client.get(reverse("accounts:me"))


def test_the_help_page_answers_with_the_shoppers_own_times_and_the_phone(
    clock, client, shopper, point
):
    bind(shopper, point)
    client.force_login(shopper)

    response = client.get(reverse("accounts:help"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "每天 23:00 前下单并付款，商品第二天送到你的自提点，10:00 后可取货。" in html
    assert "已付款的订单在送达前一晚 23:00 截单前，可在订单详情页「取消并退款」" in html
    assert "取货后 2 天内" in html
    assert "下单后 15 分钟内未付款" in html
    assert "拼团没成功怎么办？" in html
    assert 'href="tel:4008001234"' in html and "致电 400-800-1234" in html
