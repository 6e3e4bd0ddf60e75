"""Groupbuy fixtures: a 拼团 of 2 on 西红柿 (¥2.90 vs 团购价 ¥3.90), paying through the sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from groupbuy.models import Campaign, CampaignKind
from orders.payments import sandbox
from orders.services.payments import handle_payment_notification, start_payment
from tests.catalog.factories import SkuFactory, set_stock
from tests.catalog.test_hold_stock import ledger_matches_stock
from tests.leaders.factories import UserFactory
from tests.orders.conftest import (  # noqa: F401 - fixtures
    NOON_ISH,
    TOMORROW,
    clock,
    community,
    eager_celery,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
)
from tuangou.money import to_fen

__all__ = ["NOON_ISH", "TOMORROW", "make_campaign", "pay"]


@pytest.fixture(autouse=True)
def _ledger_matches_stock(request):
    """After every test that used the database: the stock ledger still sums to
    each row's quantity, and its held changes to the row's hold."""
    yield
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    ):
        ledger_matches_stock()


def make_campaign(sku, **fields) -> Campaign:
    values = {
        "title": "西红柿 2人团",
        "sku": sku,
        "group_price": Decimal("2.90"),
        "group_size": 2,
        "time_limit_hours": 24,
        "starts_at": NOON_ISH - timedelta(hours=1),
        "ends_at": NOON_ISH + timedelta(days=3),
        "stock_total": 20,
        "per_order_limit": 2,
        "per_shopper_limit": 4,
        **fields,
    }
    return Campaign.objects.create(**values)


def pay(order) -> None:
    """Pay an order exactly as WeChat would: prepay, then a signed notification."""
    payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    reply = handle_payment_notification(headers=headers, body=body)
    assert reply.ok, reply


@pytest.fixture
def sku(point):  # noqa: F811 - the orders fixture, with a 拼团 price below
    sku = SkuFactory(product__name="西红柿", spec="500g/份", price=Decimal("3.90"))
    # Group orders are for the day after the group is decided: stock for a few days.
    for days in range(4):
        set_stock(
            sku=sku,
            warehouse=point.warehouse,
            delivery_date=TOMORROW + timedelta(days=days),
            quantity=50,
        )
    return sku


@pytest.fixture
def campaign(sku):
    return make_campaign(sku)


@pytest.fixture
def threshold_campaign(sku):
    return make_campaign(
        sku,
        title="西红柿 社区满10份成团",
        kind=CampaignKind.THRESHOLD,
        threshold_quantity=10,
        ends_at=NOON_ISH + timedelta(hours=5),
        per_shopper_limit=10,
        per_order_limit=5,
    )


@pytest.fixture
def neighbours(db):
    """Shoppers for races and bigger groups."""
    return [UserFactory(nickname=f"邻居{i}") for i in range(12)]
