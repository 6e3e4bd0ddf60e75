"""Every write of leader commission: earning, reversing, adjusting, settling,
closing periods and withdrawals. Each function is one state change with its
own transaction; the ones orders calls run inside orders' transaction.

Exactly-once is held by the database, not by care: one earned entry per
order line and one entry per refund line (unique indexes), a settlement
pointer set only from NULL (compare-and-set under row locks),
withdrawal moves as conditional UPDATEs on the current status, and money
reserved with `UPDATE … WHERE settled − reserved − withdrawn >= amount`.
"""

from __future__ import annotations

import calendar
import logging
import secrets
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from tuangou.money import ZERO, format_yuan, to_money
from tuangou.outbox import publish_on_commit
from tuangou.timeutils import after_sale_deadline, local_datetime, to_local

from .models import (
    PAYOUT_BATCH_TRANSITIONS,
    WITHDRAWAL_TRANSITIONS,
    CommissionAccount,
    CommissionEntry,
    EntryKind,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutMethod,
    PeriodKind,
    RuleKind,
    Settlement,
    SettlementStatus,
    Withdrawal,
    WithdrawalStatus,
)
from .rules import RuleBook, commission_for, split_fixed

logger = logging.getLogger("tuangou.commission")

SETTLE_BATCH_SIZE = 500


class CommissionError(Exception):
    """A refused withdrawal or adjustment: the message is for the person asking."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- configuration ----------------------------------------------------------------


# window_open_since searches this far back; the after-sale window is days long.
MAX_WINDOW_DAYS = 400


def period_kind() -> str:
    value = getattr(settings, "COMMISSION_PERIOD", PeriodKind.MONTHLY)
    if value not in PeriodKind.values:
        raise ValueError(f"COMMISSION_PERIOD must be one of {PeriodKind.values}, not {value!r}")
    return value


def withdrawal_minimum() -> Decimal:
    return to_money(getattr(settings, "WITHDRAWAL_MIN_AMOUNT", "10.00"))


def period_for(day: date, kind: str | None = None) -> tuple[date, date]:
    """The settlement period (first and last day) that contains `day`."""
    kind = kind or period_kind()
    if kind == PeriodKind.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


# --- earning ----------------------------------------------------------------------


def earn_commission(*, orders) -> list[CommissionEntry]:
    """Orders were confirmed: each of their lines earns its leader commission.

    Called by orders' confirm_orders inside its transaction. The leader is
    the one running the order's pickup point now; the rule is the one in
    force now, snapshotted on the entry. Called twice for the same order, the
    second call adds nothing (one earned entry per line, a unique index).
    """
    from django.apps import apps

    order_ids = sorted({o.pk for o in orders})
    if not order_ids:
        return []
    OrderLine = apps.get_model("orders", "OrderLine")
    now = timezone.now()
    book = RuleBook(now)
    lines = list(
        OrderLine.objects.filter(order_id__in=order_ids)
        .select_related("order__pickup_point__leader", "sku__product__category")
        .order_by("order_id", "pk")
    )
    entries: list[CommissionEntry] = []
    per_order_groups: dict[tuple[int, int], list[tuple[OrderLine, object]]] = defaultdict(list)
    for line in lines:
        leader = line.order.pickup_point.leader
        product = line.sku.product
        terms = book.terms_for(
            leader=leader,
            product_id=product.pk,
            category_id=product.category_id,
            parent_id=product.category.parent_id,
        )
        if terms.kind == RuleKind.PER_ORDER:
            per_order_groups[(line.order_id, terms.rule.pk)].append((line, terms))
            continue
        entries.append(
            _earned(
                line,
                leader,
                terms,
                commission_for(terms=terms, base=line.payable, quantity=line.quantity),
                now,
            )
        )
    for group in per_order_groups.values():
        terms = group[0][1]
        parts = split_fixed(terms.amount, [line.payable for line, _t in group])
        for (line, _t), part in zip(group, parts, strict=True):
            entries.append(_earned(line, line.order.pickup_point.leader, terms, part, now))
    CommissionEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return entries


def _earned(line, leader, terms, amount: Decimal, now: datetime) -> CommissionEntry:
    return CommissionEntry(
        leader=leader,
        kind=EntryKind.EARNED,
        order_id=line.order_id,
        order_line=line,
        product_name=f"{line.product_name} {line.spec}".strip()[:80],
        quantity=line.quantity,
        base=line.payable,
        rule=terms.rule,
        rule_kind=terms.kind,
        rate=terms.rate if terms.kind == RuleKind.RATE else None,
        amount=amount,
        occurred_at=now,
    )


# --- reversing --------------------------------------------------------------------


def reverse_commission_for_refund(*, refund) -> list[CommissionEntry]:
    """Lines were refunded: take back the commission they earned, exactly once
    per refund line (a unique index).

    Before the earned entry is settled the reversal cancels it (they settle
    together, net); after, it is a clawback, a negative entry the next
    settlement deducts. The amount is proportional to the money refunded, to
    the fen, computed on the running total so that several partial refunds
    never take back more (or less) than the line earned: when the whole line
    is refunded, exactly what is left of its commission is taken back.
    """
    from django.apps import apps

    RefundLine = apps.get_model("orders", "RefundLine")
    refund_lines = list(
        RefundLine.objects.filter(refund_id=refund.pk).select_related("order_line").order_by("pk")
    )
    made: list[CommissionEntry] = []
    now = timezone.now()
    for refund_line in refund_lines:
        line = refund_line.order_line
        earned = (
            CommissionEntry.objects.select_for_update()
            .filter(order_line=line, kind=EntryKind.EARNED)
            .first()
        )
        if earned is None or earned.amount == ZERO:
            continue  # never confirmed (e.g. a failed group), or nothing earned
        if CommissionEntry.objects.filter(refund_line=refund_line).exists():
            continue
        taken = (
            CommissionEntry.objects.filter(reverses=earned).aggregate(s=Sum("amount"))["s"] or ZERO
        )
        refunded_so_far = (
            RefundLine.objects.filter(order_line=line, pk__lte=refund_line.pk).aggregate(
                s=Sum("amount")
            )["s"]
            or ZERO
        )
        if earned.base <= 0 or refunded_so_far >= earned.base:
            target = earned.amount
        else:
            target = to_money(earned.amount * refunded_so_far / earned.base)
        amount = -(target - (-taken))
        if amount >= 0:
            continue
        made.append(
            CommissionEntry(
                leader_id=earned.leader_id,
                kind=EntryKind.REVERSAL if earned.settlement_id is None else EntryKind.CLAWBACK,
                order_id=earned.order_id,
                order_line=line,
                refund_line=refund_line,
                reverses=earned,
                product_name=earned.product_name,
                quantity=-refund_line.quantity,
                base=-refund_line.amount,
                rule=earned.rule,
                rule_kind=earned.rule_kind,
                rate=earned.rate,
                amount=amount,
                occurred_at=now,
            )
        )
    CommissionEntry.objects.bulk_create(made, ignore_conflicts=True)
    return made


# --- adjustments ------------------------------------------------------------------


def add_adjustment(
    *, leader, amount: Decimal, reason: str, entered_by, approved_by
) -> CommissionEntry:
    """An operator's correction: any sign, a reason, and who approved it."""
    reason = (reason or "").strip()
    if not reason:
        raise CommissionError(_("Give the reason for the adjustment."))
    if approved_by is None:
        raise CommissionError(_("An adjustment needs the person who approved it."))
    if not approved_by.has_perm("leaders.add_commissionentry"):
        raise PermissionDenied("the approver may not adjust commission")
    amount = to_money(amount)
    if amount == ZERO:
        raise CommissionError(_("An adjustment of zero changes nothing."))
    with transaction.atomic():
        return CommissionEntry.objects.create(
            leader=leader,
            kind=EntryKind.ADJUSTMENT,
            amount=amount,
            reason=reason[:200],
            created_by=entered_by,
            approved_by=approved_by,
            occurred_at=timezone.now(),
        )


# --- settlement -------------------------------------------------------------------


def eligible_entries(*, now: datetime | None = None):
    """Unsettled entries that were eligible at `now` (derived, never stored).

    Everything is judged as it stood at `now`, from the dated facts (the
    entry's own date, hand-outs, refunds, claims, the order's completion),
    so a run for a past moment (late, a rerun, the demo's history) settles
    exactly what was eligible then, never what became eligible afterwards:

    - an adjustment or a clawback once it exists (occurred_at <= now);
    - an order line's entries (earned and their reversals) once they exist
      and nothing of the line was left to hand out at `now` (hand-outs plus
      refunds made by then cover it), no after-sale claim of the order was
      open at `now` (nor is open today), and either nothing of the line had
      been handed out (all refunded) or the order's after-sale window had
      ended: the same rule as claims (`tuangou.timeutils.after_sale_deadline`
      from `order.completed_at`).

    `eligible_since()` gives the moment each one became eligible.
    """
    from django.apps import apps
    from django.db.models import Exists, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    Handout = apps.get_model("orders", "Handout")
    RefundLine = apps.get_model("orders", "RefundLine")
    AfterSaleClaim = apps.get_model("orders", "AfterSaleClaim")
    now = now or timezone.now()

    def line_sum(rows):
        return Coalesce(
            Subquery(
                rows.filter(order_line=OuterRef("order_line"))
                .values("order_line")
                .annotate(s=Sum("quantity"))
                .values("s")[:1]
            ),
            Value(0),
        )

    claims = AfterSaleClaim.objects.filter(order=OuterRef("order"))
    standalone = Q(order_line__isnull=True) | Q(kind=EntryKind.CLAWBACK)
    return (
        CommissionEntry.objects.filter(settlement__isnull=True, occurred_at__lte=now)
        .annotate(
            handed_then=line_sum(Handout.objects.filter(created_at__lte=now)),
            refunded_then=line_sum(RefundLine.objects.filter(refund__created_at__lte=now)),
            claim_open_then=Exists(
                claims.filter(created_at__lte=now).filter(Q(status="open") | Q(reviewed_at__gt=now))
            ),
            claim_open_now=Exists(claims.filter(status="open")),
        )
        .filter(
            standalone
            | (
                Q(order_line__quantity__lte=F("handed_then") + F("refunded_then"))
                & Q(claim_open_then=False, claim_open_now=False)
                & (Q(handed_then__lte=0) | Q(order__completed_at__lt=window_open_since(now=now)))
            )
        )
    )


def eligible_since(entries: list[CommissionEntry], *, now: datetime) -> dict[int, datetime]:
    """The moment each entry (eligible at `now`) became eligible: its period.

    - an adjustment or a clawback: when it was made (occurred_at);
    - an order line's entry: the latest of its own date, the moment nothing
      of the line was left to hand out (the hand-out or refund that covered
      the last unit), the end of the order's after-sale window when anything
      was handed out, and the review of any claim open at that moment.

    Three queries for the whole list (hand-outs, refunds, claims); never
    later than `now`.
    """
    from django.apps import apps

    Handout = apps.get_model("orders", "Handout")
    RefundLine = apps.get_model("orders", "RefundLine")
    OrderLine = apps.get_model("orders", "OrderLine")
    AfterSaleClaim = apps.get_model("orders", "AfterSaleClaim")
    line_ids = {
        e.order_line_id for e in entries if e.order_line_id and e.kind != EntryKind.CLAWBACK
    }
    events: dict[int, list[tuple[datetime, int, bool]]] = defaultdict(list)
    for line_id, at, quantity in Handout.objects.filter(
        order_line_id__in=line_ids, created_at__lte=now
    ).values_list("order_line_id", "created_at", "quantity"):
        events[line_id].append((at, quantity, True))
    for line_id, at, quantity in RefundLine.objects.filter(
        order_line_id__in=line_ids, refund__created_at__lte=now
    ).values_list("order_line_id", "refund__created_at", "quantity"):
        events[line_id].append((at, quantity, False))
    lines = {
        row[0]: row[1:]
        for row in OrderLine.objects.filter(pk__in=line_ids).values_list(
            "pk", "quantity", "order_id", "order__completed_at"
        )
    }
    claims: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for order_id, created, reviewed in (
        AfterSaleClaim.objects.filter(order_id__in={v[1] for v in lines.values()})
        .order_by("created_at")
        .values_list("order_id", "created_at", "reviewed_at")
    ):
        claims[order_id].append((created, reviewed))

    since: dict[int, datetime] = {}
    for entry in entries:
        moment = entry.occurred_at
        if entry.order_line_id in line_ids and entry.order_line_id in lines:
            quantity, order_id, completed_at = lines[entry.order_line_id]
            moment = max(
                moment,
                _line_eligible_at(
                    quantity=quantity,
                    events=events[entry.order_line_id],
                    completed_at=completed_at,
                    claims=claims[order_id],
                    now=now,
                ),
            )
        since[entry.pk] = min(moment, now)
    return since


def _line_eligible_at(*, quantity, events, completed_at, claims, now) -> datetime:
    done_at: datetime | None = None
    covered = handed = 0
    # Hand-outs (an undo is a negative one) and refunds in time order: the
    # line is done from the event that covered its last unit, as long as it
    # stays covered.
    for at, units, is_handout in sorted(events, key=lambda e: e[0]):
        covered += units
        handed += units if is_handout else 0
        done_at = (done_at or at) if covered >= quantity else None
    moment = done_at or now
    if handed > 0 and completed_at is not None:
        moment = max(moment, after_sale_deadline(completed_at=completed_at))
    # A claim open at that moment holds it until it was reviewed.
    for created, reviewed in claims:
        if created <= moment and (reviewed is None or reviewed > moment):
            moment = max(moment, reviewed or now)
    return moment


def window_open_since(*, now: datetime) -> datetime:
    """The earliest completion whose after-sale window is still open at `now`.

    Orders completed before it are out of the window. Found by bisection over
    `after_sale_deadline` (a later completion never has an earlier deadline),
    so the one rule stays in tuangou.timeutils and SQL can still filter on it.
    """
    low, high = now - timedelta(days=MAX_WINDOW_DAYS), now
    if after_sale_deadline(completed_at=low) > now:
        return low
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if after_sale_deadline(completed_at=middle) <= now:
            low = middle
        else:
            high = middle
    return high


def _after_batch(settled_so_far: int) -> None:
    """A seam for tests: called inside each batch's transaction before it commits."""


def settle_commissions(*, now: datetime | None = None, batch_size: int = SETTLE_BATCH_SIZE) -> int:
    """Move every entry eligible at `now` into its leader's settlement for the
    period in which it became eligible. Returns how many entries this run
    settled.

    A period's settlement therefore holds exactly the entries that became
    eligible within it, whenever the job runs: a late run (or one for a past
    moment, as the demo's history does) leaves what became eligible after
    `now` for the next one, and puts what became eligible before the current
    period into the earlier period's settlement. Only if that settlement was
    already closed (its statement made) does the entry go into the next
    period still open; its "settled on" date is then that period's first day.

    Batches of entries, one transaction each: the batch's rows are locked
    in pk order (a second run waits for them, then finds them settled and
    stops), set from settlement NULL to the settlement (compare-and-set), and
    the settlement's and account's totals grow in the same transaction. A
    worker killed halfway loses only its open batch; a rerun takes what is
    left. Never SKIP LOCKED: the holder may be the database session of a
    worker killed mid-batch, which keeps its locks until PostgreSQL notices
    the client is gone (client_connection_check_interval), and a run that
    skipped them would acknowledge the job with the entries unsettled.
    """
    now = now or timezone.now()
    kind = period_kind()
    done = 0
    while True:
        ids = list(
            eligible_entries(now=now).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            locked = list(
                CommissionEntry.objects.select_for_update(of=("self",))
                .filter(pk__in=ids, settlement__isnull=True)
                .order_by("pk")
                .only("pk", "leader_id", "kind", "amount", "occurred_at", "order_line_id")
            )
            if not locked:
                break  # another run settled these while we waited
            since = eligible_since(locked, now=now)
            by_period: dict[tuple[int, date], list[CommissionEntry]] = defaultdict(list)
            for entry in locked:
                start, _end = period_for(to_local(since[entry.pk]).date(), kind)
                by_period[(entry.leader_id, start)].append(entry)
            # Settlement rows are locked in (leader, period) order: no deadlock
            # between workers, and none with close_ended_periods.
            for leader_id, start in sorted(by_period):
                entries = by_period[(leader_id, start)]
                settlement = _open_settlement(leader_id=leader_id, day=start, kind=kind)
                opens = local_datetime(settlement.period_start, time(0, 0))
                # One UPDATE per distinct date (most entries of a night share
                # the midnight their window ended).
                by_moment: dict[datetime, list[int]] = defaultdict(list)
                for entry in entries:
                    by_moment[max(since[entry.pk], opens)].append(entry.pk)
                moved = sum(
                    CommissionEntry.objects.filter(pk__in=pks, settlement__isnull=True).update(
                        settlement=settlement, settled_at=moment
                    )
                    for moment, pks in sorted(by_moment.items())
                )
                if moved != len(entries):  # impossible under our locks; refuse to miscount
                    raise RuntimeError("settlement lost a race it should not have")
                _add_to_totals(settlement=settlement, leader_id=leader_id, entries=entries)
                done += len(entries)
            _after_batch(done)
    if done:
        logger.info("settled %d commission entries", done)
    return done


def _open_settlement(*, leader_id: int, day: date, kind: str) -> Settlement:
    """The leader's open settlement for the period of `day`, locked; the next
    period's when that one is already closed (its statement is final)."""
    while True:
        start, end = period_for(day, kind)
        Settlement.objects.get_or_create(
            leader_id=leader_id,
            period_start=start,
            defaults={"period_end": end, "period_kind": kind},
        )
        settlement = Settlement.objects.select_for_update().get(
            leader_id=leader_id, period_start=start
        )
        if settlement.status == SettlementStatus.OPEN:
            return settlement
        day = settlement.period_end + timedelta(days=1)


def _add_to_totals(
    *, settlement: Settlement, leader_id: int, entries: list[CommissionEntry]
) -> None:
    earned = sum((e.amount for e in entries if e.kind == EntryKind.EARNED), ZERO)
    deducted = sum(
        (e.amount for e in entries if e.kind in {EntryKind.REVERSAL, EntryKind.CLAWBACK}), ZERO
    )
    adjusted = sum((e.amount for e in entries if e.kind == EntryKind.ADJUSTMENT), ZERO)
    net = earned + deducted + adjusted
    Settlement.objects.filter(pk=settlement.pk).update(
        entry_count=F("entry_count") + len(entries),
        earned_total=F("earned_total") + earned,
        deducted_total=F("deducted_total") + deducted,
        adjustment_total=F("adjustment_total") + adjusted,
        net_total=F("net_total") + net,
    )
    account = _account(leader_id)
    CommissionAccount.objects.filter(pk=account.pk).update(settled=F("settled") + net)


def _account(leader_id: int) -> CommissionAccount:
    account, _created = CommissionAccount.objects.get_or_create(leader_id=leader_id)
    return account


def reconcile_commission_accounts() -> list:
    """Compare every CommissionAccount with its ledger; log each mismatch.

    Withdrawals reserve from the account's counters, so a counter that
    drifted from the ledger (a bug, a hand edit) would let money out that
    was never earned, or hold back money that was. Nothing is corrected
    automatically: finance sees the mismatch on its page and investigates.
    Logged at ERROR on the "tuangou.commission" logger (today the console;
    route that logger to an alerting handler in production). Returns the
    mismatches (selectors.AccountMismatch).
    """
    from .selectors import account_mismatches

    mismatches = account_mismatches()
    for m in mismatches:
        logger.error(
            "commission account mismatch: leader %s (%s) %s counter %s, ledger %s",
            m.leader_id,
            m.leader_name,
            m.field,
            m.counter,
            m.ledger,
        )
    if not mismatches:
        logger.info("commission accounts reconciled: no mismatch")
    return mismatches


def close_ended_periods(*, today: date | None = None, enqueue: bool = True) -> list[Settlement]:
    """Close every open settlement whose period has ended (compare-and-set)
    and have its statement made after commit (enqueue=False: the caller makes
    them). Safe to run every day.

    Whatever became eligible before `today` is settled first (as of
    midnight, never later than now), so a period is never closed without
    the entries of its last day, even when the nightly settlement run was
    missed or failed."""
    today = today or to_local(timezone.now()).date()
    settle_commissions(now=min(local_datetime(today, time(0, 0)), timezone.now()))
    closed: list[Settlement] = []
    with transaction.atomic():
        due = list(
            Settlement.objects.filter(status=SettlementStatus.OPEN, period_end__lt=today).order_by(
                "pk"
            )
        )
        for settlement in due:
            moved = Settlement.objects.filter(
                pk=settlement.pk, status=SettlementStatus.OPEN
            ).update(status=SettlementStatus.CLOSED, closed_at=timezone.now())
            if moved:
                closed.append(settlement)
        if closed and enqueue:
            from .tasks import generate_statement_task

            ids = [s.pk for s in closed]
            for pk in ids:
                publish_on_commit(generate_statement_task, pk)
    return closed


def generate_statement(*, settlement_id: int) -> Settlement:
    """Make (or make again) a closed settlement's PDF. The same ledger gives
    the same totals and the same verification code every time."""
    from django.core.files.base import ContentFile

    from .pdf import render_statement_pdf
    from .selectors import statement_for

    settlement = Settlement.objects.select_related("leader").get(pk=settlement_id)
    if settlement.status != SettlementStatus.CLOSED:
        raise CommissionError(_("A statement is made when the period is closed."))
    statement = statement_for(settlement=settlement)
    pdf = render_statement_pdf(statement=statement)
    with transaction.atomic():
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        old = settlement.statement.name
        storage = settlement.statement.storage
        # The name is keyed (unguessable, 128 bits of an HMAC under SECRET_KEY)
        # on the settlement and on the row as it stands before this generation:
        # a rerun after a worker killed between the write and COMMIT finds the
        # row unchanged, so it overwrites that same file instead of leaving an
        # orphan; once a generation commits, the next one gets a new name.
        previous = settlement.statement_generated_at
        key = f"{settlement.pk}:{previous.isoformat() if previous else '-'}"
        digest = salted_hmac("commission.statement", key).hexdigest()[:32]
        name = f"statements/{settlement.period_start:%Y/%m}/{digest}.pdf"
        if storage.exists(name):
            storage.delete(name)  # under the row lock: no other generator writes it
        settlement.statement.name = storage.save(name, ContentFile(pdf))
        settlement.verification_code = statement.verification_code
        settlement.statement_generated_at = timezone.now()
        settlement.save(update_fields=["statement", "verification_code", "statement_generated_at"])
    if old and old != settlement.statement.name:
        settlement.statement.storage.delete(old)
    return settlement


# --- withdrawals ------------------------------------------------------------------


def _new_number(prefix: str) -> str:
    local = to_local(timezone.now())
    return f"{prefix}{local:%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}"


def parse_amount(value) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CommissionError(_("Enter an amount in yuan, like 50 or 50.00.")) from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise CommissionError(_("Enter an amount in yuan, like 50 or 50.00."))
    return to_money(amount)


def request_withdrawal(
    *,
    leader,
    amount,
    method: str,
    account_name: str,
    bank_name: str = "",
    account_number: str = "",
    openid: str = "",
) -> Withdrawal:
    """Ask for available money. The amount is reserved at once by a
    conditional UPDATE on the leader's account, so concurrent requests can
    never together take more than is available."""
    amount = parse_amount(amount)
    minimum = withdrawal_minimum()
    if amount < minimum:
        raise CommissionError(
            _("The smallest withdrawal is %(min)s.") % {"min": format_yuan(minimum)}
        )
    if method not in PayoutMethod.values:
        raise CommissionError(_("Choose where the money goes."))
    account_name = (account_name or "").strip()
    if not account_name:
        raise CommissionError(_("Enter the account holder's name."))
    if method == PayoutMethod.BANK and not (bank_name.strip() and account_number.strip()):
        raise CommissionError(_("Enter the bank and the account number."))
    if method == PayoutMethod.WECHAT and not openid:
        raise CommissionError(_("Your account is not linked to WeChat; choose a bank transfer."))
    account = _account(leader.pk)
    with transaction.atomic():
        reserved = CommissionAccount.objects.filter(
            pk=account.pk, settled__gte=F("reserved") + F("withdrawn") + amount
        ).update(reserved=F("reserved") + amount)
        if not reserved:
            account.refresh_from_db()
            raise CommissionError(
                _("You can withdraw at most %(available)s.")
                % {"available": format_yuan(max(account.available, ZERO))}
            )
        return Withdrawal.objects.create(
            number=_new_number("WD"),
            leader=leader,
            amount=amount,
            method=method,
            account_name=account_name[:40],
            bank_name=bank_name.strip()[:60] if method == PayoutMethod.BANK else "",
            account_number=account_number.strip()[:40] if method == PayoutMethod.BANK else "",
            openid=openid[:64] if method == PayoutMethod.WECHAT else "",
            requested_at=timezone.now(),
        )


def _require(actor, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise PermissionDenied(f"{perm} required")


def _move(withdrawal: Withdrawal, new: str, *, also=None, **fields) -> bool:
    """Compare-and-set along WITHDRAWAL_TRANSITIONS: False when another click
    moved it first (or it may not move to `new` from where it is)."""
    sources = [old for old, targets in WITHDRAWAL_TRANSITIONS.items() if new in targets]
    rows = Withdrawal.objects.filter(pk=withdrawal.pk, status__in=sources)
    if also is not None:
        rows = rows.filter(also)
    return bool(rows.update(status=new, **fields))


def _release_reserved(withdrawal: Withdrawal, **counters) -> None:
    amount = Withdrawal.objects.values_list("amount", flat=True).get(pk=withdrawal.pk)
    CommissionAccount.objects.filter(leader_id=withdrawal.leader_id).update(
        reserved=F("reserved") - amount, **{k: F(k) + amount for k in counters}
    )


def approve_withdrawal(*, withdrawal: Withdrawal, actor) -> bool:
    _require(actor, "leaders.approve_withdrawal")
    with transaction.atomic():
        return _move(
            withdrawal, WithdrawalStatus.APPROVED, decided_by=actor, decided_at=timezone.now()
        )


def reject_withdrawal(*, withdrawal: Withdrawal, actor, reason: str) -> bool:
    """Turn a request down: the reserved money goes back to the balance."""
    _require(actor, "leaders.approve_withdrawal")
    reason = (reason or "").strip()
    if not reason:
        raise CommissionError(_("Give the reason for the rejection."))
    with transaction.atomic():
        # Not once it is in a payout batch: the money may be on its way.
        moved = _move(
            withdrawal,
            WithdrawalStatus.REJECTED,
            also=Q(batch__isnull=True),
            decided_by=actor,
            decided_at=timezone.now(),
            reject_reason=reason[:200],
        )
        if moved:
            _release_reserved(withdrawal)
    return moved


def mark_withdrawal_paid(*, withdrawal: Withdrawal, actor, reference: str) -> bool:
    """The money was transferred: record the bank's or WeChat's reference."""
    _require(actor, "leaders.pay_withdrawal")
    reference = (reference or "").strip()
    if not reference:
        raise CommissionError(_("Enter the transfer reference."))
    with transaction.atomic():
        return _pay(withdrawal, actor=actor, reference=reference)


def _pay(withdrawal: Withdrawal, *, actor, reference: str) -> bool:
    """approved → paid and the reserved money counted as withdrawn (inside
    the caller's transaction; the caller checked who may)."""
    moved = _move(
        withdrawal,
        WithdrawalStatus.PAID,
        paid_by=actor,
        paid_at=timezone.now(),
        transfer_reference=reference[:64],
    )
    if moved:
        _release_reserved(withdrawal, withdrawn=True)
    return moved


def create_payout_batch(*, withdrawals, actor) -> PayoutBatch:
    """Put approved withdrawals into one payout run with a unique batch number.

    Recorded in one short transaction; the batch is handed to the payout
    provider (settings.PAYOUT_PROVIDER, default the bank CSV file) after
    commit by its own task, `send_payout_batch_task`: no network call under
    a lock, and a provider that is down only delays the payout.
    """
    from .payouts import get_payout_provider

    _require(actor, "leaders.pay_withdrawal")
    provider_name = get_payout_provider().name
    ids = sorted({w.pk for w in withdrawals})
    with transaction.atomic():
        batch = PayoutBatch.objects.create(
            number=_new_number("PO"), provider=provider_name, created_by=actor
        )
        claimed = list(
            Withdrawal.objects.select_for_update()
            .filter(pk__in=ids, status=WithdrawalStatus.APPROVED, batch__isnull=True)
            .order_by("pk")
        )
        if not claimed:
            raise CommissionError(
                _("None of these withdrawals is approved and waiting for payment.")
            )
        if provider_name == "wechat" and any(w.method != PayoutMethod.WECHAT for w in claimed):
            raise CommissionError(_("Only WeChat withdrawals can be paid by WeChat transfer."))
        Withdrawal.objects.filter(pk__in=[w.pk for w in claimed]).update(batch=batch)
        batch.total = to_money(sum((w.amount for w in claimed), ZERO))
        batch.count = len(claimed)
        batch.save(update_fields=["total", "count"])
        from .tasks import send_payout_batch_task

        publish_on_commit(send_payout_batch_task, batch.pk)
    return batch


class PayoutRetry(Exception):
    """The provider could not take the batch now; the task sends it again,
    with the same batch number."""


def _move_batch(batch: PayoutBatch, new: str, **fields) -> bool:
    """Compare-and-set of a batch along PAYOUT_BATCH_TRANSITIONS: False when
    another run moved it first."""
    sources = [old for old, targets in PAYOUT_BATCH_TRANSITIONS.items() if new in targets]
    return bool(
        PayoutBatch.objects.filter(pk=batch.pk, status__in=sources).update(status=new, **fields)
    )


def _give_back(batch: PayoutBatch, *, numbers=None) -> list[str]:
    """Withdrawals of a batch that no money reached leave it, still approved:
    finance can put them into a new batch or reject them (the withdrawal
    history keeps the batch they were in). Returns their numbers."""
    rows = Withdrawal.objects.filter(batch=batch, status=WithdrawalStatus.APPROVED)
    if numbers is not None:
        rows = rows.filter(number__in=numbers)
    given = sorted(rows.values_list("number", flat=True))
    rows.update(batch=None)
    return given


def send_payout_batch(*, batch_id: int) -> PayoutBatch:
    """Hand one payout batch to its provider. Safe to run any number of times.

    The batch number is the provider's idempotency key (WeChat's
    out_batch_no): a retry after a timeout sends the same number with the
    same withdrawals, and WeChat treats it as the same batch, so it can never
    pay twice. Only a batch still `created` is sent; the provider's verified
    acceptance moves it to `submitted` (provider_reference set). When the
    provider refuses it for good (no money moved) it is `failed` with the
    provider's words in `error`, and its withdrawals leave the batch, still
    approved: finance can batch them again or reject them. Raises
    PayoutRetry (the error kept on the batch) when the same request may
    succeed later.
    """
    from .payouts import PayoutError, get_payout_provider

    batch = PayoutBatch.objects.select_related("created_by").get(pk=batch_id)
    if batch.status != PayoutBatchStatus.CREATED:
        return batch
    # The batch's own withdrawals, all of them: the same request every time.
    withdrawals = list(batch.withdrawals.order_by("pk"))
    if not withdrawals:
        return batch
    try:
        result = get_payout_provider(batch.provider).submit(batch=batch, withdrawals=withdrawals)
    except PayoutError as exc:
        if exc.retryable:
            PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatchStatus.CREATED).update(
                error=str(exc)[:1000]
            )
            logger.warning("payout batch %s not sent yet: %s", batch.number, exc)
            raise PayoutRetry(str(exc)) from exc
        with transaction.atomic():
            if _move_batch(
                batch,
                PayoutBatchStatus.FAILED,
                error=str(exc)[:1000],
                finished_at=timezone.now(),
            ):
                released = _give_back(batch)
                logger.error(
                    "payout batch %s refused (%s); withdrawals back to approved: %s",
                    batch.number,
                    exc,
                    ", ".join(released),
                )
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        if _move_batch(
            batch,
            PayoutBatchStatus.SUBMITTED,
            provider_reference=(result.reference or batch.number)[:64],
            submitted_at=timezone.now(),
            error="",
        ):
            for withdrawal, reference in result.paid.items():
                _pay(withdrawal, actor=batch.created_by, reference=reference)
    batch.refresh_from_db()
    return batch


def check_payout_batch(*, batch_id: int) -> PayoutBatch:
    """Ask the provider, by batch number, what became of a submitted batch,
    and settle it. Safe to run any number of times, and at once from two
    places: only a `submitted` batch is asked, and it is settled once, under
    its row lock.

    - still paying: nothing changes but `checked_at`;
    - finished: each transfer that arrived marks its withdrawal paid with
      the provider's transfer id; each that failed gives its withdrawal back
      to finance (approved, out of the batch). The batch is `succeeded`,
      `partial` or `failed` (no transfer arrived); `error` names the
      withdrawals given back;
    - closed by the provider: `failed`, every withdrawal given back.

    A bank file has no one to ask: finance marks its withdrawals paid one by
    one, and the batch is `succeeded` once all of them are. Raises
    PayoutRetry when the provider could not answer (the error kept on the
    batch).
    """
    from .payouts import BatchAnswer, PayoutError, get_payout_provider

    batch = PayoutBatch.objects.select_related("created_by").get(pk=batch_id)
    if batch.status != PayoutBatchStatus.SUBMITTED:
        return batch
    provider = get_payout_provider(batch.provider)
    now = timezone.now()
    if not hasattr(provider, "query"):
        open_ones = batch.withdrawals.exclude(status=WithdrawalStatus.PAID).exists()
        if not open_ones:
            _move_batch(batch, PayoutBatchStatus.SUCCEEDED, finished_at=now, checked_at=now)
        else:
            PayoutBatch.objects.filter(pk=batch.pk).update(checked_at=now)
        batch.refresh_from_db()
        return batch
    try:
        # The network call holds no lock.
        answer: BatchAnswer = provider.query(batch=batch)
    except PayoutError as exc:
        PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatchStatus.SUBMITTED).update(
            error=str(exc)[:1000], checked_at=now
        )
        logger.warning("payout batch %s could not be checked: %s", batch.number, exc)
        if exc.retryable:
            raise PayoutRetry(str(exc)) from exc
        batch.refresh_from_db()
        return batch
    if answer.state == "paying":
        PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatchStatus.SUBMITTED).update(
            checked_at=now, error=""
        )
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        locked = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != PayoutBatchStatus.SUBMITTED:
            return locked  # another check settled it first
        # Lock order: the batch, then its withdrawals by pk (as finance's
        # mark-paid locks one withdrawal, then its account).
        mine = {w.number: w for w in locked.withdrawals.select_for_update().order_by("pk")}
        unanswered = [
            n
            for n, w in mine.items()
            if w.status == WithdrawalStatus.APPROVED and n not in answer.paid | answer.failed
        ]
        if answer.state == "finished" and unanswered:
            # "Finished" without a word on some of ours: settle nothing, ask again.
            error = "FINISHED without " + ", ".join(unanswered)
            PayoutBatch.objects.filter(pk=locked.pk).update(error=error[:1000], checked_at=now)
            logger.warning("payout batch %s: %s", locked.number, error)
            locked.refresh_from_db()
            return locked
        if answer.state == "closed":
            given = _give_back(locked)
            new = PayoutBatchStatus.FAILED
            error = f"CLOSED: {answer.reason}"
        else:
            paid = 0
            for number, reference in sorted(answer.paid.items()):
                if number in mine:
                    paid += _pay(mine[number], actor=locked.created_by, reference=reference)
                    paid += mine[number].status == WithdrawalStatus.PAID  # paid by hand before
            given = _give_back(locked, numbers=[n for n in answer.failed if n in mine])
            if not given:
                new, error = PayoutBatchStatus.SUCCEEDED, ""
            else:
                new = PayoutBatchStatus.PARTIAL if paid else PayoutBatchStatus.FAILED
                error = "FAIL: " + ", ".join(f"{n} {answer.failed[n]}" for n in given)
        if given:
            error += " — " + _("back to finance (approved, out of the batch): %(numbers)s") % {
                "numbers": ", ".join(given)
            }
        _move_batch(locked, new, error=error[:1000], finished_at=now, checked_at=now)
        logger.info("payout batch %s settled: %s %s", locked.number, new, error)
    locked.refresh_from_db()
    return locked
