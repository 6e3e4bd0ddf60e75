"""release_stock_lines after the reservation moved to another day (an order
rolled to D+1 by the cutoff wave): the units go back to the day they are held
on now, and the ledger still sums to every stock row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from catalog.models import StockLedger, StockReason, StockRecord
from catalog.selectors import stock_ledger_mismatches
from catalog.services import release_stock_lines, reserve_stock

from .conftest import TOMORROW
from .factories import SkuFactory, set_stock

pytestmark = pytest.mark.django_db

DAY_AFTER = TOMORROW + timedelta(days=1)


def _move(warehouse, lines: dict[int, int], *, reference="ORDER1", to=DAY_AFTER):
    """What orders' postpone_late_order does with the stock of a rolled order."""
    release_stock_lines(reference=reference, lines=lines, key=f"moved-{to:%Y%m%d}")
    reserve_stock(
        lines=sorted(lines.items()), warehouse=warehouse, delivery_date=to, reference=reference
    )


@pytest.fixture
def moved(warehouse, clock):
    tomato, eggs = SkuFactory(), SkuFactory()
    for sku in (tomato, eggs):
        for day in (TOMORROW, DAY_AFTER):
            set_stock(sku=sku, warehouse=warehouse, delivery_date=day, quantity=20)
    reserve_stock(
        lines=[(tomato.pk, 5), (eggs.pk, 2)],
        warehouse=warehouse,
        delivery_date=TOMORROW,
        reference="ORDER1",
    )
    _move(warehouse, {tomato.pk: 5, eggs.pk: 2})
    return tomato, eggs


def _stock(sku, warehouse) -> dict:
    return {
        r.delivery_date: (r.quantity, r.sold)
        for r in StockRecord.objects.filter(sku=sku, warehouse=warehouse)
    }


def test_a_partial_refund_after_the_move_goes_back_to_the_new_day(moved, warehouse):
    tomato, _eggs = moved
    assert _stock(tomato, warehouse) == {TOMORROW: (20, 0), DAY_AFTER: (15, 5)}

    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1") == {tomato.pk: 2}

    assert _stock(tomato, warehouse) == {TOMORROW: (20, 0), DAY_AFTER: (17, 3)}
    row = StockLedger.objects.get(reference="ORDER1/R1")
    assert (row.delivery_date, row.delta, row.reason) == (DAY_AFTER, 2, StockReason.RELEASE)
    assert stock_ledger_mismatches() == []
    # The same key again: nothing more.
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1") == {}
    assert _stock(tomato, warehouse)[DAY_AFTER] == (17, 3)


def test_the_rest_then_everything_never_more_than_the_new_day_holds(moved, warehouse):
    tomato, eggs = moved
    release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1")
    # A full cancel (refund of everything left) asks for all it ever had.
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 5, eggs.pk: 2}, key="R2") == {
        tomato.pk: 3,
        eggs.pk: 2,
    }
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 1}, key="R3") == {}

    assert _stock(tomato, warehouse) == {TOMORROW: (20, 0), DAY_AFTER: (20, 0)}
    assert _stock(eggs, warehouse) == {TOMORROW: (20, 0), DAY_AFTER: (20, 0)}
    assert not StockLedger.objects.filter(
        reason=StockReason.RELEASE, reference__in=["ORDER1/R1", "ORDER1/R2"], delivery_date=TOMORROW
    ).exists()
    assert stock_ledger_mismatches() == []


def test_a_refund_before_the_move_and_one_after_each_hit_their_day(warehouse, clock):
    tomato = SkuFactory()
    for day in (TOMORROW, DAY_AFTER):
        set_stock(sku=tomato, warehouse=warehouse, delivery_date=day, quantity=20)
    reserve_stock(
        lines=[(tomato.pk, 5)], warehouse=warehouse, delivery_date=TOMORROW, reference="ORDER1"
    )
    release_stock_lines(reference="ORDER1", lines={tomato.pk: 1}, key="R1")  # on TOMORROW
    _move(warehouse, {tomato.pk: 4})  # the 4 still wanted
    assert _stock(tomato, warehouse) == {TOMORROW: (20, 0), DAY_AFTER: (16, 4)}

    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 9}, key="R2") == {tomato.pk: 4}

    assert _stock(tomato, warehouse) == {TOMORROW: (20, 0), DAY_AFTER: (20, 0)}
    assert stock_ledger_mismatches() == []


def test_moved_twice_the_release_goes_to_the_last_day(moved, warehouse):
    tomato, _eggs = moved
    third = DAY_AFTER + timedelta(days=1)
    set_stock(sku=tomato, warehouse=warehouse, delivery_date=third, quantity=20)
    _move(warehouse, {tomato.pk: 5}, to=third)

    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1") == {tomato.pk: 2}

    assert _stock(tomato, warehouse) == {
        TOMORROW: (20, 0),
        DAY_AFTER: (20, 0),
        third: (17, 3),
    }
    assert stock_ledger_mismatches() == []
