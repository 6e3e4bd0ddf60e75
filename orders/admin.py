"""Operators find orders, dispatch them, refund them, review after-sale claims
and retry refunds here. Every action calls a service; the admin never
changes a status itself, and order history (lines, events, payments) is
read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from tuangou.money import format_yuan

from .event_notes import describe_note
from .models import (
    AfterSaleClaim,
    ClaimLine,
    ClaimPhoto,
    DeliverySignoff,
    Handout,
    Notice,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentNotificationLog,
    PickupCode,
    Refund,
    RefundLine,
    RefundReason,
    ShortageLine,
)
from .notices import TEXTS as NOTICE_TEXTS
from .notices import render as render_notice
from .services.checkout import CheckoutError
from .services.delivery import dispatch_selected_orders
from .services.refunds import refund_lines, refund_order, retry_refund

try:  # the shopper side's claim reviews (orders/services/claims.py)
    from .services.claims import ClaimError, approve_claim, reject_claim
except ImportError:  # pragma: no cover - without it the claims admin is read-only
    approve_claim = reject_claim = None

    class ClaimError(Exception):  # type: ignore[no-redef]
        message = ""


class ReadOnlyMixin:
    """History is never edited by hand: every field read-only, no add, no delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(getattr(self, "extra_readonly", ()))


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


def _confirm(modeladmin, request, queryset, *, question, rows, button, form=None):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": question,
        "question": question,
        "rows": rows,
        "button": button,
        "form": form,
        "action": request.POST.get("action"),
        "opts": modeladmin.model._meta,
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "admin/orders/confirm_action.html", context)


def _report(modeladmin, request, done: int, failures: list[str], done_text) -> None:
    for failure in failures:
        modeladmin.message_user(request, failure, messages.ERROR)
    if done:
        modeladmin.message_user(request, done_text(done), messages.SUCCESS)


class PartialRefundForm(forms.Form):
    """部分退款: a quantity per line (0 = not refunded), at most what is left."""

    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, lines: list[OrderLine], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            left = line.quantity - line.refunded_quantity
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.product_name} {line.spec}",
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                disabled=left == 0,
                error_messages={
                    "min_value": _("The quantity cannot be negative."),
                    "max_value": _("At most %(limit_value)s can still be refunded."),
                    "invalid": _("Enter a whole number."),
                },
            )

    def rows(self):
        for line in self.lines:
            yield line, self[f"line_{line.pk}"], line.quantity - line.refunded_quantity

    def clean(self):
        cleaned = super().clean()
        quantities = {
            line.pk: cleaned.get(f"line_{line.pk}") or 0
            for line in self.lines
            if f"line_{line.pk}" not in self.errors
        }
        cleaned["quantities"] = {pk: q for pk, q in quantities.items() if q > 0}
        if not self.errors and not cleaned["quantities"]:
            raise forms.ValidationError(_("Choose at least one item to refund."))
        return cleaned


# --- orders ------------------------------------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "product_name",
        "spec",
        "quantity",
        "unit_price",
        "payable",
        "refunded_quantity",
        "refunded_amount",
        "handed_out_quantity",
    )


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor", "what_happened")
    extra_readonly = ("what_happened",)

    @admin.display(description=_("what happened"))
    def what_happened(self, obj: OrderEvent) -> str:
        return describe_note(obj.note) or "—"


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("out_trade_no", "provider", "channel", "amount", "status", "paid_at")
    show_change_link = True


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("out_refund_no", "amount", "reason", "status", "created_at")
    show_change_link = True


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "shopper",
        "status",
        "kind",
        "pickup_point_name",
        "delivery_date",
        "payable",
        "refunded_amount",
        "is_uncollected",
        "created_at",
    )
    list_filter = (
        "status",
        "delivery_date",
        "warehouse",
        "leader",
        "is_uncollected",
        "kind",
    )
    search_fields = ("number", "=code", "user__phone", "pickup_point_name")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, OrderEventInline, PaymentInline, RefundInline]
    actions = ["dispatch_selected", "refund_selected"]
    extra_readonly = ("partial_refund_link",)

    # A partial refund is possible once the money came and until the order closes.
    _PARTLY_REFUNDABLE = {
        OrderStatus.PAID,
        OrderStatus.AWAITING_GROUP,
        OrderStatus.CONFIRMED,
        OrderStatus.IN_DELIVERY,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.COMPLETED,
    }

    def get_urls(self):
        return [
            path(
                "<int:object_id>/partial-refund/",
                self.admin_site.admin_view(self.partial_refund_view),
                name="orders_order_partial_refund",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("Partial refund"))
    def partial_refund_link(self, obj: Order) -> str:
        if obj.pk is None or obj.status not in self._PARTLY_REFUNDABLE:
            return "-"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:orders_order_partial_refund", args=[obj.pk]),
            gettext("Refund some items"),
        )

    def partial_refund_view(self, request, object_id: int):
        """部分退款: the operator picks quantities per line; refund_lines does the rest.

        Bad input (too many, nothing chosen, an order that cannot be refunded)
        shows the form again with the reason, and nothing is written.
        """
        order = self.get_object(request, str(object_id))
        if order is None:
            raise Http404
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        lines = list(order.lines.order_by("pk"))
        form = PartialRefundForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                refund = refund_lines(
                    order=order,
                    quantities=form.cleaned_data["quantities"],
                    reason=RefundReason.OPERATOR,
                    actor=request.user,
                    note=form.cleaned_data["note"],
                )
            except CheckoutError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    gettext("Refund %(number)s of %(amount)s recorded; it is being sent.")
                    % {"number": refund.out_refund_no, "amount": format_yuan(refund.amount)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Partial refund of order %(number)s") % {"number": order.number},
            "order": order,
            "form": form,
            "opts": self.model._meta,
            "original": order,
        }
        return TemplateResponse(request, "admin/orders/partial_refund.html", context)

    @admin.display(description=_("shopper"), ordering="user__phone")
    def shopper(self, obj: Order) -> str:
        return f"{obj.user.display_name} {obj.user.phone or ''}".strip()

    @admin.action(description=_("Dispatch selected confirmed orders"), permissions=["change"])
    def dispatch_selected(self, request, queryset):
        moved = dispatch_selected_orders(orders=list(queryset.order_by("pk")), actor=request.user)
        skipped = queryset.count() - len(moved)
        if moved:
            self.message_user(
                request,
                ngettext("%(n)d order is on its way.", "%(n)d orders are on their way.", len(moved))
                % {"n": len(moved)},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d order was skipped: only confirmed orders can be dispatched.",
                    "%(n)d orders were skipped: only confirmed orders can be dispatched.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    @admin.action(
        description=_("Refund selected orders in full (operator)"), permissions=["change"]
    )
    def refund_selected(self, request, queryset):
        orders = list(queryset.order_by("pk"))
        if "apply" not in request.POST:
            return _confirm(
                self,
                request,
                queryset,
                question=gettext("Refund everything still refundable on these orders?"),
                rows=[
                    f"{o.number} · {o.get_status_display()} · "
                    f"{format_yuan(o.payable - o.refunded_amount)}"
                    for o in orders
                ],
                button=gettext("Refund"),
            )
        done, failures = 0, []
        for order in orders:
            try:
                refund_order(order=order, actor=request.user, note="operator refund in the admin")
            except CheckoutError as exc:
                failures.append(f"{order.number}: {exc.message}")
            else:
                done += 1
        _report(
            self,
            request,
            done,
            failures,
            lambda n: ngettext("Refunded %(n)d order.", "Refunded %(n)d orders.", n) % {"n": n},
        )
        return None


# --- payments and refunds ------------------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("out_trade_no", "order", "provider", "channel", "amount", "status", "paid_at")
    list_filter = ("status", "provider", "channel")
    search_fields = ("out_trade_no", "order__number", "transaction_id")
    list_select_related = ("order",)
    exclude = ("pay_params",)


class RefundLineInline(ReadOnlyInline):
    model = RefundLine
    fields = ("order_line", "quantity", "amount")


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "out_refund_no",
        "order",
        "amount",
        "reason",
        "status",
        "attempts",
        "error",
        "created_at",
    )
    list_filter = ("status", "reason")
    search_fields = ("out_refund_no", "order__number")
    list_select_related = ("order",)
    inlines = [RefundLineInline]
    actions = ["retry_selected"]

    @admin.action(description=_("Send selected refunds again"), permissions=["change"])
    def retry_selected(self, request, queryset):
        sent = sum(1 for refund in queryset.order_by("pk") if retry_refund(refund=refund))
        skipped = queryset.count() - sent
        if sent:
            self.message_user(
                request,
                ngettext("%(n)d refund sent again.", "%(n)d refunds sent again.", sent)
                % {"n": sent},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d refund skipped: it already succeeded.",
                    "%(n)d refunds skipped: they already succeeded.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )


@admin.register(PaymentNotificationLog)
class PaymentNotificationLogAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "kind", "outcome", "out_trade_no", "detail")
    list_filter = ("kind", "outcome")
    search_fields = ("out_trade_no",)
    date_hierarchy = "received_at"


# --- after-sale claims ------------------------------------------------------------------------


class ClaimLineInline(ReadOnlyInline):
    model = ClaimLine
    fields = ("order_line", "quantity")


class ClaimPhotoInline(ReadOnlyInline):
    """Thumbnails through the checked view (the file itself is private)."""

    model = ClaimPhoto
    fields = ("thumbnail",)
    extra_readonly = ("thumbnail",)

    @admin.display(description=_("photo"))
    def thumbnail(self, obj):
        if not obj.pk:
            return "—"
        url = reverse("orders:claim_photo", args=[obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" loading="lazy"'
            ' style="max-width:160px;max-height:160px;object-fit:cover;border-radius:4px"></a>',
            url,
            url,
            obj,
        )


class RejectClaimForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the shopper sees it)"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@admin.register(AfterSaleClaim)
class AfterSaleClaimAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "claim_number",
        "order",
        "user",
        "status",
        "reason",
        "created_at",
        "reviewed_by",
    )
    list_filter = ("status",)
    search_fields = ("order__number", "user__phone")
    list_select_related = ("order", "user", "reviewed_by")
    inlines = [ClaimLineInline, ClaimPhotoInline]
    actions = ["approve_selected", "reject_selected"] if approve_claim else []

    @admin.display(description=_("claim no."), ordering="pk")
    def claim_number(self, obj: AfterSaleClaim) -> int:
        return obj.pk

    @admin.action(description=_("Approve and refund selected claims"), permissions=["change"])
    def approve_selected(self, request, queryset):
        done, failures = 0, []
        for claim in queryset.order_by("pk"):
            try:
                approve_claim(claim=claim, actor=request.user)
            except ClaimError as exc:
                failures.append(f"{claim}: {exc.message}")
            else:
                done += 1
        _report(
            self,
            request,
            done,
            failures,
            lambda n: ngettext("Approved %(n)d claim.", "Approved %(n)d claims.", n) % {"n": n},
        )

    @admin.action(description=_("Reject selected claims"), permissions=["change"])
    def reject_selected(self, request, queryset):
        form = RejectClaimForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _confirm(
                self,
                request,
                queryset,
                question=gettext("Reject these claims?"),
                rows=[f"{c.order} · {c.reason}" for c in queryset.select_related("order")],
                button=gettext("Reject"),
                form=form,
            )
        done, failures = 0, []
        for claim in queryset.order_by("pk"):
            try:
                reject_claim(claim=claim, actor=request.user, reason=form.cleaned_data["reason"])
            except ClaimError as exc:
                failures.append(f"{claim}: {exc.message}")
            else:
                done += 1
        _report(
            self,
            request,
            done,
            failures,
            lambda n: ngettext("Rejected %(n)d claim.", "Rejected %(n)d claims.", n) % {"n": n},
        )
        return None


# --- pickup and messages (read-only) ----------------------------------------------------------


@admin.register(PickupCode)
class PickupCodeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("code", "user", "pickup_point", "delivery_date", "created_at")
    list_filter = ("delivery_date",)
    search_fields = ("=code", "user__phone", "pickup_point__name")
    list_select_related = ("user", "pickup_point")


class ShortageLineInline(ReadOnlyInline):
    model = ShortageLine
    fields = ("sku", "quantity")


@admin.register(DeliverySignoff)
class DeliverySignoffAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("pickup_point", "delivery_date", "signed_by", "signed_at")
    list_filter = ("delivery_date",)
    search_fields = ("pickup_point__name",)
    list_select_related = ("pickup_point", "signed_by")
    inlines = [ShortageLineInline]


@admin.register(Handout)
class HandoutAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "order_line", "quantity", "actor")
    search_fields = ("order_line__order__number",)
    list_select_related = ("order_line", "actor")


class NoticeKindFilter(admin.SimpleListFilter):
    """Filter messages by kind, named by their title (可以取货了, not "ready")."""

    title = _("message type")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind, title) for kind, (title, _body) in NOTICE_TEXTS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Notice)
class NoticeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Messages as the shopper reads them: their title and text, not the stored
    kind code and parameters."""

    list_display = ("created_at", "user", "title", "order", "read_at")
    list_filter = (NoticeKindFilter,)
    search_fields = ("user__phone", "order__number")
    list_select_related = ("user", "order")
    exclude = ("kind", "params")
    extra_readonly = ("title", "text")

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f not in self.exclude]

    @admin.display(description=_("title"), ordering="kind")
    def title(self, obj: Notice) -> str:
        return render_notice(obj)[0]

    @admin.display(description=_("text"))
    def text(self, obj: Notice) -> str:
        return render_notice(obj)[1]
