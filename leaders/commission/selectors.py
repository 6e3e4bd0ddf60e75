"""Reads of leader commission for pages, statements and checks. No writes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from tuangou.money import ZERO, MoneyField, to_money
from tuangou.timeutils import SHANGHAI, local_datetime, to_local

from .models import (
    CommissionAccount,
    CommissionEntry,
    EntryKind,
    Settlement,
    SettlementStatus,
    Withdrawal,
    WithdrawalStatus,
)
from .services import eligible_entries


def _sum(qs, expr="amount") -> Decimal:
    return to_money(qs.aggregate(s=Sum(expr))["s"] or ZERO)


# --- the leader's money ---------------------------------------------------------------


@dataclass
class MoneySummary:
    today: Decimal  # commission earned today, net of today's reversals (estimated)
    month: Decimal  # the same for this calendar month
    pending: Decimal  # unsettled, the goods not yet handed out
    frozen: Decimal  # unsettled, handed out: the after-sale window, or waiting for the night's run
    available: Decimal  # settled, not withdrawn nor being withdrawn
    reserved: Decimal  # being withdrawn (requested or approved)
    withdrawn: Decimal  # paid out


def money_summary(*, leader, now: datetime | None = None) -> MoneySummary:
    """The leader's numbers in one query (the leader desk shows them too)."""
    from django.db.models import OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from leaders.models import Leader

    now = now or timezone.now()
    local = to_local(now)
    day_start = local_datetime(local.date(), datetime.min.time())
    month_start = local_datetime(local.date().replace(day=1), datetime.min.time())
    line_open = (
        Q(order_line__isnull=False)
        & Q(
            order_line__quantity__gt=F("order_line__handed_out_quantity")
            + F("order_line__refunded_quantity")
        )
        & ~Q(kind=EntryKind.CLAWBACK)
    )
    estimated = ~Q(kind=EntryKind.ADJUSTMENT)

    def entries_sum(condition):
        return Coalesce(
            Subquery(
                CommissionEntry.objects.filter(condition, leader=OuterRef("pk"))
                .values("leader")
                .annotate(s=Sum("amount"))
                .values("s")[:1]
            ),
            Value(ZERO),
        )

    def account(field_name):
        return Coalesce(
            Subquery(
                CommissionAccount.objects.filter(leader=OuterRef("pk")).values(field_name)[:1]
            ),
            Value(ZERO),
        )

    row = (
        Leader.objects.filter(pk=leader.pk)
        .annotate(
            m_today=entries_sum(estimated & Q(occurred_at__gte=day_start)),
            m_month=entries_sum(estimated & Q(occurred_at__gte=month_start)),
            m_pending=entries_sum(Q(settlement__isnull=True) & line_open),
            m_frozen=entries_sum(Q(settlement__isnull=True) & ~line_open),
            m_settled=account("settled"),
            m_reserved=account("reserved"),
            m_withdrawn=account("withdrawn"),
        )
        .values(
            "m_today", "m_month", "m_pending", "m_frozen", "m_settled", "m_reserved", "m_withdrawn"
        )
        .get()
    )
    return MoneySummary(
        today=to_money(row["m_today"]),
        month=to_money(row["m_month"]),
        pending=to_money(row["m_pending"]),
        frozen=to_money(row["m_frozen"]),
        available=to_money(row["m_settled"] - row["m_reserved"] - row["m_withdrawn"]),
        reserved=to_money(row["m_reserved"]),
        withdrawn=to_money(row["m_withdrawn"]),
    )


def entry_state(entry: CommissionEntry, *, eligible_ids: set[int]) -> str:
    """settled / eligible / frozen / pending, for one entry on a page."""
    if entry.settlement_id:
        return "settled"
    if entry.pk in eligible_ids:
        return "eligible"
    line = entry.order_line
    if (
        line is not None
        and entry.kind != EntryKind.CLAWBACK
        and line.quantity > line.handed_out_quantity + line.refunded_quantity
    ):
        return "pending"
    return "frozen"


def entries_for_leader(*, leader):
    return (
        CommissionEntry.objects.filter(leader=leader)
        .select_related("order", "order_line", "settlement")
        .order_by("-occurred_at", "-pk")
    )


def eligible_ids_for(*, leader, ids) -> set[int]:
    return set(
        eligible_entries().filter(leader=leader, pk__in=list(ids)).values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class DayAmount:
    day: date
    amount: Decimal


def daily_commission(*, leader, days: int = 30, now: datetime | None = None) -> list[DayAmount]:
    """Net commission per Shanghai day, the last `days` days, oldest first
    (every day present, 0.00 when nothing happened)."""
    now = now or timezone.now()
    today = to_local(now).date()
    first = today - timedelta(days=days - 1)
    rows = (
        CommissionEntry.objects.filter(
            leader=leader,
            occurred_at__gte=local_datetime(first, datetime.min.time()),
        )
        .exclude(kind=EntryKind.ADJUSTMENT)
        .annotate(day=TruncDate("occurred_at", tzinfo=SHANGHAI))
        .values("day")
        .annotate(total=Sum("amount"))
    )
    by_day = {row["day"]: to_money(row["total"]) for row in rows}
    return [
        DayAmount(day=day, amount=by_day.get(day, ZERO))
        for day in (first + timedelta(days=i) for i in range(days))
    ]


def statements_for_leader(*, leader):
    return (
        Settlement.objects.filter(leader=leader, status=SettlementStatus.CLOSED)
        .exclude(statement="")
        .order_by("-period_start")
    )


def statement_for_leader(*, leader, code: str) -> Settlement | None:
    """A leader's own statement by its code; another leader's code is never found."""
    return (
        Settlement.objects.filter(leader=leader, code=code, status=SettlementStatus.CLOSED)
        .select_related("leader")
        .first()
    )


def withdrawals_for_leader(*, leader):
    return Withdrawal.objects.filter(leader=leader).order_by("-requested_at", "-pk")


# --- statements ---------------------------------------------------------------------------


@dataclass
class Statement:
    settlement: Settlement
    leader: object
    period_start: date
    period_end: date
    earned: list[CommissionEntry] = field(default_factory=list)
    deductions: list[CommissionEntry] = field(default_factory=list)
    adjustments: list[CommissionEntry] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    earned_total: Decimal = ZERO
    deducted_total: Decimal = ZERO
    adjustment_total: Decimal = ZERO
    net_total: Decimal = ZERO
    withdrawn_total: Decimal = ZERO
    brought_forward: Decimal = ZERO
    carried_forward: Decimal = ZERO
    verification_code: str = ""
    platform: dict = field(default_factory=dict)


def _paid_before(leader, day: date) -> Decimal:
    return _sum(
        Withdrawal.objects.filter(
            leader=leader,
            status=WithdrawalStatus.PAID,
            paid_at__lt=local_datetime(day, datetime.min.time()),
        )
    )


def statement_for(*, settlement: Settlement) -> Statement:
    """Everything a statement shows, computed from the ledger (never from the
    settlement's running totals, which tests compare against it).

    Balance (what the platform owes the leader) brought forward = commission
    settled in earlier periods − withdrawals paid before the period; carried
    = brought forward + this period's net − withdrawals paid in the period.
    """
    leader = settlement.leader
    entries = list(
        CommissionEntry.objects.filter(settlement=settlement)
        .select_related("order")
        .order_by("occurred_at", "pk")
    )
    earlier = _sum(
        CommissionEntry.objects.filter(
            leader=leader, settlement__period_start__lt=settlement.period_start
        )
    )
    day_after = settlement.period_end + timedelta(days=1)
    withdrawals = list(
        Withdrawal.objects.filter(
            leader=leader,
            status=WithdrawalStatus.PAID,
            paid_at__gte=local_datetime(settlement.period_start, datetime.min.time()),
            paid_at__lt=local_datetime(day_after, datetime.min.time()),
        ).order_by("paid_at", "pk")
    )
    s = Statement(
        settlement=settlement,
        leader=leader,
        period_start=settlement.period_start,
        period_end=settlement.period_end,
        earned=[e for e in entries if e.kind == EntryKind.EARNED],
        deductions=[e for e in entries if e.kind in {EntryKind.REVERSAL, EntryKind.CLAWBACK}],
        adjustments=[e for e in entries if e.kind == EntryKind.ADJUSTMENT],
        withdrawals=withdrawals,
    )
    s.earned_total = to_money(sum((e.amount for e in s.earned), ZERO))
    s.deducted_total = to_money(sum((e.amount for e in s.deductions), ZERO))
    s.adjustment_total = to_money(sum((e.amount for e in s.adjustments), ZERO))
    s.net_total = s.earned_total + s.deducted_total + s.adjustment_total
    s.withdrawn_total = to_money(sum((w.amount for w in withdrawals), ZERO))
    s.brought_forward = earlier - _paid_before(leader, settlement.period_start)
    s.carried_forward = s.brought_forward + s.net_total - s.withdrawn_total
    s.verification_code = verification_code(s)
    s.platform = platform_details()
    return s


def verification_code(s: Statement) -> str:
    """A keyed digest of what the statement says: the same ledger gives the
    same code; finance can recompute it to check a printed statement."""
    message = "|".join(
        str(v)
        for v in (
            s.settlement.code,
            s.leader.pk,
            s.period_start,
            s.period_end,
            s.earned_total,
            s.deducted_total,
            s.adjustment_total,
            s.net_total,
            s.withdrawn_total,
            s.brought_forward,
            s.carried_forward,
            len(s.earned) + len(s.deductions) + len(s.adjustments),
        )
    )
    digest = hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()
    code = digest[:16].upper()
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def platform_details() -> dict:
    return getattr(
        settings,
        "COMMISSION_STATEMENT_ISSUER",
        {
            "name": "邻里团购（长沙）科技有限公司",
            "address": "湖南省长沙市岳麓区麓谷大道627号",
            "phone": "400-800-1234",
        },
    )


# --- finance ------------------------------------------------------------------------------


def settlement_periods():
    """Periods with settlements, newest first, with their totals."""
    return (
        Settlement.objects.values("period_kind", "period_start", "period_end")
        .annotate(
            leaders=Count("pk"),
            net=Sum("net_total"),
            closed=Count("pk", filter=Q(status=SettlementStatus.CLOSED)),
        )
        .order_by("-period_start")
    )


def settlements_in_period(*, period_start: date):
    return (
        Settlement.objects.filter(period_start=period_start)
        .select_related("leader")
        .order_by("leader__real_name", "pk")
    )


def settlement_by_code(*, code: str) -> Settlement | None:
    return Settlement.objects.filter(code=code).select_related("leader").first()


def withdrawals_for_finance(*, status: str | None = None):
    qs = Withdrawal.objects.select_related("leader", "batch", "decided_by", "paid_by")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("requested_at", "pk")


@dataclass(frozen=True)
class AccountMismatch:
    """A CommissionAccount counter that does not equal what the ledger says."""

    leader_id: int
    leader_name: str
    field: str  # "settled", "reserved" or "withdrawn"
    counter: Decimal  # what the account row says (withdrawals reserve from it)
    ledger: Decimal  # what the entries and withdrawals add up to

    @property
    def difference(self) -> Decimal:
        return self.counter - self.ledger


ACCOUNT_FIELDS = ("settled", "reserved", "withdrawn")


def account_mismatches() -> list[AccountMismatch]:
    """Every account whose counters differ from ledger_balance; one query.

    The available balance (what withdrawals may take) comes from the
    counters, so finance must see at once when one drifted from the ledger.
    """

    def total(qs):
        return Coalesce(
            Subquery(
                qs.filter(leader=OuterRef("leader"))
                .order_by()
                .values("leader")
                .annotate(s=Sum("amount"))
                .values("s")
            ),
            Value(ZERO),
            output_field=MoneyField(),
        )

    open_statuses = [WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED]
    rows = (
        CommissionAccount.objects.select_related("leader")
        .annotate(
            ledger_settled=total(CommissionEntry.objects.filter(settlement__isnull=False)),
            ledger_reserved=total(Withdrawal.objects.filter(status__in=open_statuses)),
            ledger_withdrawn=total(Withdrawal.objects.filter(status=WithdrawalStatus.PAID)),
        )
        .filter(
            ~Q(settled=F("ledger_settled"))
            | ~Q(reserved=F("ledger_reserved"))
            | ~Q(withdrawn=F("ledger_withdrawn"))
        )
        .order_by("leader_id")
    )
    return [
        AccountMismatch(
            leader_id=account.leader_id,
            leader_name=account.leader.real_name,
            field=name,
            counter=to_money(getattr(account, name)),
            ledger=to_money(getattr(account, f"ledger_{name}")),
        )
        for account in rows
        for name in ACCOUNT_FIELDS
        if getattr(account, name) != getattr(account, f"ledger_{name}")
    ]


def ledger_balance(*, leader) -> dict[str, Decimal]:
    """The account's numbers recomputed from the ledger and the withdrawals
    (for checks and tests: they must equal CommissionAccount)."""
    settled = _sum(CommissionEntry.objects.filter(leader=leader, settlement__isnull=False))
    reserved = _sum(
        Withdrawal.objects.filter(
            leader=leader, status__in=[WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED]
        )
    )
    withdrawn = _sum(Withdrawal.objects.filter(leader=leader, status=WithdrawalStatus.PAID))
    return {
        "settled": settled,
        "reserved": reserved,
        "withdrawn": withdrawn,
        "available": settled - reserved - withdrawn,
    }
