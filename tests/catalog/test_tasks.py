"""The nightly roll-forward task and its beat schedule."""

from __future__ import annotations

from datetime import date

import pytest
from celery.schedules import crontab
from django.conf import settings

from catalog.models import StockLedger, StockRecord
from catalog.schedules import BEAT_SCHEDULE
from catalog.tasks import roll_stock_forward_task
from tests.catalog.factories import SkuFactory

pytestmark = pytest.mark.django_db


def test_the_task_opens_the_coming_days_and_is_safe_to_run_twice(clock, warehouse):
    sku = SkuFactory(daily_quota=60)
    assert roll_stock_forward_task.apply().get() == 2
    assert roll_stock_forward_task.apply().get() == 0
    assert sorted(StockRecord.objects.values_list("delivery_date", "quantity")) == [
        (date(2026, 11, 26), 60),
        (date(2026, 11, 27), 60),
    ]
    assert StockLedger.objects.filter(sku=sku).count() == 2


def test_the_next_night_opens_only_the_new_day(clock, warehouse):
    SkuFactory(daily_quota=60)
    roll_stock_forward_task.apply()
    clock.move_to("2026-11-26T00:05:00+08:00")
    assert roll_stock_forward_task.apply().get() == 1
    assert StockRecord.objects.filter(delivery_date=date(2026, 11, 28)).count() == 1


def test_beat_runs_it_after_midnight_and_the_settings_merge_it():
    entry = BEAT_SCHEDULE["catalog-roll-stock-forward"]
    assert entry["task"] == "catalog.tasks.roll_stock_forward_task"
    assert entry["schedule"] == crontab(hour=0, minute=5)
    assert settings.CELERY_BEAT_SCHEDULE["catalog-roll-stock-forward"] == entry
    assert roll_stock_forward_task.name == entry["task"]
