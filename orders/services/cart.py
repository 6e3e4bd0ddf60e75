"""The shopper's cart: one line per SKU, quantities checked as they change.

A cart line is a wish, not a reservation: stock is only held by place_order.
Every change is still checked against what the shopper could buy right now
(on sale, the per-order limit, what is left for the delivery day at the
shopper's warehouse) so that the cart never promises what checkout refuses.
"""

from __future__ import annotations

from django.db import connection, transaction
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


# add_to_cart's two statements. The first creates or touches the shopper's
# cart and reads its lines with it (a CTE; the SELECT sees the lines as they
# were when the statement began, which is all it reads). The second writes
# the line only if it still holds what was read: a compare-and-set instead of
# a row lock held across the checks, so an add costs no BEGIN/COMMIT.
_CART_AND_LINES_SQL = """WITH cart AS (
    INSERT INTO orders_cart (user_id, updated_at) VALUES (%(user)s, %(now)s)
    ON CONFLICT (user_id) DO UPDATE SET updated_at = EXCLUDED.updated_at
    RETURNING id
)
SELECT cart.id, line.id, line.sku_id, line.quantity, line.added_at
FROM cart LEFT JOIN orders_cartline line ON line.cart_id = cart.id"""
_ADD_LINE_SQL = """INSERT INTO orders_cartline (cart_id, sku_id, quantity, added_at)
VALUES (%(cart)s, %(sku)s, %(quantity)s, %(now)s)
ON CONFLICT (cart_id, sku_id) DO UPDATE
SET quantity = orders_cartline.quantity + EXCLUDED.quantity
WHERE orders_cartline.quantity = %(seen)s
RETURNING id, quantity, added_at"""
# Compare-and-set rounds before an add gives up (each lost to another tab).
_ADD_ATTEMPTS = 5


def _cart_and_lines(user, now) -> tuple[int, list[CartLine]]:
    with connection.cursor() as cursor:
        cursor.execute(_CART_AND_LINES_SQL, {"user": user.pk, "now": now})
        rows = cursor.fetchall()
    cart_id = rows[0][0]
    lines = [
        CartLine(pk=pk, cart_id=cart_id, sku_id=sku_id, quantity=quantity, added_at=added_at)
        for _cart, pk, sku_id, quantity, added_at in rows
        if pk is not None
    ]
    return cart_id, lines


def add_to_cart(*, user, sku_id: int, quantity: int = 1, warehouse=None, sku=None) -> CartLine:
    """Add `quantity` of a SKU to the cart (on top of what is already there).

    All or nothing: a quantity the shopper could not order leaves the cart as it was.
    `sku` is the Sku row (product joined) when the caller has read it already.

    Query budget (pinned by tests/test_query_budget.py): the cart created or
    touched with its lines (one statement), [the SKU], the stock row, the
    line written with a compare-and-set on the quantity read (no
    transaction: each statement commits alone). Another tab's add in between
    makes the write miss; the add is then checked again on what that tab left.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise CartError(_("The quantity must be at least 1."))
    now = timezone.now()
    for _attempt in range(_ADD_ATTEMPTS):
        cart_id, lines = _cart_and_lines(user, now)
        line = next((line for line in lines if line.sku_id == sku_id), None)
        if line is None and len(lines) >= MAX_CART_LINES:
            raise CartError(
                _("Your cart is full: at most %(n)d different items.") % {"n": MAX_CART_LINES}
            )
        seen = line.quantity if line else 0
        _check_quantity(sku_id=sku_id, quantity=seen + quantity, warehouse=warehouse, sku=sku)
        with connection.cursor() as cursor:
            cursor.execute(
                _ADD_LINE_SQL,
                {"cart": cart_id, "sku": sku_id, "quantity": quantity, "now": now, "seen": seen},
            )
            written = cursor.fetchone()
        if written is not None:
            cart_count_cache.changed(user_id=user.pk)
            pk, total, added_at = written
            return CartLine(
                pk=pk, cart_id=cart_id, sku_id=sku_id, quantity=total, added_at=added_at
            )
    raise CartError(_("Your cart changed in another window. Please try again."))


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
