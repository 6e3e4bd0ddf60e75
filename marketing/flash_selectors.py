"""Reads of 限时秒杀 for pages: today's board (the 秒杀 page), and its cached
summary for the countdowns on the home and product pages; for the checkout,
whether any of its SKUs is in a running session (`may_admit`, cached).

Units left come from the Redis gate for a Redis-gated item (what the gate will
still admit, one MGET for the whole board) and from the database counter
otherwise, or when the gate cannot be reached.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Prefetch
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from catalog.models import ProductImage
from tuangou.timeutils import local_datetime, to_local

from . import gate
from .models import FlashSale, FlashSaleItem, GateMode

RUNNING = "running"
UPCOMING = "upcoming"
ENDED = "ended"
# The beat rewrites it every minute; a longer life covers a late beat.
SUMMARY_SECONDS = 600

log = logging.getLogger(__name__)


@dataclass
class BoardItem:
    item_id: int
    sku_id: int
    sku_code: str
    product_id: int
    product_code: str
    product_name: str
    spec: str
    price: Decimal
    list_price: Decimal
    quota: int
    left: int
    per_user_limit: int
    image: object | None = None

    @property
    def is_sold_out(self) -> bool:
        return self.left <= 0

    @property
    def sold(self) -> int:
        return self.quota - self.left

    @property
    def percent_sold(self) -> int:
        return min(100, round(100 * self.sold / self.quota)) if self.quota else 100


@dataclass
class BoardSession:
    sale_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    gate_mode: str
    items: list[BoardItem] = field(default_factory=list)
    state: str = UPCOMING

    @property
    def is_running(self) -> bool:
        return self.state == RUNNING

    @property
    def is_upcoming(self) -> bool:
        return self.state == UPCOMING

    @property
    def is_ended(self) -> bool:
        return self.state == ENDED

    @property
    def countdown_to(self) -> datetime:
        return self.ends_at if self.is_running else self.starts_at


def _state(starts_at, ends_at, at) -> str:
    if at < starts_at:
        return UPCOMING
    return RUNNING if at < ends_at else ENDED


def _day_bounds(at):
    day = to_local(at).date()
    start = local_datetime(day, datetime.min.time())
    return start, start + timedelta(days=1)


def _gate_left(items: list[FlashSaleItem]) -> dict[int, int]:
    gated = [i.pk for i in items if i.sale.gate_mode == GateMode.REDIS]
    if not gated:
        return {}
    try:
        values = gate.client().mget([gate.keys(pk)["left"] for pk in gated])
    except (gate.redis.ConnectionError, gate.redis.TimeoutError):
        return {}
    return {pk: int(v) for pk, v in zip(gated, values, strict=True) if v is not None}


def flash_board(*, at=None, with_images: bool = True) -> list[BoardSession]:
    """Today's active sessions (Shanghai day), running first, then upcoming, then
    ended, each with its items. Three queries (sessions, items with SKU and
    product, images) and one Redis MGET."""
    at = at or timezone.now()
    start, end = _day_bounds(at)
    items_qs = FlashSaleItem.objects.select_related("sku__product", "sale").order_by(
        "position", "pk"
    )
    sales = list(
        FlashSale.objects.filter(is_active=True, starts_at__lt=end, ends_at__gt=start)
        .prefetch_related(Prefetch("items", queryset=items_qs))
        .order_by("starts_at", "pk")
    )
    all_items = [item for sale in sales for item in sale.items.all()]
    images: dict[int, ProductImage] = {}
    if with_images and all_items:
        for image in ProductImage.objects.filter(
            product_id__in={i.sku.product_id for i in all_items}
        ).order_by("-position", "-pk"):
            images[image.product_id] = image  # the first by position wins
    left = _gate_left(all_items)
    board = []
    for sale in sales:
        session = BoardSession(
            sale_id=sale.pk,
            name=sale.name,
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
            gate_mode=sale.gate_mode,
            state=_state(sale.starts_at, sale.ends_at, at),
        )
        for item in sale.items.all():
            session.items.append(
                BoardItem(
                    item_id=item.pk,
                    sku_id=item.sku_id,
                    sku_code=item.sku.code,
                    product_id=item.sku.product_id,
                    product_code=item.sku.product.code,
                    product_name=item.sku.product.name,
                    spec=item.sku.spec,
                    price=item.price,
                    list_price=item.sku.price,
                    quota=item.quota,
                    left=max(0, left.get(item.pk, item.quota - item.sold)),
                    per_user_limit=item.per_user_limit,
                    image=images.get(item.sku.product_id),
                )
            )
        board.append(session)
    order = {RUNNING: 0, UPCOMING: 1, ENDED: 2}
    board.sort(key=lambda s: (order[s.state], s.starts_at))
    return board


def _summary_key(at) -> str:
    return f"marketing:flash-board:{to_local(at).date().isoformat()}"


def refresh_board(*, at=None) -> list[BoardSession]:
    """Build today's board (no pictures) and keep it in the cache for the home
    and product pages. Called after a session is saved (on commit), by the 秒杀
    page, and every minute by the beat (marketing.tasks.flash_upkeep_task), so
    units left and a new day's sessions reach those pages within a minute."""
    at = at or timezone.now()
    sessions_changed()  # also the checkout's windows (may_admit), at once
    board = flash_board(at=at, with_images=False)
    cache.set(_summary_key(at), board, SUMMARY_SECONDS)
    return board


def keep_board(board: list[BoardSession], *, at=None) -> None:
    """The 秒杀 page read the board anyway: keep it for the other pages too."""
    cache.set(_summary_key(at or timezone.now()), board, SUMMARY_SECONDS)


def board_summary(*, at=None) -> list[BoardSession]:
    """Today's sessions still running or to come, from the cache: no query at all.

    The home and product pages are pinned to their query budgets, so a cold
    cache answers "nothing" rather than reading PostgreSQL: the board is written
    by refresh_board (session saved, 秒杀 page, beat every minute). States are
    recomputed from `at` on every call, so a cached board still flips on time.
    """
    at = at or timezone.now()
    board = cache.get(_summary_key(at)) or []
    for session in board:
        session.state = _state(session.starts_at, session.ends_at, at)
    return [s for s in board if not s.is_ended]


def headline_session(*, at=None) -> BoardSession | None:
    """The session the home page counts down to: the running one, else the next today."""
    live = board_summary(at=at)
    return live[0] if live else None


def flash_for_product(*, product_id: int, at=None) -> tuple[BoardSession, BoardItem] | None:
    """The running (else next) session today with a SKU of this product, from the cache."""
    for session in board_summary(at=at):
        for item in session.items:
            if item.product_id == product_id:
                return session, item
    return None


# --- the checkout's admission read, skipped when no session can admit ------------------
#
# Placing an order asks marketing.services.flash.admit_lines for the 秒杀 items
# of its SKUs (one query) on every checkout, although a session runs for a few
# hours a day and holds a few SKUs. `may_admit` answers "could one of these
# SKUs be admitted now?" from today's windows (each active session's start,
# end and SKUs) kept in the Django cache with a version token, read in the
# same round trip. The token is replaced, at once and again after commit, on
# every save or delete of a session or an item (receivers below, same app),
# and by refresh_board (after the admin's or the demo's save_flash_sale, and
# every minute from the beat). The token is read before the windows are
# loaded: a change committed meanwhile replaces it, so what is stored is never
# read. Redis down: the windows are read from PostgreSQL (one query, as
# before). A "yes" still goes through admit_lines, which reads the items.

WINDOWS_VERSION_KEY = "marketing:flash-windows:version"
WINDOWS_SECONDS = 60 * 60


def _windows_key(at) -> str:
    return f"marketing:flash-windows:{to_local(at).date().isoformat()}"


def _load_windows(at) -> list[tuple[datetime, datetime, frozenset[int]]]:
    start, end = _day_bounds(at)
    windows: dict[int, tuple[datetime, datetime, set[int]]] = {}
    for sale_id, starts_at, ends_at, sku_id in (
        FlashSaleItem.objects.filter(
            sale__is_active=True, sale__starts_at__lt=end, sale__ends_at__gt=start
        )
        .order_by()
        .values_list("sale_id", "sale__starts_at", "sale__ends_at", "sku_id")
    ):
        windows.setdefault(sale_id, (starts_at, ends_at, set()))[2].add(sku_id)
    return [(s, e, frozenset(skus)) for s, e, skus in windows.values()]


def todays_windows(*, at=None) -> list[tuple[datetime, datetime, frozenset[int]]]:
    """(starts_at, ends_at, sku ids) of each active session of `at`'s Shanghai
    day, from the cache while the token holds (see above)."""
    at = at or timezone.now()
    key = _windows_key(at)
    try:
        found = cache.get_many([key, WINDOWS_VERSION_KEY])
        token = found.get(WINDOWS_VERSION_KEY)
        if token is None:
            token = secrets.token_hex(4)
            if not cache.add(WINDOWS_VERSION_KEY, token, timeout=None):
                token = cache.get(WINDOWS_VERSION_KEY) or token
    except Exception:
        log.warning("flash windows cache unavailable", exc_info=True)
        return _load_windows(at)
    entry = found.get(key)
    if entry is not None and entry[0] == token:
        return entry[1]
    windows = _load_windows(at)
    try:
        cache.set(key, (token, windows), timeout=WINDOWS_SECONDS)
    except Exception:
        log.warning("flash windows cache: could not store", exc_info=True)
    return windows


def may_admit(*, sku_ids: Iterable[int], at=None) -> bool:
    """False when no active session running at `at` holds one of these SKUs:
    admit_lines would admit nothing, and its read can be skipped."""
    at = at or timezone.now()
    wanted = set(sku_ids)
    return any(
        starts_at <= at < ends_at and not wanted.isdisjoint(skus)
        for starts_at, ends_at, skus in todays_windows(at=at)
    )


def sessions_changed() -> None:
    """A session or an item changed: the cached windows are stale now and
    again once the transaction commits."""

    def _replace() -> None:
        try:
            cache.set(WINDOWS_VERSION_KEY, secrets.token_hex(4), timeout=None)
        except Exception:
            log.warning("flash windows cache: could not replace the token", exc_info=True)

    _replace()
    transaction.on_commit(_replace)


def _on_session_written(sender, **kwargs) -> None:
    sessions_changed()


for _model in (FlashSale, FlashSaleItem):
    post_save.connect(
        _on_session_written, sender=_model, dispatch_uid=f"flash.windows.save.{_model.__name__}"
    )
    post_delete.connect(
        _on_session_written, sender=_model, dispatch_uid=f"flash.windows.delete.{_model.__name__}"
    )
