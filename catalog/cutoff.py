"""The cutoff rule: which day an order placed now is delivered, and what the
shopper is told before paying ("今晚 23:00 前下单，明天 10:00 后到自提点取货").

Pure functions of (warehouse, moment, sku): no queries, so pages can call them
for every SKU they show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils.translation import gettext as _

from tuangou.timeutils import local_datetime, now, to_local

EVENING = time(18, 0)


def effective_cutoff(*, warehouse, sku=None) -> time:
    """The warehouse's daily cutoff, or the SKU's own when it is earlier (fresh goods)."""
    cutoff = warehouse.cutoff_time
    own = getattr(sku, "cutoff_time", None)
    return min(cutoff, own) if own else cutoff


def delivery_date_for(*, warehouse, at: datetime | None = None, sku=None) -> date:
    """Ordered before the cutoff of day D (Shanghai) → D+1; at or after it → D+2."""
    moment = to_local(at or now())
    cutoff = effective_cutoff(warehouse=warehouse, sku=sku)
    days = 1 if moment.time() < cutoff else 2
    return moment.date() + timedelta(days=days)


@dataclass(frozen=True)
class OrderDeadline:
    cutoff_at: datetime  # aware: the last moment to order for delivery_date
    delivery_date: date
    pickup_at: datetime  # aware: from when the parcel waits at the pickup point
    today: date  # the shopper's day (Shanghai) the texts are relative to

    @property
    def cutoff_iso(self) -> str:
        """For the countdown script (static/js/app.js reads data-countdown)."""
        return self.cutoff_at.isoformat()

    @property
    def text(self) -> str:
        return _(
            "Order before %(cutoff_day)s %(cutoff)s, pick up at your pickup point "
            "after %(pickup_day)s %(pickup)s"
        ) % {
            "cutoff_day": self._cutoff_day(),
            "cutoff": f"{self.cutoff_at:%H:%M}",
            "pickup_day": self._pickup_day(),
            "pickup": f"{self.pickup_at:%H:%M}",
        }

    def _cutoff_day(self) -> str:
        evening = self.cutoff_at.time() >= EVENING
        if self.cutoff_at.date() == self.today:
            return _("tonight") if evening else _("today")
        return _("tomorrow night") if evening else _("tomorrow")

    def _pickup_day(self) -> str:
        offset = (self.delivery_date - self.today).days
        if offset == 1:
            return _("tomorrow")
        if offset == 2:
            return _("the day after tomorrow")
        return f"{self.delivery_date:%m-%d}"


def order_deadline(*, warehouse, at: datetime | None = None, sku=None) -> OrderDeadline:
    """What the shopper must beat, and when they can collect, for an order placed `at`."""
    moment = to_local(at or now())
    delivery = delivery_date_for(warehouse=warehouse, at=moment, sku=sku)
    cutoff = effective_cutoff(warehouse=warehouse, sku=sku)
    return OrderDeadline(
        cutoff_at=local_datetime(delivery - timedelta(days=1), cutoff),
        delivery_date=delivery,
        pickup_at=local_datetime(delivery, warehouse.pickup_time),
        today=moment.date(),
    )
