"""Shoppers choosing a pickup point, and arriving through a leader's share link."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from leaders import services
from leaders.context_processors import pickup_point as pickup_point_context
from leaders.models import BindingEvent, BindingSource, ShopperBinding
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


def test_the_choice_is_shown_on_every_storefront_page(client, shopper, pickup_point):
    bind(user=shopper, point=pickup_point)
    client.force_login(shopper)
    response = client.get(reverse("catalog:home"))
    assert response.context["current_pickup_point"] == pickup_point


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
