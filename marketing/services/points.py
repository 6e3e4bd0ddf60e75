"""Points (积分): an append-only ledger and a guarded balance.

- Every change is one PointsEntry, unique by (kind, key): the same order
  earns once, the same refund gives back once, a task run twice writes
  nothing the second time.
- The balance moves only in SQL with the condition inside the UPDATE
  (balance = balance + delta WHERE balance + delta >= 0), backed by a
  CheckConstraint: parallel spends can never take it below zero.
- Earned: when an order completes, MARKETING_POINTS_PER_YUAN points per yuan
  kept (paid minus refunded), rounded down.
- Spent at checkout: 100 points = ¥1 (marketing.rules), at most
  MARKETING_POINTS_MAX_SHARE of what is left to pay.
- Returned: an unpaid order cancelled gives back all it spent; a refund gives
  back the spent points of the refunded units (per line, exactly).
- Reversed: a refund after the points were earned takes back the earned
  points in proportion to the money refunded (never below a zero balance:
  what the shopper already spent is not clawed back).
- Expiry (the documented rule): points earned in a year expire at the end of
  the following year (Asia/Shanghai), first in first out: spending uses the
  oldest points first, so at a deadline what expires is what was earned
  before it minus everything spent, reversed and expired so far.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.money import to_money
from tuangou.timeutils import local_datetime, to_local

from ..models import PointsAccount, PointsEntry, PointsKind
from .coupons import MarketingError

K = PointsKind


class NotEnoughPoints(MarketingError):
    pass


def expiry_for(earned_at: datetime) -> datetime:
    """Points earned in year Y expire at the end of Y+1 (Shanghai)."""
    year = to_local(earned_at).year
    return local_datetime(date(year + 2, 1, 1), time(0, 0))


def balance_of(*, user) -> int:
    return PointsAccount.objects.filter(user=user).values_list("balance", flat=True).first() or 0


def _move(*, user, delta: int) -> int | None:
    """balance += delta if it stays >= 0; the new balance, or None. One statement."""
    table = PointsAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET balance = balance + %s, updated_at = %s "  # noqa: S608
            "WHERE user_id = %s AND balance + %s >= 0 RETURNING balance",
            [delta, timezone.now(), user.pk, delta],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def record(
    *,
    user,
    kind: str,
    delta: int,
    key: str,
    order_id: int | None = None,
    note: str = "",
    expires_at: datetime | None = None,
) -> PointsEntry | None:
    """One ledger entry and its balance change, exactly once per (kind, key).

    Returns None when the entry exists already (a second run). Raises
    NotEnoughPoints when a debit would take the balance below zero.
    """
    if delta == 0:
        return None
    with transaction.atomic():
        if delta > 0:
            PointsAccount.objects.get_or_create(user=user)
        if PointsEntry.objects.filter(kind=kind, key=key).exists():
            return None
        balance = _move(user=user, delta=delta)
        if balance is None:
            raise NotEnoughPoints(
                _("You do not have enough points (%(n)d available).")
                % {"n": balance_of(user=user)},
                code="points",
            )
        try:
            with transaction.atomic():
                return PointsEntry.objects.create(
                    user=user,
                    kind=kind,
                    delta=delta,
                    balance_after=balance,
                    order_id=order_id,
                    key=key[:64],
                    note=note[:100],
                    expires_at=expires_at,
                )
        except IntegrityError:
            # A parallel run wrote the same entry first: undo our move.
            _move(user=user, delta=-delta)
            return None


# --- with orders (called by orders' services) ------------------------------------------


def spend_points(*, user, points: int, order_id: int) -> PointsEntry | None:
    """Checkout: the order pays `points` (raises NotEnoughPoints, writes nothing)."""
    if points <= 0:
        return None
    return record(
        user=user, kind=K.SPENT, delta=-points, key=f"order:{order_id}", order_id=order_id
    )


def return_spent_points(*, user, order_id: int) -> PointsEntry | None:
    """An unpaid order was cancelled: everything it spent comes back."""
    spent = PointsEntry.objects.filter(kind=K.SPENT, key=f"order:{order_id}").first()
    if spent is None:
        return None
    return record(
        user=user,
        kind=K.RETURNED,
        delta=-spent.delta,
        key=f"order:{order_id}",
        order_id=order_id,
        note=_("Order cancelled"),
    )


def earn_for_order(
    *, user, order_id: int, kept_amount, now: datetime | None = None
) -> PointsEntry | None:
    """An order completed: points for what the shopper kept, once."""
    points = int(to_money(kept_amount) * Decimal(settings.MARKETING_POINTS_PER_YUAN))
    if points <= 0:
        return None
    now = now or timezone.now()
    return record(
        user=user,
        kind=K.EARNED,
        delta=points,
        key=f"order:{order_id}",
        order_id=order_id,
        note=_("Order completed"),
        expires_at=expiry_for(now),
    )


def points_after_refund(
    *,
    user,
    order_id: int,
    refund_id: int,
    spent_back: int,
    order_payable,
    refunded_total,
) -> list[PointsEntry]:
    """A refund: give back `spent_back` spent points (computed per line by the
    caller from the lines' points parts) and take back the earned points in
    proportion to the money refunded so far. Once per refund."""
    entries = []
    if spent_back > 0:
        entry = record(
            user=user,
            kind=K.RETURNED,
            delta=spent_back,
            key=f"refund:{refund_id}",
            order_id=order_id,
            note=_("Refund"),
        )
        if entry:
            entries.append(entry)
    earned = PointsEntry.objects.filter(kind=K.EARNED, key=f"order:{order_id}").first()
    payable = to_money(order_payable)
    if earned is not None and payable > 0:
        target = min(earned.delta, int(earned.delta * to_money(refunded_total) / payable))
        already = -(
            PointsEntry.objects.filter(kind=K.REVERSED, order_id=order_id).aggregate(
                n=Sum("delta")
            )["n"]
            or 0
        )
        take = min(target - already, balance_of(user=user))
        if take > 0:
            entry = record(
                user=user,
                kind=K.REVERSED,
                delta=-take,
                key=f"refund:{refund_id}",
                order_id=order_id,
                note=_("Refund"),
            )
            if entry:
                entries.append(entry)
    return entries


def adjust_points(*, user, delta: int, note: str, key: str) -> PointsEntry | None:
    """An operator's correction (admin), once per key."""
    return record(
        user=user,
        kind=K.ADJUSTED,
        delta=delta,
        key=key,
        note=note,
        expires_at=expiry_for(timezone.now()) if delta > 0 else None,
    )


# --- expiry -------------------------------------------------------------------------


def expiring_points(*, user_id: int, at: datetime) -> int:
    """FIFO: credits due by `at` minus every debit so far (spent net of
    returns, reversed, expired); what is left of them expires now."""
    sums = PointsEntry.objects.filter(user_id=user_id).aggregate(
        due=Sum("delta", filter=Q(delta__gt=0, expires_at__lte=at)),
        debits=Sum("delta", filter=Q(kind__in=[K.SPENT, K.REVERSED, K.EXPIRED])),
        returned=Sum("delta", filter=Q(kind=K.RETURNED)),
        adjusted_down=Sum("delta", filter=Q(kind=K.ADJUSTED, delta__lt=0)),
    )
    consumed = -(sums["debits"] or 0) - (sums["returned"] or 0) - (sums["adjusted_down"] or 0)
    return max(0, (sums["due"] or 0) - consumed)


def expire_points(*, now: datetime | None = None) -> int:
    """The beat task (daily): write EXPIRED entries for points past their
    deadline. Idempotent: the key is the shopper and the day."""
    now = now or timezone.now()
    day = to_local(now).date()
    user_ids = (
        PointsEntry.objects.filter(delta__gt=0, expires_at__lte=now)
        .values_list("user_id", flat=True)
        .distinct()
    )
    total = 0
    for user_id in user_ids:
        amount = min(
            expiring_points(user_id=user_id, at=now),
            PointsAccount.objects.filter(user_id=user_id).values_list("balance", flat=True).first()
            or 0,
        )
        if amount <= 0:
            continue
        from django.contrib.auth import get_user_model

        user = get_user_model()(pk=user_id)
        entry = record(
            user=user,
            kind=K.EXPIRED,
            delta=-amount,
            key=f"expire:{user_id}:{day:%Y%m%d}",
            note=_("Points expired"),
        )
        if entry:
            total += amount
    return total
