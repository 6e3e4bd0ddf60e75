"""The campaign's per-day hold: units set aside in the catalog (hold_stock) that
ordinary shoppers cannot buy and group orders draw from."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from catalog.models import StockLedger, StockReason, StockRecord
from catalog.services import OutOfStock
from groupbuy.models import Campaign, GroupMember
from groupbuy.schedules import BEAT_SCHEDULE
from groupbuy.services import (
    GroupbuyError,
    hold_reference,
    open_group,
    release_campaign_holds,
    save_campaign,
)
from groupbuy.tasks import hold_campaign_stock_task
from orders.models import Order, OrderStatus
from orders.services.checkout import Want, place_order
from orders.services.payments import cancel_unpaid_order
from tests.catalog.conftest import SHANGHAI
from tests.catalog.factories import set_stock
from tests.leaders.factories import UserFactory

from .conftest import NOON_ISH, TOMORROW

DAY2 = TOMORROW + timedelta(days=1)  # a group opened now is decided tomorrow: for DAY2


def new_campaign(sku, **fields) -> Campaign:
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
    return save_campaign(campaign=Campaign(**values))


def held(sku, day) -> tuple[int, int]:
    record = StockRecord.objects.get(sku=sku, delivery_date=day)
    return record.quantity, record.held


@pytest.mark.django_db
class TestHoldingTheCampaignStock:
    def test_saving_a_campaign_holds_its_units_on_each_open_day(self, clock, sku):
        campaign = new_campaign(sku)

        days = [TOMORROW + timedelta(days=n) for n in range(4)]
        assert [held(sku, day) for day in days] == [(50, 20)] * 4
        rows = StockLedger.objects.filter(reason=StockReason.HOLD)
        assert {r.reference for r in rows} == {f"campaign:{campaign.code}"}
        assert sorted(r.delivery_date for r in rows) == days

    def test_saving_it_again_holds_nothing_more(self, clock, sku):
        campaign = new_campaign(sku)

        save_campaign(campaign=campaign)

        assert StockLedger.objects.filter(reason=StockReason.HOLD).count() == 4
        assert held(sku, TOMORROW) == (50, 20)

    def test_the_hold_per_day_can_be_smaller_than_the_campaign(self, clock, sku):
        new_campaign(sku, hold_per_day=5)

        assert held(sku, DAY2) == (50, 5)

    def test_a_day_holds_only_what_general_sale_still_has(self, clock, sku, point):
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=DAY2, quantity=8)

        new_campaign(sku)

        assert held(sku, DAY2) == (8, 8)

    def test_the_hold_per_day_cannot_exceed_the_units_set_aside(self, clock, sku):
        with pytest.raises(ValidationError) as refused:
            new_campaign(sku, hold_per_day=21)

        assert "hold_per_day" in refused.value.message_dict
        assert not Campaign.objects.exists()
        assert held(sku, TOMORROW) == (50, 0)

    def test_the_nightly_task_holds_newly_opened_days(self, clock, sku, point):
        new_campaign(sku, ends_at=NOON_ISH + timedelta(days=5))
        set_stock(
            sku=sku,
            warehouse=point.warehouse,
            delivery_date=TOMORROW + timedelta(days=4),
            quantity=30,
        )

        assert hold_campaign_stock_task.delay().get() == {"held": 1, "released": 0}

        assert held(sku, TOMORROW + timedelta(days=4)) == (30, 20)
        assert hold_campaign_stock_task.delay().get() == {"held": 0, "released": 0}

    def test_the_task_is_scheduled(self):
        assert {e["task"] for e in BEAT_SCHEDULE.values()} >= {
            "groupbuy.tasks.hold_campaign_stock_task"
        }


@pytest.mark.django_db
class TestOrdersAndTheHold:
    def test_an_ordinary_shopper_cannot_buy_held_units(self, clock, sku, point, shopper):
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=25)
        new_campaign(sku)
        place_order(user=shopper, wants=[Want(sku.pk, 5)], pickup_point=point)

        with pytest.raises(OutOfStock) as short:
            place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)

        assert short.value.available == 0
        assert held(sku, TOMORROW) == (20, 20)
        assert Order.objects.count() == 1

    def test_a_group_order_draws_from_the_hold(self, clock, sku, point, shopper):
        campaign = new_campaign(sku)

        member = open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)

        assert member.order.delivery_date == DAY2
        assert held(sku, DAY2) == (48, 18)
        entry = StockLedger.objects.get(reference=member.order.number)
        assert (entry.delta, entry.held_delta) == (-2, -2)

    def test_a_cancelled_group_order_goes_back_to_the_hold_before_the_cutoff(
        self, clock, sku, point, shopper
    ):
        campaign = new_campaign(sku)
        member = open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)

        assert cancel_unpaid_order(order=member.order, reason="changed my mind")

        assert held(sku, DAY2) == (50, 20)
        campaign.refresh_from_db()
        assert campaign.stock_taken == 0

    def test_when_the_day_has_no_hold_left_a_group_order_takes_general_stock(
        self, clock, sku, point, shopper
    ):
        campaign = new_campaign(sku, hold_per_day=1)

        member = open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)

        assert held(sku, DAY2) == (48, 1)
        entry = StockLedger.objects.get(reference=member.order.number)
        assert (entry.delta, entry.held_delta) == (-2, None)

    def test_with_no_stock_at_all_the_group_order_is_refused(self, clock, sku, point, shopper):
        campaign = new_campaign(sku, hold_per_day=1)
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=DAY2, quantity=1)

        with pytest.raises(GroupbuyError) as refused:
            open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)

        assert refused.value.code == "checkout"
        assert held(sku, DAY2) == (1, 1)
        assert not Order.objects.exists()
        campaign.refresh_from_db()
        assert campaign.stock_taken == 0


@pytest.mark.django_db
class TestGivingTheHoldBack:
    def test_after_a_days_cutoff_what_is_left_goes_back_to_general_sale(
        self, clock, sku, point, shopper
    ):
        campaign = new_campaign(sku)
        open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)
        clock.move_to(datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI))

        assert release_campaign_holds() == 2

        assert [held(sku, TOMORROW + timedelta(days=n)) for n in range(4)] == [
            (50, 0),
            (48, 0),
            (50, 20),
            (50, 20),
        ]
        assert release_campaign_holds() == 0
        unhold = StockLedger.objects.get(reason=StockReason.UNHOLD, delivery_date=DAY2)
        assert (unhold.delta, unhold.held_delta, unhold.reference) == (
            0,
            -18,
            hold_reference(campaign),
        )

    def test_switching_a_campaign_off_gives_back_every_day(self, clock, sku):
        campaign = new_campaign(sku)

        campaign.is_active = False
        save_campaign(campaign=campaign)

        assert [held(sku, TOMORROW + timedelta(days=n)) for n in range(4)] == [(50, 0)] * 4


def _run_together(targets):
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def run(index, target):
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_ordinary_buyers_and_group_openers_at_once_never_oversell_nor_swap_units(clock, sku, point):
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=DAY2, quantity=10)
    campaign = new_campaign(sku, hold_per_day=5)
    assert held(sku, DAY2) == (10, 5)
    buyers = [UserFactory(nickname=f"买家{i}") for i in range(9)]
    openers = [UserFactory(nickname=f"团长{i}") for i in range(9)]

    def buy(user):
        # For the same day as the groups (decided tomorrow).
        return lambda: place_order(
            user=user,
            wants=[Want(sku.pk, 1)],
            pickup_point=point,
            deliver_after=NOON_ISH + timedelta(hours=24),
        )

    def open_one(user):
        return lambda: open_group(campaign=campaign, user=user, pickup_point=point)

    results = _run_together([buy(u) for u in buyers] + [open_one(u) for u in openers])

    bought = [r for r in results[:9] if isinstance(r, Order)]
    opened = [r for r in results[9:] if isinstance(r, GroupMember)]
    assert all(isinstance(r, OutOfStock) for r in results[:9] if not isinstance(r, Order))
    assert all(isinstance(r, GroupbuyError) for r in results[9:] if not isinstance(r, GroupMember))
    # Every unit sold once, none twice: ordinary orders never reached the hold.
    assert len(bought) + len(opened) == 10
    assert len(bought) <= 5
    assert held(sku, DAY2) == (0, 0)
    from_hold = StockLedger.objects.filter(
        reason=StockReason.RESERVE, delivery_date=DAY2, held_delta__isnull=False
    )
    assert from_hold.count() == 5
    assert set(from_hold.values_list("reference", flat=True)) <= {m.order.number for m in opened}
    assert (
        Order.objects.filter(delivery_date=DAY2, status=OrderStatus.PENDING_PAYMENT).count() == 10
    )
