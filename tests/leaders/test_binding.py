"""Shoppers choosing a pickup point, and arriving through a leader's share link."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leaders import services
from leaders.context_processors import pickup_point as pickup_point_context
from leaders.models import BindingEvent, BindingSource, ShopperBinding
from tests.catalog.factories import CategoryFactory, SkuFactory, set_stock
from tests.clock import TODAY, TOMORROW
from tuangou import timeutils

from .factories import PickupPointFactory, bind

pytestmark = pytest.mark.django_db

T0 = timeutils.local_datetime(date(2026, 11, 20), time(9, 0))


def test_a_shopper_chooses_a_point_and_it_is_saved_on_them(client, shopper, pickup_point):
    client.force_login(shopper)
    response = client.post(reverse("leaders:choose_point"), {"point": pickup_point.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:home")
    binding = ShopperBinding.objects.get(user=shopper)
    assert binding.pickup_point == pickup_point
    assert binding.leader == pickup_point.leader
    assert binding.source == BindingSource.CHOSEN
    [event] = BindingEvent.objects.filter(user=shopper)
    assert (event.from_point, event.to_point) == (None, pickup_point)


# Every page a shopper browses before the cart, with what it needs to exist.
STOREFRONT_PAGES = ["home", "categories", "category", "search", "product"]


@pytest.fixture
def storefront_urls(pickup_point):
    """One on-shelf product with stock for tomorrow at the point's warehouse."""
    sku = SkuFactory(product__name="西红柿", product__category=CategoryFactory(slug="veg"))
    set_stock(sku=sku, warehouse=pickup_point.warehouse, delivery_date=TOMORROW, quantity=10)
    return {
        "home": reverse("catalog:home"),
        "categories": reverse("catalog:categories"),
        "category": reverse("catalog:category", args=["veg"]),
        "search": reverse("catalog:search") + "?q=西红柿",
        "product": reverse("catalog:product", args=[sku.product.code]),
    }


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("page", STOREFRONT_PAGES)
def test_the_choice_is_shown_on_every_storefront_page(
    client, shopper, pickup_point, storefront_urls, page
):
    bind(user=shopper, point=pickup_point)
    client.force_login(shopper)
    response = client.get(storefront_urls[page])
    assert response.status_code == 200
    assert response.context["current_pickup_point"] == pickup_point
    html = response.content.decode()
    assert "幸福里便利店" in html
    assert "今晚 23:00 前下单，明天 10:00 后到自提点取货" in html
    assert 'data-countdown="2026-11-25T23:00:00+08:00"' in html
    assert "选择自提点" not in html
    assert 'data-pickup-problem="' not in html  # open on the delivery day


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("page", STOREFRONT_PAGES)
def test_every_storefront_page_says_when_the_point_is_paused_on_the_delivery_day(
    client, shopper, pickup_point, storefront_urls, page
):
    bind(user=shopper, point=pickup_point)
    services.pause_pickup_point_for_day(point=pickup_point, day=TOMORROW, reason="家里有事")
    client.force_login(shopper)
    html = client.get(storefront_urls[page]).content.decode()
    assert 'data-pickup-problem="paused"' in html
    assert "您的自提点在 11月26日（送达日）暂停取货，现在下单将无法在此取货。" in html
    assert '<a class="link" href="/leader/points/choose/">选择其他自提点 ›</a>' in html
    assert "幸福里便利店" in html  # the choice is still shown: the shopper decides


@pytest.mark.usefixtures("clock")
def test_a_pause_today_is_not_the_delivery_day_and_says_nothing(
    client, shopper, pickup_point, storefront_urls
):
    bind(user=shopper, point=pickup_point)
    services.pause_pickup_point_for_day(point=pickup_point, day=TODAY)
    client.force_login(shopper)
    html = client.get(storefront_urls["home"]).content.decode()
    assert "data-pickup-problem" not in html
    assert "暂停取货" not in html


@pytest.mark.usefixtures("clock")
def test_the_storefront_says_when_the_point_is_closed_on_the_delivery_weekday(
    client, shopper, pickup_point, storefront_urls
):
    # 2026-11-26 is a Thursday (weekday 3): the point does not open on Thursdays.
    pickup_point.opening_hours = {k: v for k, v in pickup_point.opening_hours.items() if k != "3"}
    pickup_point.save(update_fields=["opening_hours"])
    bind(user=shopper, point=pickup_point)
    client.force_login(shopper)
    html = client.get(storefront_urls["home"]).content.decode()
    assert 'data-pickup-problem="closed"' in html
    assert "您的自提点在 11月26日（送达日）不营业，现在下单将无法在此取货。" in html
    assert "选择其他自提点" in html


def test_after_the_cutoff_the_notice_follows_the_day_after_tomorrow(
    clock, client, shopper, pickup_point, storefront_urls
):
    services.pause_pickup_point_for_day(point=pickup_point, day=TOMORROW)
    bind(user=shopper, point=pickup_point)
    client.force_login(shopper)
    # 23:30: tomorrow's orders are closed, the delivery day is the 27th (not paused).
    clock.move_to(timeutils.local_datetime(TODAY, time(23, 30)))
    html = client.get(storefront_urls["home"]).content.decode()
    assert "data-pickup-problem" not in html
    services.pause_pickup_point_for_day(point=pickup_point, day=date(2026, 11, 27))
    html = client.get(storefront_urls["home"]).content.decode()
    assert "您的自提点在 11月27日（送达日）暂停取货" in html


@pytest.mark.usefixtures("clock")
def test_the_notice_costs_no_query_beyond_the_chosen_point(rf, shopper, pickup_point):
    from catalog.selectors import storefront_for

    services.pause_pickup_point_for_day(point=pickup_point, day=TOMORROW)
    bind(user=shopper, point=pickup_point)
    request = rf.get("/")
    request.user = shopper
    with CaptureQueriesContext(connection) as queries:
        point = pickup_point_context(request)["current_pickup_point"]
        storefront = storefront_for(pickup_point=point)
    assert len(queries) == 1
    assert storefront.pickup_problem == "paused"


def test_the_context_processor_costs_one_query_and_none_for_visitors(
    rf, shopper, pickup_point, django_assert_num_queries
):
    from django.contrib.auth.models import AnonymousUser

    bind(user=shopper, point=pickup_point)
    request = rf.get("/")
    request.user = shopper
    with django_assert_num_queries(1):
        point = pickup_point_context(request)["current_pickup_point"]
        assert point.warehouse.name == "长沙望城仓"
        assert point.name == "幸福里便利店"
        assert pickup_point_context(request)["current_pickup_point"] is point
    anonymous = rf.get("/")
    anonymous.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert pickup_point_context(anonymous)["current_pickup_point"] is None


def test_a_shopper_without_a_point_gets_none(rf, shopper):
    request = rf.get("/")
    request.user = shopper
    assert pickup_point_context(request) == {
        "current_pickup_point": None,
        "pickup_point_needs_change": False,
    }


def test_the_storefront_asks_again_when_the_point_stopped_taking_orders(
    client, shopper, pickup_point
):
    bind(user=shopper, point=pickup_point)
    services.suspend_leader(leader=pickup_point.leader)
    client.force_login(shopper)
    response = client.get(reverse("catalog:home"))
    assert response.context["current_pickup_point"] is None
    assert response.context["pickup_point_needs_change"] is True
    # The binding stays (for the leader's history) until the shopper chooses.
    assert ShopperBinding.objects.get(user=shopper).pickup_point == pickup_point


def test_changing_the_point_waits_for_the_cooldown(shopper, pickup_point, other_pickup_point):
    with time_machine.travel(T0, tick=False) as traveller:
        services.choose_pickup_point(user=shopper, pickup_point=pickup_point)
        traveller.shift(timedelta(minutes=3))
        with pytest.raises(ValidationError, match="7 分钟后再更换"):
            services.choose_pickup_point(user=shopper, pickup_point=other_pickup_point)
        assert ShopperBinding.objects.get(user=shopper).pickup_point == pickup_point
        assert BindingEvent.objects.filter(user=shopper).count() == 1

        traveller.shift(timedelta(minutes=7))
        binding = services.choose_pickup_point(user=shopper, pickup_point=other_pickup_point)
        assert binding.pickup_point == other_pickup_point
        assert binding.leader == other_pickup_point.leader
        assert binding.bound_at == T0
        assert binding.changed_at == T0 + timedelta(minutes=10)


def test_the_cooldown_message_is_shown_on_the_page(
    client, shopper, pickup_point, other_pickup_point
):
    client.force_login(shopper)
    with time_machine.travel(T0, tick=False):
        client.post(reverse("leaders:choose_point"), {"point": pickup_point.pk})
        response = client.post(
            reverse("leaders:choose_point"), {"point": other_pickup_point.pk}, follow=True
        )
    assert "您刚刚更换过自提点，请 10 分钟后再更换。" in response.content.decode()
    assert ShopperBinding.objects.get(user=shopper).pickup_point == pickup_point


def test_choosing_the_same_point_again_changes_nothing(shopper, pickup_point):
    with time_machine.travel(T0, tick=False) as traveller:
        services.choose_pickup_point(user=shopper, pickup_point=pickup_point)
        traveller.shift(timedelta(minutes=1))
        binding = services.choose_pickup_point(user=shopper, pickup_point=pickup_point)
    assert binding.changed_at == T0
    assert BindingEvent.objects.count() == 1


def test_a_point_of_a_suspended_leader_cannot_be_chosen(client, shopper, pickup_point):
    services.suspend_leader(leader=pickup_point.leader, reason="投诉较多")
    client.force_login(shopper)
    response = client.post(reverse("leaders:choose_point"), {"point": pickup_point.pk}, follow=True)
    assert "该自提点不可用，请选择其他自提点。" in response.content.decode()
    assert not ShopperBinding.objects.exists()


def test_shoppers_of_a_suspended_leader_are_asked_to_choose_another_at_once(
    client, shopper, pickup_point, other_pickup_point
):
    with time_machine.travel(T0, tick=False):
        services.choose_pickup_point(user=shopper, pickup_point=pickup_point)
        services.suspend_leader(leader=pickup_point.leader)
        client.force_login(shopper)
        page = client.get(reverse("leaders:choose_point")).content.decode()
        assert "幸福里便利店暂不接单，请选择其他自提点。" in page
        assert f'data-point="{pickup_point.pk}"' not in page
        # No cooldown when the old point stopped: they must be able to move now.
        services.choose_pickup_point(user=shopper, pickup_point=other_pickup_point)
    assert ShopperBinding.objects.get(user=shopper).pickup_point == other_pickup_point


def test_a_pending_new_point_is_not_offered(client, leader, community):
    PickupPointFactory(leader=leader, community=community, name="待审核的新点", status="pending")
    page = client.get(reverse("leaders:choose_point")).content.decode()
    assert "待审核的新点" not in page


# --- share links ------------------------------------------------------------------


def test_a_shopper_without_a_point_is_bound_through_the_share_link(client, shopper, pickup_point):
    client.force_login(shopper)
    response = client.get(reverse("leaders:share_shop", args=[pickup_point.leader.share_code]))
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:home")
    binding = ShopperBinding.objects.get(user=shopper)
    assert binding.pickup_point == pickup_point
    assert binding.source == BindingSource.SHARE_LINK


def test_a_shopper_with_a_point_is_asked_whether_to_switch(
    client, shopper, pickup_point, other_pickup_point
):
    bind(user=shopper, point=other_pickup_point)
    client.force_login(shopper)
    response = client.get(reverse("leaders:share_shop", args=[pickup_point.leader.share_code]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "要更换自提点吗？" in page
    assert "换到幸福里便利店" in page
    assert ShopperBinding.objects.get(user=shopper).pickup_point == other_pickup_point


def test_confirming_the_switch_moves_the_shopper(client, shopper, pickup_point, other_pickup_point):
    with time_machine.travel(T0, tick=False) as traveller:
        bind(user=shopper, point=other_pickup_point)
        traveller.shift(timedelta(hours=1))
        client.force_login(shopper)
        response = client.post(
            reverse("leaders:share_switch", args=[pickup_point.leader.share_code]),
            {"answer": "switch"},
        )
    assert response.status_code == 302
    binding = ShopperBinding.objects.get(user=shopper)
    assert binding.pickup_point == pickup_point
    assert binding.source == BindingSource.SHARE_LINK
    [event] = BindingEvent.objects.all()
    assert (event.from_point, event.to_point) == (other_pickup_point, pickup_point)


def test_keeping_the_current_point_changes_nothing(
    client, shopper, pickup_point, other_pickup_point
):
    bind(user=shopper, point=other_pickup_point)
    client.force_login(shopper)
    client.post(
        reverse("leaders:share_switch", args=[pickup_point.leader.share_code]), {"answer": "keep"}
    )
    assert ShopperBinding.objects.get(user=shopper).pickup_point == other_pickup_point
    assert not BindingEvent.objects.exists()


def test_an_unknown_share_code_gets_a_clear_message_and_writes_nothing(client, shopper):
    client.force_login(shopper)
    response = client.get(reverse("leaders:share_shop", args=["no-such-code"]))
    assert response.status_code == 404
    assert "该分享链接无效，请向团长索取新的链接。" in response.content.decode()
    assert not ShopperBinding.objects.exists()
    assert not BindingEvent.objects.exists()

    response = client.post(
        reverse("leaders:share_switch", args=["no-such-code"]), {"answer": "switch"}
    )
    assert response.status_code == 404
    assert not ShopperBinding.objects.exists()


def test_a_suspended_leaders_link_binds_nobody(client, shopper, pickup_point):
    services.suspend_leader(leader=pickup_point.leader)
    client.force_login(shopper)
    response = client.get(reverse("leaders:share_shop", args=[pickup_point.leader.share_code]))
    assert response.status_code == 410
    assert "该团长的自提点暂不接单" in response.content.decode()
    assert not ShopperBinding.objects.exists()


def test_a_visitor_sees_the_point_and_is_asked_to_sign_in(client, pickup_point):
    url = reverse("leaders:share_shop", args=[pickup_point.leader.share_code])
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "在幸福里便利店下单" in page
    assert f"{reverse('account_request_login_code')}?next=/leader/s/" in page
    assert not ShopperBinding.objects.exists()


def test_a_product_link_binds_then_goes_to_the_shop_when_the_product_is_unknown(
    client, shopper, pickup_point
):
    client.force_login(shopper)
    response = client.get(
        reverse("leaders:share_product", args=[pickup_point.leader.share_code, "999999"])
    )
    assert response.status_code == 302
    assert ShopperBinding.objects.get(user=shopper).pickup_point == pickup_point


def test_choosing_never_redirects_to_another_site(client, shopper, pickup_point):
    client.force_login(shopper)
    response = client.post(
        reverse("leaders:choose_point"),
        {"point": pickup_point.pk, "next": "https://evil.example.com/"},
    )
    assert response["Location"] == reverse("catalog:home")
    ok = client.post(
        reverse("leaders:choose_point"), {"point": pickup_point.pk, "next": "/search/"}
    )
    assert ok["Location"] == "/search/"


@pytest.mark.django_db(transaction=True)
def test_two_first_bindings_at_once_leave_one_binding(make_user):
    import threading

    from django.db import connection

    user = make_user("racer", "+8613800000099")
    point = PickupPointFactory()
    barrier = threading.Barrier(2)
    errors = []

    def arrive():
        try:
            barrier.wait()
            services.bind_shopper_from_share(user=user, share_code=point.leader.share_code)
        except Exception as exc:  # pragma: no cover - shown on failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ShopperBinding.objects.filter(user=user).count() == 1
    assert BindingEvent.objects.filter(user=user).count() == 1
