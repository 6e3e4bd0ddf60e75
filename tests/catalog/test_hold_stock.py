"""Holds: units set aside for group buys (hold_stock / unhold_stock) that ordinary
orders cannot take, drawn by reserve_stock(from_hold=True), given back to the hold
by a release before the day's cutoff; the ledger sums to quantity and to held."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine

from catalog.models import StockLedger, StockReason, StockRecord
from catalog.selectors import stock_ledger_mismatches
from catalog.services import (
    InvalidStockChange,
    OutOfStock,
    available_stock,
    hold_stock,
    release_stock,
    release_stock_lines,
    reserve_stock,
    set_stock_quantity,
    unhold_stock,
)

from .conftest import SHANGHAI, TOMORROW
from .factories import SkuFactory, set_stock

pytestmark = pytest.mark.django_db


def ledger_matches_stock() -> None:
    """The ledger explains every stock row: deltas sum to quantity, held_deltas to held."""
    assert stock_ledger_mismatches() == []


@pytest.fixture(autouse=True)
def _ledger_checked():
    yield
    ledger_matches_stock()


@pytest.fixture
def tomato(warehouse, clock):
    sku = SkuFactory()
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=10)
    return sku


def _row(sku, warehouse) -> tuple[int, int, int]:
    record = StockRecord.objects.get(sku=sku, warehouse=warehouse, delivery_date=TOMORROW)
    return record.quantity, record.held, record.sold


def _hold(sku, warehouse, quantity, reference="campaign:A"):
    hold_stock(
        sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=quantity, reference=reference
    )


def _reserve(sku, warehouse, quantity, reference, *, from_hold=False):
    return reserve_stock(
        lines=[(sku.pk, quantity)],
        warehouse=warehouse,
        delivery_date=TOMORROW,
        reference=reference,
        from_hold=from_hold,
    )


class TestHold:
    def test_a_hold_sets_units_aside_without_changing_the_quantity(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)

        assert _row(tomato, warehouse) == (10, 4, 0)
        entry = StockLedger.objects.get(reason=StockReason.HOLD)
        assert (entry.delta, entry.held_delta, entry.reference) == (0, 4, "campaign:A")
        assert available_stock(sku_id=tomato.pk, warehouse=warehouse, delivery_date=TOMORROW) == 6

    def test_only_what_general_sale_still_has_can_be_held(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)

        with pytest.raises(OutOfStock) as short:
            _hold(tomato, warehouse, 7, reference="campaign:B")

        assert (short.value.requested, short.value.available) == (7, 6)
        assert _row(tomato, warehouse) == (10, 4, 0)
        assert not StockLedger.objects.filter(reference="campaign:B").exists()

    def test_unhold_gives_units_back_to_general_sale(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)

        unhold_stock(
            sku=tomato, warehouse=warehouse, delivery_date=TOMORROW, quantity=3, reference="c:A"
        )

        assert _row(tomato, warehouse) == (10, 1, 0)
        entry = StockLedger.objects.get(reason=StockReason.UNHOLD)
        assert (entry.delta, entry.held_delta) == (0, -3)

    def test_unhold_of_more_than_is_held_changes_nothing(self, tomato, warehouse):
        _hold(tomato, warehouse, 2)

        with pytest.raises(InvalidStockChange):
            unhold_stock(
                sku=tomato, warehouse=warehouse, delivery_date=TOMORROW, quantity=3, reference="x"
            )

        assert _row(tomato, warehouse) == (10, 2, 0)
        assert not StockLedger.objects.filter(reason=StockReason.UNHOLD).exists()

    def test_the_operator_cannot_lower_the_quantity_below_the_hold(self, tomato, warehouse):
        _hold(tomato, warehouse, 6)

        with pytest.raises(InvalidStockChange) as refused:
            set_stock_quantity(
                sku=tomato, warehouse=warehouse, delivery_date=TOMORROW, quantity=5, note="坏了"
            )

        assert "6" in str(refused.value)
        assert _row(tomato, warehouse) == (10, 6, 0)


class TestReserve:
    def test_an_ordinary_order_cannot_take_held_units(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)

        with pytest.raises(OutOfStock) as short:
            _reserve(tomato, warehouse, 7, "ORDER1")

        assert (short.value.requested, short.value.available) == (7, 6)
        assert _row(tomato, warehouse) == (10, 4, 0)
        assert not StockLedger.objects.filter(reference="ORDER1").exists()

    def test_general_stock_exhausted_while_the_hold_remains(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)
        _reserve(tomato, warehouse, 6, "ORDER1")

        with pytest.raises(OutOfStock):
            _reserve(tomato, warehouse, 1, "ORDER2")

        assert _row(tomato, warehouse) == (4, 4, 6)

    def test_a_reservation_from_the_hold_takes_quantity_and_hold(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)

        _reserve(tomato, warehouse, 3, "GROUP1", from_hold=True)

        assert _row(tomato, warehouse) == (7, 1, 3)
        entry = StockLedger.objects.get(reference="GROUP1")
        assert (entry.delta, entry.held_delta) == (-3, -3)

    def test_a_reservation_from_the_hold_never_takes_general_units(self, tomato, warehouse):
        _hold(tomato, warehouse, 2)

        with pytest.raises(OutOfStock):
            _reserve(tomato, warehouse, 3, "GROUP1", from_hold=True)

        assert _row(tomato, warehouse) == (10, 2, 0)
        assert not StockLedger.objects.filter(reference="GROUP1").exists()


class TestRelease:
    def test_before_the_cutoff_a_released_hold_order_goes_back_to_the_hold(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)
        _reserve(tomato, warehouse, 3, "GROUP1", from_hold=True)

        assert release_stock(reference="GROUP1") == {tomato.pk: 3}

        assert _row(tomato, warehouse) == (10, 4, 0)
        entry = StockLedger.objects.get(reference="GROUP1", reason=StockReason.RELEASE)
        assert (entry.delta, entry.held_delta) == (3, 3)

    def test_after_the_cutoff_a_released_hold_order_goes_to_general_sale(
        self, tomato, warehouse, clock
    ):
        _hold(tomato, warehouse, 4)
        _reserve(tomato, warehouse, 3, "GROUP1", from_hold=True)
        clock.move_to(datetime(2026, 11, 25, 23, 30, tzinfo=SHANGHAI))

        release_stock(reference="GROUP1")

        assert _row(tomato, warehouse) == (10, 1, 0)
        entry = StockLedger.objects.get(reference="GROUP1", reason=StockReason.RELEASE)
        assert (entry.delta, entry.held_delta) == (3, None)

    def test_an_ordinary_order_released_goes_to_general_sale(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)
        _reserve(tomato, warehouse, 5, "ORDER1")

        release_stock(reference="ORDER1")

        assert _row(tomato, warehouse) == (10, 4, 0)

    def test_a_partial_release_of_a_hold_order_goes_back_to_the_hold(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)
        _reserve(tomato, warehouse, 3, "GROUP1", from_hold=True)

        assert release_stock_lines(reference="GROUP1", lines={tomato.pk: 2}, key="R1") == {
            tomato.pk: 2
        }
        assert _row(tomato, warehouse) == (9, 3, 1)

    def test_a_partial_release_after_the_cutoff_goes_to_general_sale(self, tomato, warehouse):
        _hold(tomato, warehouse, 4)
        _reserve(tomato, warehouse, 3, "GROUP1", from_hold=True)

        with time_machine.travel(datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI), tick=False):
            release_stock_lines(reference="GROUP1", lines={tomato.pk: 2}, key="R1")

        assert _row(tomato, warehouse) == (9, 1, 1)
