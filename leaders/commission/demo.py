"""Commission demo data: entries for the demo orders, a month of nightly
settlement runs (so last period is closed, with its PDF statements), an
operator's adjustment, a paid withdrawal and one waiting for finance.

Call `seed_commission_demo(stdout=...)` after orders' demo (the entries come
from confirming its orders, through orders' hook). Idempotent: it does
nothing when demo settlements exist.

Like orders' demo, history is moved back after the fact: an entry is dated
when its order was confirmed (or its refund made), and the nightly job is run
for each of the last 30 nights that have come (02:00) with that night as
"now" (no time travel); seeded before 02:00, tonight's run has not happened.

The README's leader (王丽, user "leader") ends with at least
DEMO_AVAILABLE to withdraw, whatever her orders earned: an approved
adjustment tops her up, so a newcomer can always try a withdrawal.
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from tuangou.accounts.models import User
from tuangou.money import to_money
from tuangou.timeutils import local_datetime, local_today

from . import services
from .models import CommissionEntry, EntryKind, Settlement, SettlementStatus, Withdrawal

HISTORY_DAYS = 30
ADJUSTMENT_REASON = "演示：新团长拉新奖励"
TOP_UP_REASON = "演示：社区团购月度活动奖励"
DEMO_LEADER = "leader"  # username of the README's leader, 王丽
DEMO_AVAILABLE = Decimal("50.00")  # what she can still withdraw after the demo's withdrawals
SETTLE_AT = time(2, 0)  # the nightly settlement run
CLOSE_AT = time(2, 30)


def seed_commission_demo(*, stdout) -> None:
    from django.apps import apps

    if Settlement.objects.exists():
        stdout.write("    commission: settlements exist, nothing to do")
        return
    Order = apps.get_model("orders", "Order")
    Refund = apps.get_model("orders", "Refund")
    # Orders confirmed before the hook existed (or by a demo that skipped it).
    confirmed = Order.objects.filter(confirmed_at__isnull=False)
    services.earn_commission(orders=list(confirmed.only("pk")))
    # Date each entry when it happened.
    CommissionEntry.objects.filter(kind=EntryKind.EARNED, order__isnull=False).update(
        occurred_at=Subquery(
            Order.objects.filter(pk=OuterRef("order_id")).values("confirmed_at")[:1]
        )
    )
    CommissionEntry.objects.filter(refund_line__isnull=False).update(
        occurred_at=Subquery(
            Refund.objects.filter(lines=OuterRef("refund_line")).values("created_at")[:1]
        )
    )
    if not CommissionEntry.objects.exists():
        stdout.write("    commission: no confirmed orders yet (run after orders' demo), skipped")
        return

    today = local_today()
    first_day = today - timedelta(days=HISTORY_DAYS)
    operator = User.objects.filter(username="operator").first()
    finance = User.objects.filter(username="finance").first()
    demo_leader = (
        CommissionEntry.objects.filter(leader__user__username=DEMO_LEADER)
        .values_list("leader_id", flat=True)
        .first()
        or CommissionEntry.objects.order_by("leader_id").values_list("leader_id", flat=True).first()
    )
    if operator is not None:
        entry = services.add_adjustment(
            leader=_leader(demo_leader),
            amount=Decimal("8.00"),
            reason=ADJUSTMENT_REASON,
            entered_by=operator,
            approved_by=operator,
        )
        CommissionEntry.objects.filter(pk=entry.pk).update(
            occurred_at=local_datetime(first_day + timedelta(days=1), time(10, 0))
        )

    # The nightly job, night after night: settle at 02:00, close at 02:30;
    # tonight's only if it has come.
    now = timezone.now()
    statements = []
    last_run = None
    for offset in range(HISTORY_DAYS, -1, -1):
        night = today - timedelta(days=offset)
        run_at = local_datetime(night, SETTLE_AT)
        if run_at > now:
            break
        last_run = run_at
        settled = services.settle_commissions(now=run_at)
        closed = services.close_ended_periods(today=night, enqueue=False)
        statements += closed
        if settled or closed:
            Settlement.objects.filter(pk__in=[s.pk for s in closed]).update(
                closed_at=min(local_datetime(night, CLOSE_AT), now)
            )
    for settlement in statements:
        services.generate_statement(settlement_id=settlement.pk)

    if finance is not None and not Withdrawal.objects.exists():
        _withdrawals(leader_id=demo_leader, finance=finance, stdout=stdout)
    if operator is not None and last_run is not None:
        _top_up(leader_id=demo_leader, operator=operator, settle_at=last_run)
    stdout.write(
        f"    commission: {CommissionEntry.objects.count()} entries, "
        f"{Settlement.objects.filter(status=SettlementStatus.CLOSED).count()} closed settlements "
        f"with statements, {Withdrawal.objects.count()} withdrawals"
    )


def _leader(leader_id):
    from leaders.models import Leader

    return Leader.objects.get(pk=leader_id)


def _top_up(*, leader_id, operator, settle_at) -> None:
    """An approved bonus, settled in the last nightly run, so that the demo
    leader has DEMO_AVAILABLE to withdraw however much her orders earned."""
    from .models import CommissionAccount

    account = CommissionAccount.objects.filter(leader_id=leader_id).first()
    available = account.available if account is not None else Decimal("0.00")
    if available >= DEMO_AVAILABLE:
        return
    entry = services.add_adjustment(
        leader=_leader(leader_id),
        amount=DEMO_AVAILABLE - available,
        reason=TOP_UP_REASON,
        entered_by=operator,
        approved_by=operator,
    )
    # Granted the evening before the run that settles it.
    CommissionEntry.objects.filter(pk=entry.pk).update(occurred_at=settle_at - timedelta(hours=4))
    services.settle_commissions(now=settle_at)


def _withdrawals(*, leader_id, finance, stdout) -> None:
    """One paid withdrawal (half of what is available) and one waiting."""
    from .models import CommissionAccount

    leader = _leader(leader_id)
    account = CommissionAccount.objects.filter(leader=leader).first()
    minimum = services.withdrawal_minimum()
    if account is None or account.available < 2 * minimum:
        stdout.write("    commission: too little available for demo withdrawals")
        return
    details = {
        "method": "bank",
        "account_name": leader.real_name,
        "bank_name": "长沙银行岳麓支行",
        "account_number": "6214830000012345",
    }
    half = to_money(max(minimum, (account.available / 2).quantize(Decimal("1"))))
    paid = services.request_withdrawal(leader=leader, amount=half, **details)
    services.approve_withdrawal(withdrawal=paid, actor=finance)
    services.mark_withdrawal_paid(withdrawal=paid, actor=finance, reference="CSYH-DEMO-0001")
    account.refresh_from_db()
    if account.available >= minimum:
        services.request_withdrawal(leader=leader, amount=minimum, **details)
