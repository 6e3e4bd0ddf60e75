"""The shopper's cart: one line per SKU, quantities checked as they change.

A cart line is a wish, not a reservation: stock is only held by place_order.
Every change is still checked against what the shopper could buy right now
(on sale, the per-order limit, what is left for the delivery day at the
shopper's warehouse) so that the cart never promises what checkout refuses.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.cutoff import delivery_date_for
from catalog.services import MAX_LINE_QUANTITY, InvalidPurchase, available_stock, check_purchase

from .. import cart_count_cache
from ..models import Cart, CartLine

# A household cart; also bounds the work of pricing a cart on every page.
MAX_CART_LINES = 50


class CartError(Exception):
    """A refused cart change: the message is for the shopper."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _locked_cart(user) -> Cart:
    """The shopper's cart row, created on first use and locked: one change at a time.

    One statement: INSERT ... ON CONFLICT (user) DO UPDATE SET updated_at
    creates the row or touches it, and either way holds its row lock until
    the caller's transaction ends (it replaces get_or_create, a second read
    FOR UPDATE and the final updated_at UPDATE: five statements).
    """
    (cart,) = Cart.objects.bulk_create(
        [Cart(user=user, updated_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["updated_at"],
    )
    return cart


def _line_for(cart: Cart, sku_id: int) -> tuple[CartLine | None, int]:
    """The cart's line for an SKU and how many lines the cart has (one query)."""
    lines = list(CartLine.objects.filter(cart=cart).order_by())
    line = next((line for line in lines if line.sku_id == sku_id), None)
    return line, len(lines)


def _check_quantity(*, sku_id: int, quantity: int, warehouse, sku=None) -> None:
    """Raise CartError unless `quantity` of the SKU could be ordered now.

    `sku` (with its product), when the caller has it, saves reading it again.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise CartError(_("The quantity must be at least 1."))
    if quantity > MAX_LINE_QUANTITY:
        raise CartError(_("At most %(max)d of one item.") % {"max": MAX_LINE_QUANTITY})
    try:
        # on sale, per-order limit
        skus = check_purchase(
            lines=[(sku_id, quantity)], skus={sku_id: sku} if sku is not None else None
        )
    except InvalidPurchase as exc:
        raise CartError(exc.message) from exc
    if warehouse is None:
        return  # no warehouse to deliver from yet: checkout asks for a pickup point
    sku = skus[sku_id]
    day = delivery_date_for(warehouse=warehouse, sku=sku)
    left = available_stock(sku_id=sku_id, warehouse=warehouse, delivery_date=day)
    if left <= 0:
        raise CartError(_("%(name)s is sold out.") % {"name": sku})
    if quantity > left:
        raise CartError(_("Only %(left)d of %(name)s are left.") % {"left": left, "name": sku})


def add_to_cart(*, user, sku_id: int, quantity: int = 1, warehouse=None, sku=None) -> CartLine:
    """Add `quantity` of a SKU to the cart (on top of what is already there).

    All or nothing: a quantity the shopper could not order leaves the cart as it was.
    `sku` is the Sku row (product joined) when the caller has read it already.

    Query budget (pinned by tests/test_query_budget.py): cart upsert (locks
    the row), the cart's lines, [the SKU], the stock row, the line write.
    """
    with transaction.atomic():
        cart = _locked_cart(user)
        line, count = _line_for(cart, sku_id)
        if line is None and count >= MAX_CART_LINES:
            raise CartError(
                _("Your cart is full: at most %(n)d different items.") % {"n": MAX_CART_LINES}
            )
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise CartError(_("The quantity must be at least 1."))
        total = (line.quantity if line else 0) + quantity
        _check_quantity(sku_id=sku_id, quantity=total, warehouse=warehouse, sku=sku)
        if line is None:
            line = CartLine.objects.create(cart=cart, sku_id=sku_id, quantity=total)
        else:
            line.quantity = total
            line.save(update_fields=["quantity"])
        cart_count_cache.changed(user_id=user.pk)
    return line


def set_cart_quantity(*, user, sku_id: int, quantity: int, warehouse=None) -> CartLine | None:
    """Set a line's quantity; 0 removes the line. Returns the line, or None when removed.

    Lowering a quantity is always allowed (the shopper is fixing a problem);
    raising it is checked like adding.
    """
    with transaction.atomic():
        cart = _locked_cart(user)  # touches updated_at too
        line = CartLine.objects.filter(cart=cart, sku_id=sku_id).first()
        if line is None:
            raise CartError(_("This item is no longer in your cart."))
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise CartError(_("The quantity must be at least 1."))
        cart_count_cache.changed(user_id=user.pk)
        if quantity == 0:
            CartLine.objects.filter(pk=line.pk).delete()
            return None
        if quantity > line.quantity:
            _check_quantity(sku_id=sku_id, quantity=quantity, warehouse=warehouse)
        line.quantity = quantity
        line.save(update_fields=["quantity"])
    return line


def remove_from_cart(*, user, sku_id: int) -> bool:
    """Take a SKU out of the cart. Returns False when it was not there."""
    deleted, _by_model = CartLine.objects.filter(cart__user=user, sku_id=sku_id).delete()
    cart_count_cache.changed(user_id=user.pk)
    return bool(deleted)


def clear_cart(*, user) -> int:
    deleted, _by_model = CartLine.objects.filter(cart__user=user).delete()
    cart_count_cache.changed(user_id=user.pk)
    return deleted
