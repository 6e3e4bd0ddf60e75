"""Shopper pages: the product page block, the group page, share link, join, QR code, card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from groupbuy.models import Group, GroupMember
from groupbuy.selectors import group_for_order
from groupbuy.services import join_group, open_group
from leaders.models import ShopperBinding
from orders.models import Order
from tests.leaders.factories import bind

from .conftest import make_campaign, pay


def _open_paid_group(campaign, user, point):
    member = open_group(campaign=campaign, user=user, pickup_point=point)
    pay(member.order)
    return Group.objects.select_related("pickup_point__leader").get(pk=member.group_id)


@pytest.mark.django_db
class TestProductPage:
    def test_it_shows_the_group_price_against_the_everyday_price_and_groups_nearby(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        bind(user=other_shopper, point=point)
        client.force_login(other_shopper)
        page = client.get(reverse("catalog:product", args=[campaign.sku.product.code]))
        html = page.content.decode()
        assert page.status_code == 200
        assert f'data-campaign="{campaign.code}"' in html
        assert "¥2.90 发起拼团" in html
        assert "拼团价" in html
        assert "团购价" in html and "¥3.90" in html
        assert "2人团" in html
        assert reverse("groupbuy:group", args=[group.code]) in html
        assert "还差 1 人" in html
        assert f'data-countdown="{group.deadline.isoformat()}"' in html

    def test_the_block_and_the_group_page_say_when_a_complete_group_is_delivered(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        bind(user=other_shopper, point=point)
        client.force_login(other_shopper)
        block = client.get(reverse("catalog:product", args=[campaign.sku.product.code]))
        # Opened now (11-25 15:00) with 24 h: decided by 11-26 15:00, delivered 11-27.
        assert "成团后 11月27日 送达" in block.content.decode()
        page = client.get(reverse("groupbuy:group", args=[group.code]))
        assert 'data-delivery-date="2026-11-27"' in page.content.decode()
        assert "成团后 11月27日 送达" in page.content.decode()

    def test_the_block_costs_three_queries_with_a_campaign_and_one_without(
        self, clock, shopper, other_shopper, point, campaign, sku, django_assert_num_queries
    ):
        from django.template import Context, Template

        from tests.catalog.factories import ProductFactory

        _open_paid_group(campaign, shopper, point)
        template = Template(
            "{% load groupbuy_tags %}{% campaign_for_product product as gb %}"
            "{% for g in gb.groups %}{% for m in g.live_members %}{{ m.user }}{% endfor %}"
            "{% endfor %}"
        )
        context = {"current_pickup_point": point, "request": None}
        with django_assert_num_queries(3):
            html = template.render(Context({**context, "product": sku.product}))
        assert shopper.display_name in html
        plain = ProductFactory()
        with django_assert_num_queries(1):
            template.render(Context({**context, "product": plain}))

    def test_a_product_without_a_campaign_shows_no_block(self, clock, client, shopper, sku):
        client.force_login(shopper)
        page = client.get(reverse("catalog:product", args=[sku.product.code]))
        assert page.status_code == 200
        assert "gb-block" not in page.content.decode()

    def test_the_opener_does_not_see_their_own_group_to_join(
        self, clock, client, shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        bind(user=shopper, point=point)
        client.force_login(shopper)
        page = client.get(reverse("catalog:product", args=[campaign.sku.product.code]))
        assert reverse("groupbuy:group", args=[group.code]) not in page.content.decode()

    def test_a_threshold_deal_shows_the_community_progress(
        self, clock, client, shopper, point, threshold_campaign
    ):
        from groupbuy.services import join_deal

        bind(user=shopper, point=point)
        pay(
            join_deal(
                campaign=threshold_campaign, user=shopper, pickup_point=point, quantity=4
            ).order
        )
        client.force_login(shopper)
        page = client.get(reverse("catalog:product", args=[threshold_campaign.sku.product.code]))
        html = page.content.decode()
        assert "本小区已订 4 / 10 份" in html
        assert 'style="width: 40%"' in html


@pytest.mark.django_db
class TestGroupPage:
    def test_it_shows_members_seats_left_countdown_and_share_link(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        client.force_login(other_shopper)
        page = client.get(reverse("groupbuy:group", args=[group.code]))
        html = page.content.decode()
        assert page.status_code == 200
        assert shopper.display_name in html
        assert "data-seats-left>1</b>" in html
        assert f'data-countdown="{group.deadline.isoformat()}"' in html
        share = f"/groups/g/{group.code}/s/{point.leader.share_code}/"
        assert share in html
        assert "¥2.90 参团" in html

    def test_a_group_whose_opener_has_not_paid_is_not_found(
        self, clock, client, shopper, point, campaign
    ):
        member = open_group(campaign=campaign, user=shopper, pickup_point=point)
        client.force_login(shopper)
        assert client.get(reverse("groupbuy:group", args=[member.group.code])).status_code == 404
        assert client.get("/groups/g/not-a-code/").status_code == 404

    def test_joining_sends_the_shopper_to_pay_and_holds_the_seat(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        bind(user=other_shopper, point=point)
        client.force_login(other_shopper)
        answer = client.post(reverse("groupbuy:join", args=[group.code]), {"quantity": "1"})
        member = GroupMember.objects.get(group=group, user=other_shopper)
        assert answer.status_code == 302
        assert member.order.code in answer["Location"]
        page = client.get(reverse("groupbuy:group", args=[group.code]))
        assert "名额已为你保留，请尽快付款。" in page.content.decode()

    def test_a_full_group_says_so_and_offers_a_new_group(
        self, clock, client, shopper, other_shopper, neighbours, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        join_group(group=group, user=other_shopper, pickup_point=point)
        bind(user=neighbours[0], point=point)
        client.force_login(neighbours[0])
        answer = client.post(reverse("groupbuy:join", args=[group.code]), follow=True)
        html = answer.content.decode()
        assert "这个团已经满员了。你可以开一个新团，或加入其他正在拼的团。" in html
        assert "开一个新团" in html
        assert not Order.objects.filter(user=neighbours[0]).exists()

    def test_an_anonymous_visitor_is_asked_to_sign_in_before_joining(
        self, clock, client, shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        answer = client.post(reverse("groupbuy:join", args=[group.code]))
        assert answer.status_code == 302
        assert "/accounts/" in answer["Location"]
        assert GroupMember.objects.count() == 1

    def test_the_share_link_binds_a_new_shopper_to_the_sharing_leader(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        client.force_login(other_shopper)
        answer = client.get(f"/groups/g/{group.code}/s/{point.leader.share_code}/")
        assert answer.status_code == 302
        assert answer["Location"] == reverse("groupbuy:group", args=[group.code])
        assert ShopperBinding.objects.get(user=other_shopper).pickup_point == point

    def test_a_wrong_leader_code_still_shows_the_group(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        client.force_login(other_shopper)
        answer = client.get(f"/groups/g/{group.code}/s/nobody/")
        assert answer.status_code == 302
        assert not ShopperBinding.objects.filter(user=other_shopper).exists()

    def test_the_qr_code_and_the_share_card_are_images(
        self, clock, client, shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        svg = client.get(reverse("groupbuy:qr", args=[group.code, "svg"]))
        png = client.get(reverse("groupbuy:qr", args=[group.code, "png"]))
        card = client.get(reverse("groupbuy:card", args=[group.code]))
        assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
        assert png["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
        assert card["Content-Type"] == "image/png" and card.content[:4] == b"\x89PNG"

    def test_a_succeeded_group_says_so_and_a_waiting_order_knows_its_group(
        self, clock, client, shopper, other_shopper, point, campaign
    ):
        group = _open_paid_group(campaign, shopper, point)
        opener_order = Order.objects.get(user=shopper)
        assert group_for_order(opener_order) == group
        pay(join_group(group=group, user=other_shopper, pickup_point=point).order)
        client.force_login(shopper)
        page = client.get(reverse("groupbuy:group", args=[group.code]))
        assert "拼团成功！" in page.content.decode()

    def test_a_failed_group_says_the_money_goes_back(self, clock, client, shopper, point, campaign):
        group = _open_paid_group(campaign, shopper, point)
        clock.shift(timedelta(hours=24))
        from groupbuy.services import expire_group

        expire_group(group_id=group.pk)
        page = client.get(reverse("groupbuy:group", args=[group.code]))
        html = page.content.decode()
        assert "拼团未成功" in html
        assert "原路全额退回" in html


@pytest.mark.django_db
def test_opening_from_the_product_page_goes_to_pay(clock, client, shopper, point, sku):
    campaign = make_campaign(sku)
    bind(user=shopper, point=point)
    client.force_login(shopper)
    answer = client.post(reverse("groupbuy:open", args=[campaign.code]), {"quantity": "1"})
    order = Order.objects.get(user=shopper)
    assert answer.status_code == 302
    assert order.code in answer["Location"]
    assert order.kind == "group"


@pytest.mark.django_db
def test_opening_without_a_pickup_point_says_choose_one(clock, client, shopper, sku):
    campaign = make_campaign(sku)
    client.force_login(shopper)
    answer = client.post(reverse("groupbuy:open", args=[campaign.code]), {"back": "/"}, follow=True)
    assert "请先选择自提点。" in answer.content.decode()
    assert not Order.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "back", ["https://evil.example/phish", "//evil.example/phish", "javascript:alert(1)"]
)
def test_a_refusal_never_sends_the_shopper_to_another_site(clock, client, shopper, sku, back):
    campaign = make_campaign(sku)
    client.force_login(shopper)
    answer = client.post(reverse("groupbuy:open", args=[campaign.code]), {"back": back})
    assert answer.status_code == 302
    assert "evil" not in answer["Location"] and "javascript" not in answer["Location"]
    assert answer["Location"] == reverse("catalog:product", args=[sku.product.code])
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_refusal_goes_back_to_the_page_on_this_site_it_came_from(clock, client, shopper, sku):
    campaign = make_campaign(sku)
    client.force_login(shopper)
    answer = client.post(
        reverse("groupbuy:open", args=[campaign.code]), {"back": "/products/?tab=group"}
    )
    assert answer["Location"] == "/products/?tab=group"


@pytest.mark.django_db
def test_an_order_page_partial_shows_the_group_of_a_waiting_order(clock, shopper, point, campaign):
    from django.template.loader import render_to_string

    group = _open_paid_group(campaign, shopper, point)
    order = Order.objects.get(user=shopper)
    html = render_to_string("groupbuy/_order_group.html", {"order": order})
    assert f'data-group="{group.code}"' in html
    assert "拼团中" in html and "还差 1 人" in html
    assert render_to_string("groupbuy/_order_group.html", {"order": None}).strip() == ""


@pytest.mark.django_db
def test_the_waiting_tab_shows_each_orders_group_in_one_query(
    clock, shopper, neighbours, point, campaign, sku, django_assert_num_queries
):
    from django.template import Context, Template

    from groupbuy.selectors import groups_for_orders
    from orders.services.checkout import Want, place_order

    groups = [_open_paid_group(campaign, user, point) for user in neighbours[:3]]
    plain = place_order(user=neighbours[0], wants=[Want(sku.pk, 1)], pickup_point=point)
    orders = list(Order.objects.filter(user__in=neighbours[:3]).order_by("pk"))
    assert len(orders) == 4

    with django_assert_num_queries(1):
        found = groups_for_orders(orders)
    assert {o: m.group.code for o, m in found.items()} == {
        g.members.get().order_id: g.code for g in groups
    }
    assert plain.pk not in found

    # As the orders list will include it: once per card, one query for the page.
    template = Template(
        '{% for order in orders %}<div data-card="{{ order.pk }}">'
        '{% include "groupbuy/_order_card_group.html" with order=order orders=orders %}'
        "</div>{% endfor %}"
    )
    with django_assert_num_queries(1):
        html = template.render(Context({"orders": orders}))
    for group in groups:
        assert f'data-group="{group.code}"' in html
        assert reverse("groupbuy:group", args=[group.code]) in html
    assert html.count("还差 1 人") == 3
    assert html.count("gb-order-card-group") == 3
    assert f'<div data-card="{plain.pk}"></div>' in html.replace("\n", "")


@pytest.mark.django_db
def test_an_opener_paying_after_an_operator_closed_the_forming_group_is_refunded(
    clock, shopper, operator, point, campaign
):
    from groupbuy.services import close_group

    member = open_group(campaign=campaign, user=shopper, pickup_point=point)
    close_group(group=member.group, reason="活动下线", actor=operator)
    pay(member.order)
    member.refresh_from_db()
    assert member.status == "refunded"
    assert Order.objects.get(pk=member.order_id).status == "refunded"
