"""Admin of commission: rules (operators), the ledger (read-only, adjustments
added through the service), settlements with statement downloads, withdrawals
(finance's approve / reject), payout batches. Registered from leaders/admin.py.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    CommissionAccount,
    CommissionEntry,
    CommissionRule,
    PayoutBatch,
    PayoutBatchStatus,
    Settlement,
    SettlementStatus,
    Withdrawal,
)
from .payouts import bank_csv
from .rules import rules_changed


@admin.register(CommissionRule)
class CommissionRuleAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "scope",
        "kind",
        "rate",
        "amount",
        "effective_from",
        "effective_until",
    )
    list_filter = ("scope", "kind")
    search_fields = ("product__name", "category__name", "leader__real_name", "note")
    autocomplete_fields = ("leader",)
    raw_id_fields = ("product", "category")
    readonly_fields = ("created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.effective_from <= timezone.now():
            # A rule in force is ended, never edited: add a new rule instead.
            return [f.name for f in self.model._meta.fields if f.name != "effective_until"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or obj.effective_from > timezone.now()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        rules_changed()  # the cached rule book (post_save says so too)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        rules_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        rules_changed()


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = CommissionEntry
        fields = ("leader", "amount", "reason")
        help_texts = {
            "amount": _("Positive adds to the leader's commission, negative takes it back."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = True


@admin.register(CommissionEntry)
class CommissionEntryAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "leader",
        "kind",
        "order",
        "product_name",
        "base",
        "rate",
        "amount",
        "settlement",
    )
    list_filter = ("kind", ("settlement", admin.EmptyFieldListFilter), "occurred_at")
    search_fields = ("leader__real_name", "order__number", "product_name", "reason")
    list_select_related = ("leader", "order", "settlement__leader")
    date_hierarchy = "occurred_at"
    autocomplete_fields = ("leader",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AdjustmentForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("leader", "amount", "reason")
        return [f.name for f in self.model._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the ledger is append-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        """Adding is a manual adjustment through the service; the operator
        who adds it is recorded as its approver."""
        entry = services.add_adjustment(
            leader=form.cleaned_data["leader"],
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            entered_by=request.user,
            approved_by=request.user,
        )
        obj.pk = entry.pk
        obj.__dict__.update({k: v for k, v in entry.__dict__.items() if not k.startswith("_")})


def _statements_zip_response(settlements, name: str) -> HttpResponse:
    from .views import statements_zip

    response = HttpResponse(statements_zip(settlements=settlements), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.register(Settlement)
class SettlementAdmin(admin.ModelAdmin):
    list_display = (
        "leader",
        "period_start",
        "period_end",
        "status",
        "entry_count",
        "earned_total",
        "deducted_total",
        "adjustment_total",
        "net_total",
        "verification_code",
        "statement_link",
    )
    list_filter = ("status", "period_kind", "period_start")
    search_fields = ("leader__real_name", "leader__phone", "code", "verification_code")
    list_select_related = ("leader",)
    actions = ["download_statements", "make_statements_again"]
    # The PDF is private: shown as a link to the checked view below, never as
    # a path (a private file has no public URL).
    exclude = ("statement",)

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.fields if f.name != "statement"]
        return [*fields, "statement_link"]

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "<path:object_id>/statement.pdf",
                self.admin_site.admin_view(self.statement_pdf_view),
                name="leaders_settlement_statement_pdf",
            ),
            *super().get_urls(),
        ]

    def statement_pdf_view(self, request, object_id):
        """Staff who may view settlements (finance, operators) get the PDF."""
        from django.http import Http404

        from .views import statement_pdf_response

        if not self.has_view_permission(request):
            raise PermissionDenied
        settlement = self.get_object(request, object_id)
        if settlement is None or settlement.status != SettlementStatus.CLOSED:
            raise Http404("no such statement")
        return statement_pdf_response(settlement)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("statement"))
    def statement_link(self, obj):
        if obj.status != SettlementStatus.CLOSED:
            return "—"
        from django.urls import reverse

        return format_html(
            '<a href="{}">PDF</a>',
            reverse("admin:leaders_settlement_statement_pdf", args=[obj.pk]),
        )

    @admin.action(description=_("Download statements (ZIP)"), permissions=["view"])
    def download_statements(self, request, queryset):
        closed = list(queryset.filter(status=SettlementStatus.CLOSED).select_related("leader"))
        if not closed:
            self.message_user(
                request, gettext("Statements exist for closed periods only."), messages.WARNING
            )
            return None
        return _statements_zip_response(closed, "statements.zip")

    @admin.action(description=_("Make statements again"), permissions=["view"])
    def make_statements_again(self, request, queryset):
        done = 0
        for settlement in queryset.filter(status=SettlementStatus.CLOSED).order_by("pk"):
            services.generate_statement(settlement_id=settlement.pk)
            done += 1
        self.message_user(
            request,
            ngettext("Made %(n)d statement.", "Made %(n)d statements.", done) % {"n": done},
            messages.SUCCESS,
        )


class WithdrawalRejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason (the leader sees it)"), max_length=200)


@admin.register(Withdrawal)
class WithdrawalAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "leader",
        "amount",
        "method",
        "status",
        "requested_at",
        "decided_by",
        "paid_at",
        "transfer_reference",
        "batch",
    )
    list_filter = ("status", "method", "requested_at")
    search_fields = ("number", "leader__real_name", "leader__phone", "transfer_reference")
    list_select_related = ("leader", "decided_by", "batch")
    actions = ["approve_selected", "reject_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # leaders ask on their money page

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("leaders.approve_withdrawal")

    def _each(self, request, queryset, move, done_text):
        done = skipped = 0
        for withdrawal in queryset.order_by("pk"):
            try:
                moved = move(withdrawal)
            except (services.CommissionError, PermissionDenied) as exc:
                self.message_user(request, f"{withdrawal}: {exc}", messages.ERROR)
                continue
            done += moved
            skipped += not moved
        if done:
            self.message_user(request, done_text(done), messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d withdrawal had already been handled.",
                    "%(n)d withdrawals had already been handled.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Approve selected withdrawals"), permissions=["approve"])
    def approve_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda w: services.approve_withdrawal(withdrawal=w, actor=request.user),
            lambda n: (
                ngettext("Approved %(n)d withdrawal.", "Approved %(n)d withdrawals.", n) % {"n": n}
            ),
        )

    @admin.action(description=_("Reject selected withdrawals"), permissions=["approve"])
    def reject_selected(self, request, queryset):
        from django.template.response import TemplateResponse

        if "apply" in request.POST:
            form = WithdrawalRejectForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                self._each(
                    request,
                    queryset,
                    lambda w: services.reject_withdrawal(
                        withdrawal=w, actor=request.user, reason=reason
                    ),
                    lambda n: (
                        ngettext("Rejected %(n)d withdrawal.", "Rejected %(n)d withdrawals.", n)
                        % {"n": n}
                    ),
                )
                return None
        else:
            form = WithdrawalRejectForm()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject withdrawals"),
            "form": form,
            "objects": queryset,
            "action": request.POST.get("action"),
            "opts": self.model._meta,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "leaders/admin/reject.html", context)


@admin.register(PayoutBatch)
class PayoutBatchAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "provider",
        "status",
        "short_error",
        "count",
        "total",
        "provider_reference",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "provider", "created_at")
    search_fields = ("number", "provider_reference", "withdrawals__number", "error")
    list_select_related = ("created_by",)
    actions = ["download_bank_file", "check_with_provider"]

    @admin.display(description=pgettext_lazy("payout batch", "error"))
    def short_error(self, obj):
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_pay_permission(self, request) -> bool:
        return request.user.has_perm("leaders.pay_withdrawal")

    @admin.action(description=_("Download the bank file (CSV)"), permissions=["pay"])
    def download_bank_file(self, request, queryset):
        batch = queryset.order_by("-pk").first()
        response = HttpResponse(bank_csv(batch=batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payout-{batch.number}.csv"'
        return response

    @admin.action(
        description=_("Ask the payout channel what became of the selected batches"),
        permissions=["pay"],
    )
    def check_with_provider(self, request, queryset):
        """services.check_payout_batch for each: only a batch the provider
        accepted and is paying is asked; the others are left as they are."""
        for batch in queryset.order_by("pk"):
            if batch.status != PayoutBatchStatus.SUBMITTED:
                self.message_user(
                    request,
                    gettext("%(batch)s: %(status)s, nothing to ask.")
                    % {"batch": batch.number, "status": batch.get_status_display()},
                    messages.WARNING,
                )
                continue
            try:
                batch = services.check_payout_batch(batch_id=batch.pk)
            except services.PayoutRetry as exc:
                self.message_user(
                    request,
                    gettext(
                        "%(batch)s: the payout channel did not answer (%(error)s); try again later."
                    )
                    % {"batch": batch.number, "error": exc},
                    messages.ERROR,
                )
                continue
            level = {
                PayoutBatchStatus.SUCCEEDED: messages.SUCCESS,
                PayoutBatchStatus.SUBMITTED: messages.INFO,
            }.get(batch.status, messages.WARNING)
            self.message_user(
                request,
                f"{batch.number}: {batch.get_status_display()}"
                + (f" — {batch.error}" if batch.error else ""),
                level,
            )


@admin.register(CommissionAccount)
class CommissionAccountAdmin(admin.ModelAdmin):
    list_display = ("leader", "settled", "reserved", "withdrawn", "available", "updated_at")
    search_fields = ("leader__real_name", "leader__phone")
    list_select_related = ("leader",)

    @admin.display(description=pgettext_lazy("commission account", "available"))
    def available(self, obj):
        return obj.available

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
