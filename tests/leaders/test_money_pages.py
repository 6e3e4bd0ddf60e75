# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""The leader's money pages: their own numbers only; another leader's
statement codes are never found; withdrawals from the form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from leaders.commission.models import Withdrawal
from leaders.commission.services import add_adjustment, settle_commissions
from tests.orders.conftest import (  # noqa: F401 - fixtures
    clock,
    community,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)

from .money import november, paid_order, their_november  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

PAGES = [
    "leaders:money",
    "leaders:money_entries",
    "leaders:money_statements",
    "leaders:money_withdraw",
]


@pytest.fixture
def two_periods(november, their_november):
    """Lily's closed November (with its PDF) and a closed one for Ming."""
    return november, their_november


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("name", PAGES)
def test_a_shopper_who_is_not_a_leader_is_sent_to_apply(client, shopper, name):
    client.force_login(shopper)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == reverse("leaders:apply")


def test_the_money_page_shows_estimates_and_balances(
    client, clock, shopper, point, sku, leader, leader_user
):
    paid_order(shopper, point, (sku, 2))  # 0.78 pending
    client.force_login(leader_user)

    response = client.get(reverse("leaders:money"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "data-today>¥0.78" in html
    assert 'data-balance="pending">¥0.78' in html
    assert 'data-balance="available">¥0.00' in html
    chart = response.context["chart"]
    assert len(chart["amounts"]) == 30 and chart["amounts"][-1] == "0.78"
    assert 'data-chart-day="2026-11-25"' in html
    assert "西红柿 500g/份" in html


def test_the_leader_desk_shows_the_commission_card_instead_of_a_placeholder(
    client, clock, shopper, point, sku, leader_user
):
    paid_order(shopper, point, (sku, 2))
    client.force_login(leader_user)

    html = client.get(reverse("leaders:home")).content.decode()

    assert "data-money-card" in html and "¥0.78" in html
    assert "issue #7" not in html
    assert reverse("leaders:money_withdraw") in html


def test_a_leader_sees_only_their_own_entries(
    client, clock, shopper, point, sku, other_pickup_point, other_leader_user, leader_user
):
    from tests.catalog.factories import set_stock
    from tests.orders.conftest import TOMORROW

    set_stock(sku=sku, warehouse=other_pickup_point.warehouse, delivery_date=TOMORROW, quantity=10)
    mine = paid_order(shopper, point, (sku, 1))
    theirs = paid_order(shopper, other_pickup_point, (sku, 1))
    client.force_login(leader_user)

    for name in ("leaders:money", "leaders:money_entries"):
        html = client.get(reverse(name)).content.decode()
        assert mine.number in html
        assert theirs.number not in html


def test_a_leader_downloads_their_statement_and_never_another_leaders(
    client, two_periods, leader_user, other_leader_user
):
    mine, theirs = two_periods
    client.force_login(leader_user)

    response = client.get(reverse("leaders:money_statement_pdf", args=[mine.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")

    assert client.get(reverse("leaders:money_statement_pdf", args=[theirs.code])).status_code == 404
    assert (
        client.get(reverse("leaders:finance_statement_pdf", args=[theirs.code])).status_code == 403
    )
    assert client.get(reverse("leaders:finance_statement_pdf", args=[mine.code])).status_code == 403
    html = client.get(reverse("leaders:money_statements")).content.decode()
    assert mine.code in html and theirs.code not in html

    client.force_login(other_leader_user)
    assert client.get(reverse("leaders:money_statement_pdf", args=[mine.code])).status_code == 404


def test_a_withdrawal_from_the_form_reserves_the_money(
    client, clock, leader, leader_user, operator
):
    add_adjustment(
        leader=leader, amount="80.00", reason="奖励", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    client.force_login(leader_user)

    response = client.post(
        reverse("leaders:money_withdraw"),
        {
            "amount": "50.00",
            "method": "bank",
            "account_name": "王丽",
            "bank_name": "长沙银行",
            "account_number": "6214000011112222",
        },
    )

    assert response.status_code == 302
    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.leader, withdrawal.amount) == (leader, Decimal("50.00"))
    html = client.get(response["Location"]).content.decode()
    assert withdrawal.number in html
    assert "data-available>¥30.00" in html


def test_a_withdrawal_of_more_than_available_is_refused_with_a_message(
    client, clock, leader, leader_user, operator
):
    add_adjustment(
        leader=leader, amount="20.00", reason="奖励", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    client.force_login(leader_user)

    response = client.post(
        reverse("leaders:money_withdraw"),
        {
            "amount": "50.00",
            "method": "bank",
            "account_name": "王丽",
            "bank_name": "长沙银行",
            "account_number": "6214",
        },
    )

    assert response.status_code == 400
    assert "20.00" in response.content.decode()
    assert not Withdrawal.objects.exists()


def test_another_leaders_withdrawals_are_not_listed(
    client, clock, leader, other_leader, leader_user, operator
):
    add_adjustment(
        leader=other_leader,
        amount="20.00",
        reason="奖励",
        entered_by=operator,
        approved_by=operator,
    )
    settle_commissions()
    from leaders.commission.services import request_withdrawal

    theirs = request_withdrawal(
        leader=other_leader,
        amount="15.00",
        method="bank",
        account_name="周明",
        bank_name="建行",
        account_number="1",
    )
    client.force_login(leader_user)

    html = client.get(reverse("leaders:money_withdraw")).content.decode()
    assert theirs.number not in html


def test_the_money_page_query_count_is_pinned(
    client, clock, shopper, point, sku, egg_sku, leader_user, django_assert_max_num_queries
):
    for _n in range(3):
        paid_order(shopper, point, (sku, 1), (egg_sku, 1))
    client.force_login(leader_user)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("leaders:money")).status_code == 200


def test_a_leader_sees_money_move_from_pending_to_available_and_withdraws_it(
    client, clock, shopper, point, sku, egg_sku, leader_user, settings
):
    """The issue's 'done when', on the pages: order → pickup → window → withdrawal."""

    from tests.orders.conftest import TOMORROW

    from .money import TOMORROW_10, WINDOW_OVER, at, deliver, hand_out_all

    settings.WITHDRAWAL_MIN_AMOUNT = "1.00"
    order = paid_order(shopper, point, (egg_sku, 5))  # 64.00 → 6.40
    client.force_login(leader_user)

    def balance(name):
        html = client.get(reverse("leaders:money")).content.decode()
        return html.split(f'data-balance="{name}">¥', 1)[1].split("<", 1)[0]

    assert (balance("pending"), balance("available")) == ("6.40", "0.00")
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
        assert (balance("pending"), balance("frozen"), balance("available")) == (
            "0.00",
            "6.40",
            "0.00",
        )
    with at(WINDOW_OVER):
        settle_commissions()  # the nightly job
        assert (balance("frozen"), balance("available")) == ("0.00", "6.40")
        response = client.post(
            reverse("leaders:money_withdraw"),
            {
                "amount": "6.40",
                "method": "bank",
                "account_name": "王丽",
                "bank_name": "长沙银行",
                "account_number": "6214000011112222",
            },
        )
        assert response.status_code == 302
        assert (balance("available"), Withdrawal.objects.get().amount) == ("0.00", Decimal("6.40"))
