"""The demo's history never lies in the future, whatever the hour it is seeded.

Issue #10: seeded at 02:18, the demo showed orders dispatched at 06:00 and
signed for at 08:30 "today". Every timestamp of every model is checked
(generically, over all DateTimeFields), except the business fields that are
meant to lie ahead: deadlines, a campaign's end, a session's expiry.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")

# (model label, field): when it is set, it lies ahead on purpose.
MAY_BE_FUTURE = {
    ("sessions.Session", "expire_date"),
    ("socialaccount.SocialToken", "expires_at"),
    ("django_celery_beat.PeriodicTask", "expires"),
    ("django_celery_beat.PeriodicTask", "start_time"),
    ("django_celery_beat.ClockedSchedule", "clocked_time"),
    ("orders.Order", "pay_deadline"),  # 15 minutes to pay
    ("orders.Order", "pickup_from"),  # the delivery morning
    ("leaders.CommissionRule", "effective_until"),
    ("groupbuy.Campaign", "ends_at"),
    ("groupbuy.Group", "deadline"),
    ("groupbuy.CommunityDeal", "decide_at"),
    ("marketing.Coupon", "valid_until"),  # a coupon's end
    ("marketing.CouponTemplate", "valid_until"),
    ("marketing.PointsEntry", "expires_at"),  # points expire at the end of next year
    ("marketing.Promotion", "ends_at"),
    ("outbox.OutboxMessage", "eta"),  # a task scheduled for later (a pay deadline)
    ("logistics.DeliveryRun", "planned_departure"),  # the van's plan for the morning
    ("logistics.RunStop", "planned_arrival"),
    ("logistics.RunStop", "due_at"),  # the point's pickup time
    ("marketing.FlashSale", "starts_at"),  # a 秒杀 session later today
    ("marketing.FlashSale", "ends_at"),
}

MOMENTS = [
    # The hour: before the morning's dispatch (06:00) and sign-off (08:30).
    datetime(2026, 11, 26, 2, 18, tzinfo=SHANGHAI),
    # After the evening cutoff (23:00), on the last day of a year.
    datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI),
    # Just after midnight on the first of a month: "today" has barely begun.
    datetime(2027, 3, 1, 0, 5, tzinfo=SHANGHAI),
    # A month end in the afternoon, in February.
    datetime(2027, 2, 28, 15, 0, tzinfo=SHANGHAI),
]


def _datetime_fields():
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.DateTimeField) and field.concrete:
                yield model, field


def test_the_allowed_future_fields_exist():
    """The allow-list cannot rot: each entry names a real DateTimeField."""
    known = {(m._meta.label, f.name) for m, f in _datetime_fields()}
    assert {entry for entry in MAY_BE_FUTURE if entry[0].split(".")[0] in _app_labels()} <= known


def _app_labels() -> set[str]:
    return {config.label for config in apps.get_app_configs()}


def _stamped_by_the_database(model, field) -> bool:
    """Audit events (django-pghistory) are written by triggers with the database's
    clock, which a test's time travel cannot move: in real life they are now."""
    return field.name == "pgh_created_at"


def _future_stamps(now: datetime) -> list[str]:
    found = []
    for model, field in _datetime_fields():
        if (model._meta.label, field.name) in MAY_BE_FUTURE:
            continue
        if _stamped_by_the_database(model, field):
            continue
        rows = model.objects.filter(**{f"{field.name}__gt": now})
        for pk, value in rows.values_list("pk", field.name)[:3]:
            found.append(
                f"{model._meta.label}.{field.name} #{pk}: "
                f"{timezone.localtime(value, SHANGHAI):%Y-%m-%d %H:%M} > "
                f"{timezone.localtime(now, SHANGHAI):%Y-%m-%d %H:%M}"
            )
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: f"{m:%Y-%m-%d %H:%M}")
def test_no_seeded_timestamp_is_later_than_now(moment):
    with time_machine.travel(moment, tick=False):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        now = timezone.now()
        future = _future_stamps(now)
        assert future == [], "\n".join(future)
        # The future business fields are really there (the check is not vacuous).
        from orders.models import Order

        assert Order.objects.filter(pickup_from__gt=now).exists()
