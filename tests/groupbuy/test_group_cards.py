"""拼团 cards as shoppers read them (issue #10, shoppers 4): countdowns beyond a
day, succeeded and failed groups, avatars of phone-only members, and groups
"near you" that really are near."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from groupbuy.models import Group, GroupMember, MemberStatus
from groupbuy.services import expire_group, join_group, open_group
from tests.catalog.factories import set_stock
from tests.leaders.factories import LeaderFactory, PickupPointFactory, UserFactory, bind

from .conftest import NOON_ISH, make_campaign, pay

pytestmark = pytest.mark.django_db


def _open_paid_group(campaign, user, point) -> Group:
    member = open_group(campaign=campaign, user=user, pickup_point=point)
    pay(member.order)
    return Group.objects.select_related("pickup_point__leader").get(pk=member.group_id)


def _section(html: str, css_class: str) -> str:
    match = re.search(rf'<section class="card {css_class}".*?</section>', html, re.S)
    assert match, css_class
    return match.group(0)


# --- countdowns ----------------------------------------------------------------------


def test_a_countdown_beyond_a_day_shows_days_not_143_hours(
    clock, client, shopper, other_shopper, point, sku
):
    # Six days to fill: opened at 11-25 15:00, the group closes 12-01 15:00 and
    # delivers on 12-02.
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=date(2026, 12, 2), quantity=50)
    campaign = make_campaign(sku, time_limit_hours=144, ends_at=NOON_ISH + timedelta(days=7))
    group = _open_paid_group(campaign, shopper, point)
    clock.shift(timedelta(seconds=51))
    bind(user=other_shopper, point=point)
    client.force_login(other_shopper)

    page = client.get(reverse("groupbuy:group", args=[group.code])).content.decode()
    block = client.get(reverse("catalog:product", args=[sku.product.code])).content.decode()

    assert "5天23:59:09</span>" in page
    assert "143:59:09" not in page
    # The product block: the campaign ends in 7 days, the group nearby in 6.
    assert "6天23:59:09</span>" in block
    assert "5天23:59:09</span>" in block
    # The script ticks with the same words.
    assert 'data-countdown-days="{days}天{clock}"' in page


def test_a_countdown_under_a_day_is_hours_minutes_seconds(clock, client, shopper, point, campaign):
    group = _open_paid_group(campaign, shopper, point)
    clock.shift(timedelta(hours=1, seconds=51))
    client.force_login(shopper)

    page = client.get(reverse("groupbuy:group", args=[group.code])).content.decode()

    assert ">22:59:09</span>" in page
    assert "天22:59:09" not in page


# --- succeeded and failed groups ------------------------------------------------------------


def test_a_succeeded_group_tells_its_member_the_order_is_confirmed(
    clock, client, shopper, other_shopper, point, campaign
):
    group = _open_paid_group(campaign, shopper, point)
    pay(join_group(group=group, user=other_shopper, pickup_point=point).order)
    joined = GroupMember.objects.get(group=group, user=other_shopper)
    client.force_login(other_shopper)

    html = client.get(reverse("groupbuy:group", args=[group.code])).content.decode()

    mine = _section(html, "gb-mine")
    assert "拼团成功！你的订单已确认，11月27日送到自提点。" in mine
    assert reverse("orders:detail", args=[joined.order.code]) in mine
    assert "查看我的订单" in mine
    assert "is-empty" not in html  # no seat left to fill


def test_a_failed_group_shows_who_was_in_it_and_no_question_marks(
    clock, client, shopper, point, campaign, django_capture_on_commit_callbacks
):
    group = _open_paid_group(campaign, shopper, point)
    clock.shift(timedelta(hours=24))
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_group(group_id=group.pk) == "failed"
    assert GroupMember.objects.get(group=group).status == MemberStatus.REFUNDED
    client.force_login(shopper)

    html = client.get(reverse("groupbuy:group", args=[group.code])).content.decode()

    status = _section(html, "gb-status")
    assert "拼团未成功" in status
    assert "?</li>" not in status
    assert "is-empty" not in status
    assert shopper.display_name in status
    assert 'data-member="refunded"' in status
    assert "已退款" in status
    mine = _section(html, "gb-mine")
    assert "拼团未成功，你支付的 ¥2.90 将原路退回。" in mine


def test_a_visitor_sees_a_failed_groups_members_too(
    clock, client, shopper, point, campaign, django_capture_on_commit_callbacks
):
    group = _open_paid_group(campaign, shopper, point)
    clock.shift(timedelta(hours=24))
    with django_capture_on_commit_callbacks(execute=True):
        expire_group(group_id=group.pk)

    html = client.get(reverse("groupbuy:group", args=[group.code])).content.decode()

    assert shopper.display_name in _section(html, "gb-status")
    assert "gb-mine" not in html


# --- avatars -------------------------------------------------------------------------------


def test_a_member_without_a_nickname_gets_a_figure_not_the_first_digit_of_the_phone(
    clock, client, shopper, point, campaign
):
    by_phone = UserFactory(username="phone-only", phone="+8613812345678", nickname="")
    group = _open_paid_group(campaign, by_phone, point)
    pay(join_group(group=group, user=shopper, pickup_point=point).order)

    html = client.get(reverse("groupbuy:group", args=[group.code])).content.decode()

    avatars = re.search(r'<ul class="gb-avatars">.*?</ul>', html, re.S).group(0)
    opener = re.search(r'<li class="gb-avatar is-opener" title="([^"]*)">(.*?)</li>', avatars, re.S)
    assert opener.group(1) == "138****5678"
    assert "data-default-avatar" in opener.group(2)
    assert '<span class="avatar-initial" aria-hidden="true">1</span>' not in avatars
    # A member with a nickname shows its first character.
    assert '<span class="avatar-initial" aria-hidden="true">张</span>' in avatars


# --- groups near you ------------------------------------------------------------------------


def _point_in(community, name):
    return PickupPointFactory(
        leader=LeaderFactory(user=UserFactory(nickname=f"{name}团长")),
        community=community,
        name=name,
    )


def test_groups_near_you_are_those_of_your_point_or_community_only(
    clock, client, point, other_pickup_point, campaign, community
):
    neighbour_point = _point_in(community, "幸福里二号店")
    here = _open_paid_group(campaign, UserFactory(), point)
    next_door = _open_paid_group(campaign, UserFactory(), neighbour_point)
    across_town = _open_paid_group(campaign, UserFactory(), other_pickup_point)
    reader = UserFactory()
    bind(user=reader, point=point)
    client.force_login(reader)

    html = client.get(reverse("catalog:product", args=[campaign.sku.product.code])).content.decode()

    listed = re.findall(r'href="/groups/g/([^/]+)/"', html)
    assert listed == [here.code, next_door.code]
    assert across_town.code not in html
    assert "附近正在拼的团" in html


def test_a_visitor_without_a_point_is_shown_no_groups_near_them(
    clock, client, point, other_pickup_point, campaign
):
    _open_paid_group(campaign, UserFactory(), point)
    _open_paid_group(campaign, UserFactory(), other_pickup_point)

    html = client.get(reverse("catalog:product", args=[campaign.sku.product.code])).content.decode()

    assert "附近正在拼的团" not in html
    assert "/groups/g/" not in html


def test_a_full_groups_page_offers_other_groups_near_the_reader_only(
    clock, client, shopper, other_shopper, point, other_pickup_point, campaign
):
    full = _open_paid_group(campaign, shopper, point)
    pay(join_group(group=full, user=other_shopper, pickup_point=point).order)
    near = _open_paid_group(campaign, UserFactory(), point)
    far = _open_paid_group(campaign, UserFactory(), other_pickup_point)
    reader = UserFactory()
    bind(user=reader, point=point)
    client.force_login(reader)

    html = client.get(reverse("groupbuy:group", args=[full.code])).content.decode()

    assert reverse("groupbuy:group", args=[near.code]) in html
    assert reverse("groupbuy:group", args=[far.code]) not in html
