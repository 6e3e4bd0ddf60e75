"""Orders' answers to marketing's segments (marketing/segments.py), registered
from OrdersConfig.ready(): marketing sits below orders and cannot read them.

"Shoppers inactive for N days" (SegmentKind.INACTIVE, job.inactive_days):
an active, non-staff account with no paid order (paid_at set, whatever
happened to the order since, refunds included) at or after now − N days, and
which either has paid an order before, or never ordered and signed up
(date_joined) before now − N days. A shopper who joined within the N days and
has not ordered yet is new, not inactive. Unpaid orders (never paid,
cancelled or expired) are not activity.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q

from .models import Order

INACTIVE_DEFAULT_DAYS = 30


def inactive_shopper_ids(*, days: int, now: datetime) -> list[int]:
    """Ids of the shoppers inactive for `days` days at `now` (rule above), in pk order."""
    since = now - timedelta(days=days)
    paid = Order.objects.filter(user=OuterRef("pk"), paid_at__isnull=False)
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=False)
        .filter(~Exists(paid.filter(paid_at__gte=since)))
        .filter(Q(Exists(paid)) | Q(date_joined__lt=since))
    )
    return list(users.order_by("pk").values_list("pk", flat=True))


def inactive_segment(*, job, now: datetime) -> list[int]:
    """marketing's resolver for SegmentKind.INACTIVE."""
    return inactive_shopper_ids(days=job.inactive_days or INACTIVE_DEFAULT_DAYS, now=now)


def register_segments() -> None:
    from marketing import segments
    from marketing.models import SegmentKind

    segments.register(SegmentKind.INACTIVE, inactive_segment)
