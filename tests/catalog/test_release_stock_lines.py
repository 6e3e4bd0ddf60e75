"""release_stock_lines: a part of a reservation goes back (a partial refund
before delivery), once per key, never more than the reference still holds,
and the ledger always sums to the stock."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from catalog.models import StockLedger, StockReason, StockRecord
from catalog.services import release_stock, release_stock_lines, reserve_stock

from .conftest import TOMORROW
from .factories import SkuFactory, set_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def skus(warehouse, clock):
    tomato, eggs = SkuFactory(), SkuFactory()
    for sku in (tomato, eggs):
        set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=20)
    reserve_stock(
        lines=[(tomato.pk, 5), (eggs.pk, 2)],
        warehouse=warehouse,
        delivery_date=TOMORROW,
        reference="ORDER1",
    )
    return tomato, eggs


def _record(sku, warehouse) -> StockRecord:
    return StockRecord.objects.get(sku=sku, warehouse=warehouse, delivery_date=TOMORROW)


def _ledger_equals_stock(warehouse) -> bool:
    for record in StockRecord.objects.filter(warehouse=warehouse):
        total = StockLedger.objects.filter(
            sku=record.sku, warehouse=warehouse, delivery_date=record.delivery_date
        ).aggregate(s=Sum("delta"))["s"]
        if total != record.quantity:
            return False
    return True


def test_it_gives_back_just_those_units(skus, warehouse):
    tomato, eggs = skus
    released = release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1", note="x")
    assert released == {tomato.pk: 2}
    assert _record(tomato, warehouse).quantity == 17
    assert _record(tomato, warehouse).sold == 3
    assert _record(eggs, warehouse).quantity == 18
    row = StockLedger.objects.get(reason=StockReason.RELEASE)
    assert (row.reference, row.delta, row.note) == ("ORDER1/R1", 2, "x")
    assert _ledger_equals_stock(warehouse)


def test_the_same_key_twice_releases_once(skus, warehouse):
    tomato, _eggs = skus
    release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1")
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 2}, key="R1") == {}
    assert _record(tomato, warehouse).quantity == 17
    assert StockLedger.objects.filter(reason=StockReason.RELEASE).count() == 1
    assert _ledger_equals_stock(warehouse)


def test_it_never_releases_more_than_was_reserved(skus, warehouse):
    tomato, eggs = skus
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 4}, key="R1") == {tomato.pk: 4}
    # Only 1 of the 5 is still held: asking for 3 gives back 1.
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 3, eggs.pk: 9}, key="R2") == {
        tomato.pk: 1,
        eggs.pk: 2,
    }
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 1}, key="R3") == {}
    assert _record(tomato, warehouse).quantity == 20
    assert _record(tomato, warehouse).sold == 0
    assert _record(eggs, warehouse).quantity == 20
    assert _ledger_equals_stock(warehouse)


def test_a_whole_release_first_leaves_nothing_to_release_in_parts(skus, warehouse):
    tomato, _eggs = skus
    release_stock(reference="ORDER1")
    assert release_stock_lines(reference="ORDER1", lines={tomato.pk: 1}, key="R1") == {}
    assert _record(tomato, warehouse).quantity == 20
    assert _ledger_equals_stock(warehouse)


def test_an_sku_the_reference_never_reserved_is_ignored(skus, warehouse):
    other = SkuFactory()
    set_stock(sku=other, warehouse=warehouse, delivery_date=TOMORROW, quantity=5)
    assert release_stock_lines(reference="ORDER1", lines={other.pk: 1}, key="R1") == {}
    assert release_stock_lines(reference="NOPE", lines={other.pk: 1}, key="R1") == {}
    assert _record(other, warehouse).quantity == 5
    assert _ledger_equals_stock(warehouse)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_quantities_are_refused_and_change_nothing(skus, warehouse, bad):
    tomato, _eggs = skus
    with pytest.raises(ValueError, match="whole numbers"):
        release_stock_lines(reference="ORDER1", lines={tomato.pk: bad}, key="R1")
    assert _record(tomato, warehouse).quantity == 15
    assert not StockLedger.objects.filter(reason=StockReason.RELEASE).exists()
