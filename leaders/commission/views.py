"""Money pages of the leader (mobile) and the finance pages. Thin: parse
input, call a selector or a service, render.

A leader reaches only their own entries, statements and withdrawals: every
object comes through a getter filtered by request.leader (another leader's
code is a 404). Finance pages are for staff in the finance role.
"""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from datetime import date

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tuangou.accounts.roles import FINANCE
from tuangou.money import ZERO
from tuangou.private_files import serve_private_file

from ..views import leader_required
from . import selectors, services
from .forms import PaidForm, RejectWithdrawalForm, WithdrawalForm
from .models import PayoutBatch, Settlement, SettlementStatus, Withdrawal, WithdrawalStatus
from .payouts import bank_csv

ENTRIES_PAGE_SIZE = 30


# --- the leader's money -------------------------------------------------------------------


def _openid_for(user) -> str:
    """The leader's WeChat openid, when they signed in with WeChat (allauth)."""
    try:
        from allauth.socialaccount.models import SocialAccount
    except ImportError:  # pragma: no cover - allauth is installed
        return ""
    account = SocialAccount.objects.filter(user=user, provider="weixin").first()
    return account.uid if account else ""


def _with_states(leader, entries):
    entries = list(entries)
    eligible = selectors.eligible_ids_for(leader=leader, ids=[e.pk for e in entries])
    for entry in entries:
        entry.state = selectors.entry_state(entry, eligible_ids=eligible)
    return entries


def _chart(days: list[selectors.DayAmount]) -> dict:
    """The 30-day chart's data for money.js (rendered with json_script): amounts
    as strings, to the fen; the words the chart shows, in the reader's language."""
    total = sum((d.amount for d in days), ZERO)
    return {
        "dates": [d.day.isoformat() for d in days],
        "labels": [f"{d.day:%m-%d}" for d in days],
        "amounts": [f"{d.amount:.2f}" for d in days],
        "total": f"{total:.2f}",
        "locale": "ZH" if (get_language() or "").startswith("zh") else "EN",
        "text": {
            "series": _("Commission"),
            "max": _("Best day"),
            "average": _("Daily average"),
            "empty": _("No commission in the last 30 days yet."),
        },
    }


@leader_required
@require_GET
def money(request: HttpRequest) -> HttpResponse:
    leader = request.leader
    days = selectors.daily_commission(leader=leader)
    return render(
        request,
        "leaders/money/home.html",
        {
            "summary": selectors.money_summary(leader=leader),
            "chart": _chart(days),
            "chart_days": [d for d in reversed(days) if d.amount],
            "entries": _with_states(leader, selectors.entries_for_leader(leader=leader)[:10]),
            "statements": selectors.statements_for_leader(leader=leader)[:3],
            "withdrawals": selectors.withdrawals_for_leader(leader=leader)[:3],
            "minimum": services.withdrawal_minimum(),
        },
    )


@leader_required
@require_GET
def money_entries(request: HttpRequest) -> HttpResponse:
    leader = request.leader
    page = Paginator(selectors.entries_for_leader(leader=leader), ENTRIES_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = _with_states(leader, page.object_list)
    return render(request, "leaders/money/entries.html", {"page": page})


@leader_required
@require_GET
def money_statements(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "leaders/money/statements.html",
        {"statements": selectors.statements_for_leader(leader=request.leader)},
    )


def _with_statement(settlement: Settlement) -> Settlement:
    """The settlement with its PDF on disk: made first when missing (never
    made yet, or its file was lost)."""
    field = settlement.statement
    if not field or not field.storage.exists(field.name):
        settlement = services.generate_statement(settlement_id=settlement.pk)
    return settlement


def statement_pdf_response(settlement: Settlement) -> HttpResponse:
    """The statement of a settlement the caller has already checked (its
    leader, or staff who may view settlements)."""
    settlement = _with_statement(settlement)
    name = f"statement-{settlement.period_start:%Y%m%d}-{settlement.leader_id}.pdf"
    return serve_private_file(
        settlement.statement, content_type="application/pdf", filename=name, as_attachment=True
    )


@leader_required
@require_GET
def money_statement_pdf(request: HttpRequest, code: str) -> HttpResponse:
    settlement = selectors.statement_for_leader(leader=request.leader, code=code)
    if settlement is None:
        raise Http404("no such statement")
    return statement_pdf_response(settlement)


@leader_required
def money_withdraw(request: HttpRequest) -> HttpResponse:
    leader = request.leader
    openid = _openid_for(request.user)
    form = WithdrawalForm(
        request.POST or None,
        initial={"account_name": leader.real_name, "method": "wechat" if openid else "bank"},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                withdrawal = services.request_withdrawal(
                    leader=leader,
                    amount=data["amount"],
                    method=data["method"],
                    account_name=data["account_name"],
                    bank_name=data["bank_name"],
                    account_number=data["account_number"],
                    openid=openid,
                )
            except services.CommissionError as exc:
                form.add_error(None, exc.message)
                status = 400
            else:
                messages.success(
                    request,
                    _("Withdrawal %(number)s of ¥%(amount)s requested. Finance will review it.")
                    % {"number": withdrawal.number, "amount": withdrawal.amount},
                )
                return redirect("leaders:money_withdraw")
        else:
            status = 400
    return render(
        request,
        "leaders/money/withdraw.html",
        {
            "form": form,
            "summary": selectors.money_summary(leader=leader),
            "minimum": services.withdrawal_minimum(),
            "has_wechat": bool(openid),
            "withdrawals": selectors.withdrawals_for_leader(leader=leader),
        },
        status=status,
    )


# --- finance ------------------------------------------------------------------------------


def finance_required(view):
    """Staff in the finance role (or superusers); anyone else is refused."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not (request.user.is_staff and request.user.has_role(FINANCE)):
            raise PermissionDenied("finance only")
        return view(request, *args, **kwargs)

    return wrapper


def _period(start: str) -> date:
    try:
        return date.fromisoformat(start)
    except ValueError:
        raise Http404("bad period") from None


@finance_required
@require_GET
def finance(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "leaders/finance/home.html",
        {
            "periods": selectors.settlement_periods(),
            "waiting": selectors.withdrawals_for_finance(status=WithdrawalStatus.REQUESTED).count(),
            "approved": selectors.withdrawals_for_finance(status=WithdrawalStatus.APPROVED).count(),
            "mismatches": selectors.account_mismatches(),
        },
    )


@finance_required
@require_GET
def finance_period(request: HttpRequest, start: str) -> HttpResponse:
    settlements = list(selectors.settlements_in_period(period_start=_period(start)))
    if not settlements:
        raise Http404("no settlements in this period")
    return render(
        request,
        "leaders/finance/period.html",
        {
            "settlements": settlements,
            "first": settlements[0],
            "net": sum(s.net_total for s in settlements),
            "earned": sum(s.earned_total for s in settlements),
            "deducted": sum(s.deducted_total for s in settlements),
            "adjusted": sum(s.adjustment_total for s in settlements),
            "all_closed": all(s.status == SettlementStatus.CLOSED for s in settlements),
        },
    )


@finance_required
@require_GET
def finance_period_csv(request: HttpRequest, start: str) -> HttpResponse:
    settlements = selectors.settlements_in_period(period_start=_period(start))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Leader"),
            _("Phone"),
            _("From"),
            _("To"),
            _("Entries"),
            _("Earned"),
            _("Reversed and deducted"),
            _("Adjustments"),
            _("Net commission"),
            _("Status"),
            _("Verification code"),
        ]
    )
    for s in settlements:
        writer.writerow(
            [
                s.leader.real_name,
                s.leader.phone,
                s.period_start,
                s.period_end,
                s.entry_count,
                s.earned_total,
                s.deducted_total,
                s.adjustment_total,
                s.net_total,
                s.get_status_display(),
                s.verification_code,
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="settlements-{start}.csv"'
    return response


@finance_required
@require_GET
def finance_statement_pdf(request: HttpRequest, code: str) -> HttpResponse:
    settlement = selectors.settlement_by_code(code=code)
    if settlement is None or settlement.status != SettlementStatus.CLOSED:
        raise Http404("no such statement")
    return statement_pdf_response(settlement)


def statements_zip(*, settlements) -> bytes:
    """Every closed settlement's statement in one ZIP (made first when missing)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for settlement in settlements:
            if settlement.status != SettlementStatus.CLOSED:
                continue
            settlement = _with_statement(settlement)
            with settlement.statement.open("rb") as fh:
                archive.writestr(
                    f"{settlement.period_start:%Y%m%d}-{settlement.leader.real_name}-"
                    f"{settlement.leader_id}.pdf",
                    fh.read(),
                )
    return out.getvalue()


@finance_required
@require_GET
def finance_period_zip(request: HttpRequest, start: str) -> HttpResponse:
    settlements = list(selectors.settlements_in_period(period_start=_period(start)))
    if not any(s.status == SettlementStatus.CLOSED for s in settlements):
        raise Http404("no closed settlements in this period")
    response = HttpResponse(statements_zip(settlements=settlements), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="statements-{start}.zip"'
    return response


@finance_required
@require_POST
def finance_regenerate(request: HttpRequest, code: str) -> HttpResponse:
    settlement = selectors.settlement_by_code(code=code)
    if settlement is None or settlement.status != SettlementStatus.CLOSED:
        raise Http404("no such statement")
    settlement = services.generate_statement(settlement_id=settlement.pk)
    messages.success(
        request,
        _("Statement made again; verification code %(code)s.")
        % {"code": settlement.verification_code},
    )
    return redirect("leaders:finance_period", start=settlement.period_start.isoformat())


@finance_required
def finance_withdrawals(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", WithdrawalStatus.REQUESTED)
    if status not in WithdrawalStatus.values:
        status = WithdrawalStatus.REQUESTED
    return render(
        request,
        "leaders/finance/withdrawals.html",
        {
            "status": status,
            "statuses": WithdrawalStatus.choices,
            "withdrawals": selectors.withdrawals_for_finance(status=status),
            "batches": PayoutBatch.objects.order_by("-created_at")[:10],
            "can_approve": request.user.has_perm("leaders.approve_withdrawal"),
            "can_pay": request.user.has_perm("leaders.pay_withdrawal"),
        },
    )


def _done_message(action: str, withdrawal: Withdrawal) -> str:
    """What a finance action changed, in words: the number, the money, what comes next."""
    values = {
        "number": withdrawal.number,
        "amount": withdrawal.amount,
        "leader": withdrawal.leader.real_name,
        "reference": withdrawal.transfer_reference,
    }
    if action == "approve":
        return _("Approved withdrawal %(number)s (¥%(amount)s); it waits to be paid.") % values
    if action == "reject":
        return (
            _("Rejected withdrawal %(number)s; ¥%(amount)s is back in %(leader)s's balance.")
            % values
        )
    return _("Withdrawal %(number)s (¥%(amount)s) marked paid, reference %(reference)s.") % values


@finance_required
@require_POST
def finance_withdrawal_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    withdrawal = Withdrawal.objects.filter(number=number).first()
    if withdrawal is None:
        raise Http404("no such withdrawal")
    try:
        if action == "approve":
            moved = services.approve_withdrawal(withdrawal=withdrawal, actor=request.user)
        elif action == "reject":
            form = RejectWithdrawalForm(request.POST)
            reason = form.data.get("reason", "")
            moved = services.reject_withdrawal(
                withdrawal=withdrawal, actor=request.user, reason=reason
            )
        elif action == "paid":
            form = PaidForm(request.POST)
            moved = services.mark_withdrawal_paid(
                withdrawal=withdrawal, actor=request.user, reference=form.data.get("reference", "")
            )
        else:
            raise Http404("no such action")
    except services.CommissionError as exc:
        messages.error(request, exc.message)
    else:
        withdrawal.refresh_from_db()
        if moved:
            messages.success(request, _done_message(action, withdrawal))
        else:
            messages.warning(
                request,
                _("Withdrawal %(number)s was already %(status)s; nothing changed.")
                % {"number": number, "status": withdrawal.get_status_display()},
            )
    back = request.POST.get("back", "")
    status = back if back in WithdrawalStatus.values else WithdrawalStatus.REQUESTED
    return redirect(f"{_finance_withdrawals_url()}?status={status}")


@finance_required
@require_POST
def finance_payout(request: HttpRequest) -> HttpResponse:
    numbers = request.POST.getlist("withdrawal")
    withdrawals = list(Withdrawal.objects.filter(number__in=numbers))
    try:
        batch = services.create_payout_batch(withdrawals=withdrawals, actor=request.user)
    except services.CommissionError as exc:
        messages.error(request, exc.message)
        return redirect("leaders:finance_withdrawals")
    messages.success(
        request,
        _("Payout batch %(number)s: %(count)d withdrawals, ¥%(total)s. Download its bank file.")
        % {"number": batch.number, "count": batch.count, "total": batch.total},
    )
    return redirect(f"{_finance_withdrawals_url()}?status=approved")


def _finance_withdrawals_url() -> str:
    from django.urls import reverse

    return reverse("leaders:finance_withdrawals")


@finance_required
@require_GET
def finance_batch_csv(request: HttpRequest, number: str) -> HttpResponse:
    batch = PayoutBatch.objects.filter(number=number).first()
    if batch is None:
        raise Http404("no such batch")
    if not request.user.has_perm("leaders.pay_withdrawal"):
        raise PermissionDenied("pay_withdrawal required")
    response = HttpResponse(bank_csv(batch=batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payout-{batch.number}.csv"'
    return response
