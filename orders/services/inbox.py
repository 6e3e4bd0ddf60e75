"""我的消息: the shopper marks in-app messages read (notices are written by orders.notices)."""

from __future__ import annotations

from django.utils import timezone

from ..models import Notice


def mark_notices_read(*, user, notice_ids: list[int] | None = None) -> int:
    """Mark the shopper's unread messages read (all of them, or those listed).

    Only the shopper's own messages are touched, whatever ids are sent.
    Returns how many changed; running it twice changes nothing the second time.
    """
    notices = Notice.objects.filter(user=user, read_at__isnull=True)
    if notice_ids is not None:
        notices = notices.filter(pk__in=notice_ids)
    return notices.update(read_at=timezone.now())
