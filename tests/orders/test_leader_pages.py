"""The leader's order pages: the day board, sign-off, the pickup counter, the
uncollected list; and that another leader's point, code or line is never found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from orders.models import DeliverySignoff, Handout, Order, OrderLine, OrderStatus, PickupCode
from orders.pickup_selectors import pickup_scan_path
from orders.services.delivery import sign_for_delivery
from orders.services.pickup import flag_uncollected_orders, uncollected_deadline

from .conftest import NOON_ISH, TOMORROW
from .pickup_support import delivery_morning, paid_order

pytestmark = pytest.mark.django_db

DAY = TOMORROW.isoformat()


@pytest.fixture
def two_points(clock, shopper, other_shopper, leader_user, point, other_pickup_point, sku, egg_sku):
    """A paid order at each leader's point, both delivered this morning."""
    mine = paid_order(shopper, point, (sku, 2), (egg_sku, 1))
    theirs = paid_order(other_shopper, other_pickup_point, (sku, 1))
    clock.move_to(delivery_morning())
    return mine, theirs


def _sign(point, user):
    sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=user)


def _code(order) -> str:
    return PickupCode.objects.get(user=order.user, pickup_point=order.pickup_point).code


# --- who may enter -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["leader_today", "leader_signoff", "leader_pickup", "leader_uncollected"]
)
def test_a_shopper_cannot_open_the_leader_pages(client, shopper, name):
    client.force_login(shopper)
    response = client.get(reverse(f"orders:{name}"))
    assert response.status_code == 302
    assert response["Location"] == reverse("leaders:apply")


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(pickup_scan_path(code="123456"))
    assert response.status_code == 302
    assert "next=/orders/leader/pickup/%3Fcode%3D123456" in response["Location"]


# --- the day board ---------------------------------------------------------------------


def test_the_day_board_groups_orders_by_shopper(
    clock, client, two_points, shopper, leader_user, point, sku, django_assert_max_num_queries
):
    _mine, _theirs = two_points
    clock.move_to(NOON_ISH)
    paid_order(shopper, point, (sku, 1))
    clock.move_to(delivery_morning())
    client.force_login(leader_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("orders:leader_today"), {"day": DAY})
    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["board"].order_count == 2
    assert len(response.context["board"].shoppers) == 1
    assert "张阿姨" in page
    assert "李先生" not in page  # the other leader's shopper
    assert "到货签收" in page


def test_the_board_shows_who_signed(client, two_points, leader_user, point):
    _sign(point, leader_user)
    client.force_login(leader_user)
    page = client.get(reverse("orders:leader_today"), {"day": DAY}).content.decode()
    assert "幸福里团长小王 于 08:00 签收" in page


# --- sign-off --------------------------------------------------------------------------


def test_the_signoff_sheet_lists_what_should_arrive(client, two_points, leader_user, sku, egg_sku):
    client.force_login(leader_user)
    response = client.get(reverse("orders:leader_signoff"), {"day": DAY})
    assert [(s.sku_id, s.units) for s in response.context["skus"]] == [
        (egg_sku.pk, 1),
        (sku.pk, 2),
    ]
    assert f'name="short_{sku.pk}"' in response.content.decode()


def test_signing_with_a_shortage_refunds_and_readies_the_rest(
    client, two_points, leader_user, point, sku, egg_sku
):
    mine, theirs = two_points
    client.force_login(leader_user)
    response = client.post(
        reverse("orders:leader_signoff"),
        {"point": point.pk, "day": DAY, f"short_{sku.pk}": "1", f"short_{egg_sku.pk}": "0"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/orders/leader/?point={point.pk}&day={DAY}"
    assert "已签收，1 个订单可以取货了。 缺货部分已退款 ¥3.90。" in response.content.decode()
    assert Order.objects.get(pk=mine.pk).status == OrderStatus.READY_FOR_PICKUP
    assert OrderLine.objects.get(order=mine, sku=sku).refunded_quantity == 1
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.CONFIRMED


def test_a_second_signoff_shows_a_clear_message(client, two_points, leader_user, point):
    _sign(point, leader_user)
    client.force_login(leader_user)
    response = client.post(reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY})
    assert response.status_code == 400
    assert "这批货已由 幸福里团长小王 于 11-26 08:00 签收。" in response.content.decode()
    assert DeliverySignoff.objects.count() == 1


def test_a_bad_shortage_is_shown_and_nothing_is_signed(client, two_points, leader_user, point, sku):
    client.force_login(leader_user)
    response = client.post(
        reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY, f"short_{sku.pk}": "9"}
    )
    assert response.status_code == 400
    assert "这批配送中 西红柿 500g/份 只订了 2 件。" in response.content.decode()
    assert not DeliverySignoff.objects.exists()


# --- the pickup counter -----------------------------------------------------------------


def test_a_scanned_code_opens_the_shoppers_lines(client, two_points, leader_user, point):
    mine, _theirs = two_points
    _sign(point, leader_user)
    client.force_login(leader_user)
    response = client.get(pickup_scan_path(code=_code(mine)))
    page = response.content.decode()
    assert response.status_code == 200
    assert [m.user.pk for m in response.context["matches"]] == [mine.user_id]
    assert "全部核销（3 件）" in page
    assert mine.number in page


def test_the_last_four_phone_digits_find_the_shopper(client, two_points, leader_user, point):
    mine, _theirs = two_points
    _sign(point, leader_user)
    client.force_login(leader_user)
    response = client.get(reverse("orders:leader_pickup"), {"phone": "0001"})
    assert [m.code.code for m in response.context["matches"]] == [_code(mine)]
    nobody = client.get(reverse("orders:leader_pickup"), {"phone": "9999"})
    assert nobody.context["matches"] == []
    assert "没有手机尾号为 9999 的顾客有待取商品。" in nobody.content.decode()


def test_a_malformed_code_is_a_clear_400(client, leader_user, point):
    client.force_login(leader_user)
    response = client.get(reverse("orders:leader_pickup"), {"code": "12ab"})
    assert response.status_code == 400
    assert "取货码是 6 位数字。" in response.content.decode()


def test_handing_out_everything_completes_the_order(client, two_points, leader_user, point):
    mine, _theirs = two_points
    _sign(point, leader_user)
    code = _code(mine)
    client.force_login(leader_user)
    response = client.post(
        reverse("orders:leader_handout"), {"point": point.pk, "code": code, "all": "1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/orders/leader/pickup/?point={point.pk}&code={code}"
    page = response.content.decode()
    assert "已核销 3 件。 1 个订单已完成。" in page
    assert "已全部核销。" in page
    assert Order.objects.get(pk=mine.pk).status == OrderStatus.COMPLETED


def test_handing_out_some_lines_and_undoing(client, two_points, leader_user, point, sku, egg_sku):
    mine, _theirs = two_points
    _sign(point, leader_user)
    code = _code(mine)
    tomato = OrderLine.objects.get(order=mine, sku=sku)
    eggs = OrderLine.objects.get(order=mine, sku=egg_sku)
    client.force_login(leader_user)
    client.post(
        reverse("orders:leader_handout"),
        {"point": point.pk, "code": code, f"line_{tomato.pk}": "1", f"line_{eggs.pk}": "0"},
    )
    assert OrderLine.objects.get(pk=tomato.pk).handed_out_quantity == 1
    assert OrderLine.objects.get(pk=eggs.pk).handed_out_quantity == 0
    response = client.post(
        reverse("orders:leader_undo"),
        {"point": point.pk, "code": code, "line": tomato.pk, "quantity": "1"},
        follow=True,
    )
    assert "已撤销：1 件重新待取。" in response.content.decode()
    assert OrderLine.objects.get(pk=tomato.pk).handed_out_quantity == 0
    assert list(Handout.objects.values_list("quantity", flat=True)) == [1, -1]


def test_a_double_tap_shows_what_is_left(client, two_points, leader_user, point, sku):
    mine, _theirs = two_points
    _sign(point, leader_user)
    code = _code(mine)
    tomato = OrderLine.objects.get(order=mine, sku=sku)
    client.force_login(leader_user)
    data = {"point": point.pk, "code": code, f"line_{tomato.pk}": "2"}
    client.post(reverse("orders:leader_handout"), data)
    response = client.post(reverse("orders:leader_handout"), data, follow=True)
    assert "西红柿 只剩 0 件待核销。" in response.content.decode()
    assert Handout.objects.count() == 1


# --- uncollected ---------------------------------------------------------------------------


def test_the_uncollected_list_shows_flagged_orders(clock, client, two_points, leader_user, point):
    mine, _theirs = two_points
    _sign(point, leader_user)
    clock.move_to(uncollected_deadline(TOMORROW) + timedelta(hours=1))
    flag_uncollected_orders()
    client.force_login(leader_user)
    response = client.get(reverse("orders:leader_uncollected"))
    assert [o.pk for o in response.context["orders"]] == [mine.pk]
    assert f"code={_code(mine)}" in response.content.decode()


# --- another leader's ids: never found ------------------------------------------------------


class TestAnotherLeadersIds:
    """The other leader signs in and tries every URL with this leader's ids."""

    @pytest.fixture
    def setup(self, client, two_points, leader_user, other_leader_user, point, other_pickup_point):
        mine, theirs = two_points
        _sign(point, leader_user)
        _sign(other_pickup_point, other_leader_user)
        # Distinct codes, so that "not found" cannot be a chance match.
        PickupCode.objects.filter(pickup_point=point).update(code="111111")
        PickupCode.objects.filter(pickup_point=other_pickup_point).update(code="222222")
        client.force_login(other_leader_user)
        return mine, theirs

    def test_the_day_board_of_my_point(self, client, setup, point):
        assert client.get(reverse("orders:leader_today"), {"point": point.pk}).status_code == 404

    def test_the_signoff_sheet_of_my_point(self, client, setup, point):
        response = client.get(reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY})
        assert response.status_code == 404
        posted = client.post(reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY})
        assert posted.status_code == 404

    def test_my_shoppers_code(self, client, setup):
        mine, _theirs = setup
        response = client.get(pickup_scan_path(code=_code(mine)))
        assert response.status_code == 404
        assert response.context["matches"] == []
        assert "你的自提点没有取货码 111111。" in response.content.decode()

    def test_the_counter_at_my_point(self, client, setup, point):
        mine, _theirs = setup
        response = client.get(
            reverse("orders:leader_pickup"), {"point": point.pk, "code": _code(mine)}
        )
        assert response.status_code == 404

    def test_handing_out_at_my_point(self, client, setup, point):
        mine, _theirs = setup
        response = client.post(
            reverse("orders:leader_handout"), {"point": point.pk, "code": _code(mine), "all": "1"}
        )
        assert response.status_code == 404
        assert not Handout.objects.exists()

    def test_handing_out_my_lines_at_their_point(self, client, setup, other_pickup_point, sku):
        mine, theirs = setup
        line = OrderLine.objects.get(order=mine, sku=sku)
        response = client.post(
            reverse("orders:leader_handout"),
            {"point": other_pickup_point.pk, "code": _code(theirs), f"line_{line.pk}": "1"},
        )
        assert response.status_code == 404
        assert not Handout.objects.exists()

    def test_undoing_my_lines(self, client, setup, point, other_pickup_point, sku):
        mine, theirs = setup
        line = OrderLine.objects.get(order=mine, sku=sku)
        for point_id, code in ((point.pk, _code(mine)), (other_pickup_point.pk, _code(theirs))):
            response = client.post(
                reverse("orders:leader_undo"),
                {"point": point_id, "code": code, "line": line.pk, "quantity": "1"},
            )
            assert response.status_code == 404

    def test_the_uncollected_list_shows_only_their_orders(self, clock, client, setup):
        _mine, theirs = setup
        clock.move_to(uncollected_deadline(TOMORROW) + timedelta(hours=1))
        flag_uncollected_orders()
        response = client.get(reverse("orders:leader_uncollected"))
        assert [o.pk for o in response.context["orders"]] == [theirs.pk]
