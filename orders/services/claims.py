"""After-sale claims on fresh goods: refund only, no return.

The shopper claims lines and quantities of an order they picked up, with a
reason and photos; an operator approves (the refund goes through
refunds.refund_lines with reason AFTER_SALE, sent by its own task) or
rejects with a reason. Photos go through catalog's image checks, which also
strip EXIF and GPS data from phone pictures.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.images import ImageRejected, process_upload
from tuangou.private_files import new_private_name, private_storage

from ..models import (
    AfterSaleClaim,
    ClaimLine,
    ClaimPhoto,
    ClaimStatus,
    Order,
    OrderKind,
    OrderStatus,
    Refund,
    RefundReason,
)
from ..notices import notify
from .checkout import CheckoutError

MAX_CLAIM_PHOTOS = 3
MAX_REASON_LENGTH = 200


class ClaimError(Exception):
    """A refused claim or review: the message is for the person on the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _check_order_claimable(order: Order) -> None:
    from ..selectors import claim_window_open

    if order.kind == OrderKind.GROUP and order.status in {
        OrderStatus.PAID,
        OrderStatus.AWAITING_GROUP,
    }:
        raise ClaimError(_("The group of this order is still open: no claim yet."))
    if order.status != OrderStatus.COMPLETED:
        raise ClaimError(
            _("You can ask for an after-sale refund once you have picked up the order.")
        )
    if not claim_window_open(order):
        raise ClaimError(_("The time for after-sale claims on this order has passed."))


def _photo_files(photos: Sequence) -> list[bytes]:
    """Check every photo before anything is written (CPU work, outside the transaction)."""
    if len(photos) > MAX_CLAIM_PHOTOS:
        raise ClaimError(_("At most %(n)d photos.") % {"n": MAX_CLAIM_PHOTOS})
    files = []
    for upload in photos:
        try:
            files.append(process_upload(upload).files["original.jpg"])
        except ImageRejected as exc:
            raise ClaimError(exc.message) from exc
    return files


def submit_claim(
    *,
    order: Order,
    user,
    reason: str,
    quantities: dict[int, int],
    photos: Sequence = (),
) -> AfterSaleClaim:
    """The shopper's claim on lines of a picked-up order ({order_line_id: quantity}).

    All or nothing: a line of another order, more than was picked up (less
    what is refunded or already claimed), a closed window or a bad photo,
    and nothing is written (no row, no file).
    """
    if order.user_id != user.pk:
        raise ClaimError(_("That order is not yours."))
    reason = (reason or "").strip()
    if not reason:
        raise ClaimError(_("Please tell us what is wrong."))
    quantities = {int(k): v for k, v in quantities.items() if v}
    if not quantities:
        raise ClaimError(_("Please choose the items and quantities you are claiming for."))
    for quantity in quantities.values():
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ClaimError(_("The quantity must be at least 1."))
    _check_order_claimable(order)
    files = _photo_files(photos)
    saved: list[str] = []
    try:
        with transaction.atomic():
            # One claim at a time per order: two taps cannot claim the same units twice.
            order = Order.objects.select_for_update().get(pk=order.pk)
            _check_order_claimable(order)
            from ..selectors import claimable_quantities

            lines = list(order.lines.order_by("pk"))
            by_id = {line.pk: line for line in lines}
            claims = list(order.claims.filter(status=ClaimStatus.OPEN).prefetch_related("lines"))
            left = claimable_quantities(order=order, lines=lines, claims=claims)
            for line_id, quantity in sorted(quantities.items()):
                line = by_id.get(line_id)
                if line is None:
                    raise ClaimError(_("That item is not part of this order."))
                if quantity > left.get(line_id, 0):
                    raise ClaimError(
                        _("At most %(n)d of %(name)s can be claimed.")
                        % {"n": left.get(line_id, 0), "name": line.product_name}
                    )
            claim = AfterSaleClaim.objects.create(
                order=order, user=user, reason=reason[:MAX_REASON_LENGTH]
            )
            ClaimLine.objects.bulk_create(
                [
                    ClaimLine(claim=claim, order_line_id=line_id, quantity=quantity)
                    for line_id, quantity in sorted(quantities.items())
                ]
            )
            for data in files:
                # Private storage, random name: only the checked view serves it.
                name = private_storage().save(
                    new_private_name("orders/claims", ".jpg"), ContentFile(data)
                )
                saved.append(name)
                ClaimPhoto.objects.create(claim=claim, image=name)
    except BaseException:
        for name in saved:
            private_storage().delete(name)
        raise
    return claim


def approve_claim(*, claim: AfterSaleClaim, actor, note: str = "") -> Refund:
    """An operator approves: the claimed units are refunded (one task sends it).

    Exactly once: a claim already approved returns its refund; a rejected one
    cannot be approved. If the units were refunded some other way meanwhile,
    nothing changes and the message says so.
    """
    with transaction.atomic():
        claim = AfterSaleClaim.objects.select_for_update().get(pk=claim.pk)
        if claim.status == ClaimStatus.APPROVED and claim.refund_id:
            return claim.refund
        if claim.status != ClaimStatus.OPEN:
            raise ClaimError(_("This claim was already reviewed."))
        from .refunds import refund_lines

        quantities = {line.order_line_id: line.quantity for line in claim.lines.all()}
        try:
            refund = refund_lines(
                order=claim.order,
                quantities=quantities,
                reason=RefundReason.AFTER_SALE,
                actor=actor,
                note=(note or f"claim {claim.pk}")[:200],
            )
        except CheckoutError as exc:
            raise ClaimError(exc.message) from exc
        claim.status = ClaimStatus.APPROVED
        claim.refund = refund
        claim.reviewed_by = actor
        claim.reviewed_at = timezone.now()
        claim.save(update_fields=["status", "refund", "reviewed_by", "reviewed_at"])
        notify(order=claim.order, kind="claim_approved", amount=refund.amount)
    return refund


def reject_claim(*, claim: AfterSaleClaim, actor, reason: str) -> AfterSaleClaim:
    """An operator rejects with a reason the shopper reads. Nothing is refunded."""
    reason = (reason or "").strip()
    if not reason:
        raise ClaimError(_("Please give the shopper a reason."))
    with transaction.atomic():
        claim = AfterSaleClaim.objects.select_for_update().get(pk=claim.pk)
        if claim.status != ClaimStatus.OPEN:
            raise ClaimError(_("This claim was already reviewed."))
        claim.status = ClaimStatus.REJECTED
        claim.reject_reason = reason[:200]
        claim.reviewed_by = actor
        claim.reviewed_at = timezone.now()
        claim.save(update_fields=["status", "reject_reason", "reviewed_by", "reviewed_at"])
        notify(order=claim.order, kind="claim_rejected", reason=claim.reject_reason)
    return claim
