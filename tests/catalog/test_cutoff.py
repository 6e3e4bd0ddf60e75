"""The cutoff rule: the delivery day of an order and what the shopper is told."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from catalog.services import delivery_date_for, order_deadline
from tests.catalog.conftest import SHANGHAI
from tests.catalog.factories import SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def at(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(0, 0), date(2026, 11, 26)),
        (at(15, 0), date(2026, 11, 26)),
        (at(22, 59), date(2026, 11, 26)),
        (at(23, 0), date(2026, 11, 27)),  # at the cutoff is already too late
        (at(23, 59), date(2026, 11, 27)),
    ],
)
def test_an_order_before_the_cutoff_of_day_d_is_delivered_on_d_plus_1_else_d_plus_2(
    moment, expected
):
    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0))
    assert delivery_date_for(warehouse=warehouse, at=moment) == expected


def test_the_cutoff_is_judged_in_shanghai_not_utc():
    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0))
    # 15:30 UTC is 23:30 in Shanghai: after the cutoff although UTC says the 25th afternoon.
    assert delivery_date_for(
        warehouse=warehouse, at=datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    ) == date(2026, 11, 27)
    assert delivery_date_for(
        warehouse=warehouse, at=datetime(2026, 11, 25, 14, 59, tzinfo=UTC)
    ) == date(2026, 11, 26)


def test_an_sku_with_an_earlier_cutoff_of_its_own_moves_to_the_day_after_sooner():
    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0))
    fresh = SkuFactory.build(cutoff_time=time(21, 0))
    assert delivery_date_for(warehouse=warehouse, at=at(20, 59), sku=fresh) == date(2026, 11, 26)
    assert delivery_date_for(warehouse=warehouse, at=at(21, 0), sku=fresh) == date(2026, 11, 27)
    # The warehouse itself still delivers tomorrow at 21:00.
    assert delivery_date_for(warehouse=warehouse, at=at(21, 0)) == date(2026, 11, 26)


def test_an_sku_cutoff_later_than_the_warehouse_is_ignored():
    warehouse = WarehouseFactory.build(cutoff_time=time(20, 0))
    late = SkuFactory.build(cutoff_time=time(22, 0))
    assert delivery_date_for(warehouse=warehouse, at=at(21, 0), sku=late) == date(2026, 11, 27)


def test_without_a_moment_it_uses_the_current_time():
    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0))
    with time_machine.travel(at(23, 30), tick=False):
        assert delivery_date_for(warehouse=warehouse) == date(2026, 11, 27)


def test_the_shopper_is_told_tonight_and_tomorrow_before_the_cutoff():
    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0), pickup_time=time(10, 0))
    deadline = order_deadline(warehouse=warehouse, at=at(15, 0))
    assert deadline.text == "今晚 23:00 前下单，明天 10:00 后到自提点取货"
    assert deadline.cutoff_at == at(23, 0)
    assert deadline.cutoff_iso == "2026-11-25T23:00:00+08:00"
    assert deadline.pickup_at == datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    assert deadline.delivery_date == date(2026, 11, 26)


def test_after_the_cutoff_the_shopper_is_told_tomorrow_night_and_the_day_after():
    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0), pickup_time=time(10, 0))
    deadline = order_deadline(warehouse=warehouse, at=at(23, 10))
    assert deadline.text == "明晚 23:00 前下单，后天 10:00 后到自提点取货"
    assert deadline.cutoff_at == datetime(2026, 11, 26, 23, 0, tzinfo=SHANGHAI)


def test_a_morning_cutoff_reads_today_not_tonight():
    warehouse = WarehouseFactory.build(cutoff_time=time(11, 0), pickup_time=time(16, 0))
    assert (
        order_deadline(warehouse=warehouse, at=at(9, 0)).text
        == "今天 11:00 前下单，明天 16:00 后到自提点取货"
    )
    assert (
        order_deadline(warehouse=warehouse, at=at(12, 0)).text
        == "明天 11:00 前下单，后天 16:00 后到自提点取货"
    )


def test_the_text_is_english_for_english_shoppers():
    from django.utils import translation

    warehouse = WarehouseFactory.build(cutoff_time=time(23, 0), pickup_time=time(10, 0))
    with translation.override("en"):
        assert order_deadline(warehouse=warehouse, at=at(15, 0)).text == (
            "Order before tonight 23:00, pick up at your pickup point after tomorrow 10:00"
        )


@given(
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2035, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    cutoff=st.times(),
)
def test_the_delivery_day_is_always_the_next_or_the_one_after(moment, cutoff):
    warehouse = WarehouseFactory.build(cutoff_time=cutoff)
    local = moment.astimezone(SHANGHAI)
    delivered = delivery_date_for(warehouse=warehouse, at=moment)
    expected_days = 1 if local.time() < cutoff else 2
    assert (delivered - local.date()).days == expected_days
