# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""An order rolled to D+1 by the cutoff wave, then refunded in part and in
full: its stock goes back to D+1 (where it is reserved now), exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from catalog.models import StockLedger, StockRecord
from catalog.selectors import stock_ledger_mismatches
from logistics.services.wave import roll_late_orders
from orders.models import OrderStatus, RefundReason
from orders.services.refunds import refund_lines, refund_order
from tests.catalog.factories import set_stock
from tests.clock import TOMORROW

from .test_wave_late import late  # noqa: F401 - fixture
from .wave_support import day, weighed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

DAY_AFTER = TOMORROW + timedelta(days=1)


def _stock(sku, warehouse) -> dict:
    return {
        r.delivery_date: (r.quantity, r.sold)
        for r in StockRecord.objects.filter(sku=sku, warehouse=warehouse)
    }


@pytest.fixture
def rolled(late, point, weighed):
    tomato, _eggs = weighed
    wave, order = late
    set_stock(sku=tomato, warehouse=point.warehouse, delivery_date=DAY_AFTER, quantity=30)
    assert [o.pk for o in roll_late_orders(wave=wave).moved] == [order.pk]
    order.refresh_from_db()
    assert order.delivery_date == DAY_AFTER
    assert _stock(tomato, point.warehouse)[DAY_AFTER] == (28, 2)
    return order


def test_a_partial_refund_after_the_roll_gives_back_to_the_new_day(rolled, point, weighed):
    tomato, _eggs = weighed
    before = _stock(tomato, point.warehouse)[TOMORROW]

    refund = refund_lines(
        order=rolled, quantities={rolled.lines.get().pk: 1}, reason=RefundReason.OPERATOR
    )

    stock = _stock(tomato, point.warehouse)
    assert stock[DAY_AFTER] == (29, 1)
    assert stock[TOMORROW] == before  # the old day gave its units back at the roll
    row = StockLedger.objects.get(reference=f"{rolled.number}/R{refund.pk}")
    assert (row.delivery_date, row.delta) == (DAY_AFTER, 1)
    assert stock_ledger_mismatches() == []


def test_partial_then_full_refund_after_the_roll_releases_everything_once(rolled, point, weighed):
    tomato, _eggs = weighed
    refund_lines(order=rolled, quantities={rolled.lines.get().pk: 1}, reason=RefundReason.OPERATOR)

    refund_order(order=rolled)

    rolled.refresh_from_db()
    assert rolled.status == OrderStatus.REFUNDED
    assert _stock(tomato, point.warehouse)[DAY_AFTER] == (30, 0)
    released = StockLedger.objects.filter(
        reference__startswith=f"{rolled.number}/R", delivery_date=DAY_AFTER
    )
    assert sorted(released.values_list("delta", flat=True)) == [1, 1]
    assert not StockLedger.objects.filter(
        reference__startswith=f"{rolled.number}/R", delivery_date=TOMORROW
    ).exists()
    assert stock_ledger_mismatches() == []


def test_a_full_cancel_after_the_roll_releases_the_new_day(rolled, point, weighed):
    tomato, _eggs = weighed

    refund_order(order=rolled)

    assert _stock(tomato, point.warehouse)[DAY_AFTER] == (30, 0)
    assert stock_ledger_mismatches() == []
