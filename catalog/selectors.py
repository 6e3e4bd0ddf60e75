"""Reads for the storefront, the admin stock view and other apps.

Hot pages (home, category, search) run a fixed number of queries whatever the
number of products: one for the page of products, one each for their SKUs,
those SKUs' stock for the delivery days, and the images. Figures are put
together in Python into plain cards, so templates stay dumb.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import connections, router
from django.db.models import (
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from tuangou.timeutils import now as _now
from tuangou.timeutils import to_local

from . import pinyin, storefront_cache
from .cutoff import OrderDeadline, delivery_date_for, order_deadline
from .models import (
    Category,
    Product,
    ProductImage,
    ServicePromise,
    Sku,
    StockLedger,
    StockRecord,
    Warehouse,
)
from .richtext import sanitize_description

PAGE_SIZE = 10
MAX_QUERY_LENGTH = 40


# --- warehouses and the shopper's delivery day --------------------------------


def default_warehouse() -> Warehouse | None:
    return Warehouse.objects.filter(is_default=True, is_active=True).first()


def _storefront_default_warehouse() -> Warehouse | None:
    """default_warehouse() from the storefront cache (the warehouse admin bumps it)."""
    return storefront_cache.cached("default-warehouse", default_warehouse)


@dataclass(frozen=True)
class Storefront:
    """Where the shopper's goods come from and when they arrive."""

    warehouse: Warehouse | None
    pickup_point: object | None  # leaders.PickupPoint once chosen
    deadline: OrderDeadline | None
    at: datetime
    # "paused" (the leader paused the delivery day) or "closed" (the point does
    # not open that weekday): the shopper cannot collect on the delivery date.
    pickup_problem: str | None = None

    @property
    def delivery_date(self) -> date | None:
        return self.deadline.delivery_date if self.deadline else None


_UNSET = object()


def storefront_for(*, pickup_point=None, at: datetime | None = None, default=_UNSET) -> Storefront:
    """The pickup point's warehouse, or the default one until the shopper chooses.

    `default`: the default warehouse when the caller already read it (the
    home page reads it with the rest of its cache entries in one round trip).
    """
    moment = to_local(at or _now())
    warehouse = getattr(pickup_point, "warehouse", None) if pickup_point else None
    if warehouse is None:
        warehouse = _storefront_default_warehouse() if default is _UNSET else default
    deadline = order_deadline(warehouse=warehouse, at=moment) if warehouse else None
    return Storefront(
        warehouse=warehouse,
        pickup_point=pickup_point,
        deadline=deadline,
        at=moment,
        pickup_problem=_pickup_problem(pickup_point, deadline),
    )


def _pickup_problem(pickup_point, deadline: OrderDeadline | None) -> str | None:
    # The leaders app answers (PickupPoint.pickup_problem_on, no query when the
    # point came from leaders.selectors.pickup_point_for_shopper).
    check = getattr(pickup_point, "pickup_problem_on", None)
    if check is None or deadline is None:
        return None
    return check(deadline.delivery_date)


# --- categories ---------------------------------------------------------------


def top_categories() -> list[Category]:
    return list(Category.objects.filter(is_active=True, parent__isnull=True))


def storefront_top_categories() -> list[Category]:
    """top_categories() from the storefront cache (the category admin bumps it)."""
    return storefront_cache.cached("top-categories", top_categories)


def category_tree() -> list[Category]:
    """Top-level categories with `.active_children` (two queries)."""
    children = Category.objects.filter(is_active=True)
    return list(
        Category.objects.filter(is_active=True, parent__isnull=True).prefetch_related(
            Prefetch("children", queryset=children, to_attr="active_children")
        )
    )


def category_by_slug(*, slug: str) -> Category | None:
    """An active category with its parent and `.active_children` (two queries)."""
    children = Category.objects.filter(is_active=True)
    return (
        Category.objects.filter(is_active=True, slug=slug)
        .filter(Q(parent__isnull=True) | Q(parent__is_active=True))
        .select_related("parent")
        .prefetch_related(Prefetch("children", queryset=children, to_attr="active_children"))
        .first()
    )


# --- product cards --------------------------------------------------------------


@dataclass
class SkuOption:
    sku: Sku
    delivery_date: date | None
    remaining: int
    sold: int

    @property
    def code(self) -> str:
        return self.sku.code

    @property
    def is_sold_out(self) -> bool:
        return self.remaining <= 0


@dataclass
class ProductCard:
    product: Product
    options: list[SkuOption]
    images: list[ProductImage] = field(default_factory=list)
    description_html: str = ""
    promises: list[ServicePromise] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.product.code

    @property
    def image(self) -> ProductImage | None:
        return self.images[0] if self.images else None

    @property
    def lead(self) -> SkuOption | None:
        """The SKU the card shows: the cheapest one still available, else the cheapest."""
        if not self.options:
            return None
        available = [o for o in self.options if not o.is_sold_out] or self.options
        return min(available, key=lambda o: (o.sku.price, o.sku.position, o.sku.pk))

    @property
    def price(self) -> Decimal | None:
        return self.lead.sku.price if self.lead else None

    @property
    def market_price(self) -> Decimal | None:
        lead = self.lead
        if lead and lead.sku.market_price and lead.sku.market_price > lead.sku.price:
            return lead.sku.market_price
        return None

    @property
    def sold(self) -> int:
        return sum(o.sold for o in self.options)

    @property
    def remaining(self) -> int:
        return sum(max(o.remaining, 0) for o in self.options)

    @property
    def percent_sold(self) -> int:
        total = self.sold + self.remaining
        return 100 if total == 0 else round(100 * self.sold / total)

    @property
    def is_sold_out(self) -> bool:
        return self.remaining <= 0


@dataclass
class CardPage:
    cards: list[ProductCard]
    page: int
    has_next: bool

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.has_next else None


def _with_stock(products: QuerySet[Product], storefront: Storefront) -> QuerySet[Product]:
    if storefront.warehouse is not None:
        # Both possible delivery days: an SKU with its own earlier cutoff may
        # already sell for the day after.
        first = storefront.deadline.delivery_date
        days = [first, first.fromordinal(first.toordinal() + 1)]
        stock = StockRecord.objects.filter(warehouse=storefront.warehouse, delivery_date__in=days)
    else:
        stock = StockRecord.objects.none()
    skus = Sku.objects.filter(is_active=True).prefetch_related(
        Prefetch("stock_records", queryset=stock, to_attr="day_stock")
    )
    return products.prefetch_related(
        Prefetch("skus", queryset=skus, to_attr="active_skus"),
        Prefetch("images", queryset=ProductImage.objects.all(), to_attr="all_images"),
    )


def _card(product: Product, storefront: Storefront) -> ProductCard:
    options = []
    for sku in product.active_skus:
        day = (
            delivery_date_for(warehouse=storefront.warehouse, at=storefront.at, sku=sku)
            if storefront.warehouse
            else None
        )
        record = next((r for r in sku.day_stock if r.delivery_date == day), None)
        options.append(
            SkuOption(
                sku=sku,
                delivery_date=day,
                # What an ordinary shopper can buy: campaign holds are not for sale.
                remaining=record.quantity - record.held if record else 0,
                sold=record.sold if record else 0,
            )
        )
    return ProductCard(product=product, options=options, images=product.all_images)


def on_shelf_products() -> QuerySet[Product]:
    has_sku = Sku.objects.filter(product=OuterRef("pk"), is_active=True)
    return Product.objects.filter(Exists(has_sku), is_on_shelf=True, category__is_active=True)


def _rows(products: QuerySet[Product], page: int) -> tuple[list[Product], bool]:
    """A page of products with their active SKUs and pictures (three queries),
    and whether a next page exists: the part of a page that is the same for
    every shopper (the storefront cache keeps the home page's)."""
    start = (page - 1) * PAGE_SIZE
    # One row more than the page instead of a COUNT query: is there a next page?
    rows = list(
        products.prefetch_related(
            Prefetch("skus", queryset=Sku.objects.filter(is_active=True), to_attr="active_skus"),
            Prefetch("images", queryset=ProductImage.objects.all(), to_attr="all_images"),
        )[start : start + PAGE_SIZE + 1]
    )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


class DayStock(NamedTuple):
    """The figures of a StockRecord a card needs."""

    sku_id: int
    delivery_date: date
    quantity: int
    held: int
    sold: int


def _day_stock_sql() -> str:
    table = StockRecord._meta.db_table
    return (
        "SELECT sku_id, delivery_date, quantity, held, sold"  # noqa: S608 - constant SQL
        f' FROM "{table}" WHERE warehouse_id = %s AND delivery_date IN (%s, %s)'
        " AND sku_id = ANY(%s)"
    )


def _attach_stock(products: list[Product], storefront: Storefront) -> None:
    """Each active SKU's stock rows for both possible delivery days, as
    `sku.day_stock` (one query, always fresh: it changes with every order).

    Read with one constant SQL statement rather than a queryset: on the home
    page, building the queryset cost more Python than anything else the view
    does (issue #11); pinned against the ORM's answer by tests/catalog/test_home_shelf.py.
    """
    skus = [sku for product in products for sku in product.active_skus]
    by_sku: dict[int, list[DayStock]] = {sku.pk: [] for sku in skus}
    if storefront.warehouse is not None and skus:
        first = storefront.deadline.delivery_date
        alias = router.db_for_read(StockRecord)
        with connections[alias].cursor() as cursor:
            cursor.execute(
                _day_stock_sql(),
                [storefront.warehouse.pk, first, first + timedelta(days=1), list(by_sku)],
            )
            for row in cursor.fetchall():
                by_sku[row[0]].append(DayStock(*row))
    for sku in skus:
        sku.day_stock = by_sku[sku.pk]


def _cards_page(rows: list[Product], has_next: bool, storefront: Storefront, page: int):
    _attach_stock(rows, storefront)
    return CardPage(cards=[_card(p, storefront) for p in rows], page=page, has_next=has_next)


def _page(products: QuerySet[Product], storefront: Storefront, page: int) -> CardPage:
    page = max(1, page)
    rows, has_next = _rows(products, page)
    return _cards_page(rows, has_next, storefront, page)


def home_rows(*, page: int = 1) -> tuple[list[Product], bool]:
    """The home page's products with their active SKUs and pictures, and
    whether a next page exists (three queries; the same for every shopper:
    catalog.shelf keeps them in the storefront cache with their cards)."""
    return _rows(on_shelf_products().order_by("position", "pk"), max(1, page))


def cards_for_rows(
    rows: list[Product], has_next: bool, *, storefront: Storefront, page: int
) -> CardPage:
    """Cards for rows from the cache, with their stock read fresh (one query)."""
    return _cards_page(rows, has_next, storefront, page)


def category_products(*, storefront: Storefront, category: Category, page: int = 1) -> CardPage:
    ids = [category.pk, *[c.pk for c in getattr(category, "active_children", [])]]
    products = on_shelf_products().filter(category_id__in=ids).order_by("position", "pk")
    return _page(products, storefront, page)


def clean_query(raw: str | None) -> str:
    return " ".join((raw or "").split())[:MAX_QUERY_LENGTH]


def _word_match(word: str) -> Q:
    """One word of a query: the characters, their sound, the initials, or close to them.

    - the characters in the name or subtitle (ILIKE, served by the trigram
      indexes), a tag, or the category's name: the search as it always was;
    - the sound: 苹裹 and "pingguo" both read "pingguo", which the name 红富士苹果
      contains in its pinyin ("hongfushipingguo");
    - the initials: "pg" in "hfspg";
    - close but not equal: a Chinese name within trigram similarity (西红杮 ~
      西红柿, pg_trgm.similarity_threshold) and a pinyin within trigram word
      similarity ("xihongsi" ~ "xihongshi", pg_trgm.word_similarity_threshold).
    """
    match = (
        Q(name__icontains=word)
        | Q(subtitle__icontains=word)
        | Q(tags__contains=[word])
        | Q(category__name=word)
    )
    keys = pinyin.query_keys(word)
    if pinyin.has_han(word) and len(word) >= 2:
        match |= Q(name__trigram_similar=word)
    if keys.pinyin:
        match |= Q(name_pinyin__contains=keys.pinyin) | Q(
            name_pinyin__trigram_word_similar=keys.pinyin
        )
    if keys.initials:
        match |= Q(name_initials__contains=keys.initials)
    return match


def search_products(*, storefront: Storefront, query: str, page: int = 1) -> CardPage:
    """Chinese-friendly search: characters, pinyin, initials and near misses
    (_word_match), every word of the query must match; best name first.

    Trigram similarity alone misses short CJK queries (鸡蛋 is two characters,
    one trigram), so matching starts from ILIKE '%q%' (which gin_trgm_ops
    indexes) and similarity orders the hits: the name's, then its pinyin's.
    One query for the products, like the other storefront pages.
    """
    query = clean_query(query)
    if not query:
        return CardPage(cards=[], page=1, has_next=False)
    match = Q()
    for word in query.split():
        match &= _word_match(word)
    sound = pinyin.query_keys(query.replace(" ", "")).pinyin
    products = (
        on_shelf_products()
        .filter(match)
        .annotate(
            similarity=TrigramSimilarity("name", query),
            sound_similarity=(
                TrigramWordSimilarity(Value(sound), "name_pinyin") if sound else Value(0.0)
            ),
        )
        .order_by("-similarity", "-sound_similarity", "position", "pk")
    )
    return _page(products, storefront, page)


POPULAR_DAYS = 7  # "popular" = most units sold for the last week's delivery days
POPULAR_LIMIT = 6


def popular_products(*, storefront: Storefront, limit: int = POPULAR_LIMIT) -> list[ProductCard]:
    """The best sellers at the shopper's warehouse, offered when a search finds
    nothing (four queries: products, SKUs, stock, images).

    Units sold for the delivery days of the last week up to the coming one;
    sold-out products are left out (nothing to buy), ties by shelf position.
    """
    if storefront.warehouse is None:
        return []
    last = storefront.delivery_date
    sold = (
        StockRecord.objects.filter(
            sku__product=OuterRef("pk"),
            warehouse=storefront.warehouse,
            delivery_date__gt=last - timedelta(days=POPULAR_DAYS),
            delivery_date__lte=last,
        )
        .order_by()
        .values("sku__product")
        .annotate(total=Sum("sold"))
        .values("total")
    )
    products = on_shelf_products().annotate(
        popularity=Coalesce(Subquery(sold, output_field=IntegerField()), 0)
    )
    rows = list(_with_stock(products.order_by("-popularity", "position", "pk"), storefront)[:50])
    cards = [_card(p, storefront) for p in rows]
    return [c for c in cards if not c.is_sold_out][:limit]


# --- product detail ----------------------------------------------------------


def product_detail(*, code: str, storefront: Storefront) -> ProductCard | None:
    """An on-shelf product by its public code, with SKUs, stock, images and promises (5 queries)."""
    products = on_shelf_products().filter(code=code).select_related("category", "supplier")
    product = _with_stock(products, storefront).first()
    if product is None:
        return None
    card = _card(product, storefront)
    # Sanitized on save too; cleaning again on the way out costs microseconds.
    card.description_html = sanitize_description(product.description)
    card.promises = promises_for_product(product=product)
    return card


def promises_for_product(*, product: Product) -> list[ServicePromise]:
    """The service promises a product's page shows (one query).

    The product's own, if it has any; else its category's; else its top
    category's. A product of a category without promises shows none: a
    promise such as 坏果包赔 is made only where an operator set it.
    """
    through = {
        "product": Product.promises.through.objects.filter(
            product_id=product.pk, servicepromise_id=OuterRef("pk")
        ),
        "category": Category.promises.through.objects.filter(
            category_id=product.category_id, servicepromise_id=OuterRef("pk")
        ),
        "parent": Category.promises.through.objects.filter(
            category_id=product.category.parent_id, servicepromise_id=OuterRef("pk")
        ),
    }
    rows = list(
        ServicePromise.objects.filter(is_active=True)
        .annotate(**{f"on_{level}": Exists(rows) for level, rows in through.items()})
        .filter(Q(on_product=True) | Q(on_category=True) | Q(on_parent=True))
    )
    for level in through:
        chosen = [p for p in rows if getattr(p, f"on_{level}")]
        if chosen:
            return chosen
    return []


def sku_by_code(*, code: str) -> Sku | None:
    return Sku.objects.select_related("product").filter(code=code).first()


# --- stock (admin, other apps, tests) ----------------------------------------------


@dataclass
class StockRow:
    sku: Sku
    record: StockRecord | None

    @property
    def quantity(self) -> int:
        return self.record.quantity if self.record else 0

    @property
    def sold(self) -> int:
        return self.record.sold if self.record else 0


def stock_for_day(*, warehouse: Warehouse, delivery_date: date) -> list[StockRow]:
    """Every active SKU with its stock row for the day (if any): the operator's view."""
    stock = StockRecord.objects.filter(warehouse=warehouse, delivery_date=delivery_date)
    skus = (
        Sku.objects.filter(is_active=True)
        .select_related("product")
        .prefetch_related(Prefetch("stock_records", queryset=stock, to_attr="day_stock"))
        .order_by("product__position", "product_id", "position", "pk")
    )
    return [StockRow(sku=s, record=s.day_stock[0] if s.day_stock else None) for s in skus]


def available_quantity(*, sku: Sku | int, warehouse: Warehouse, delivery_date: date) -> int:
    """What ordinary orders can still take that day (campaign holds excluded)."""
    value = (
        StockRecord.objects.filter(sku=sku, warehouse=warehouse, delivery_date=delivery_date)
        .annotate(sellable=F("quantity") - F("held"))
        .values_list("sellable", flat=True)
        .first()
    )
    return value or 0


class StockMismatch(NamedTuple):
    """A stock row the ledger does not explain (a side with nothing counts as 0)."""

    sku_id: int
    warehouse_id: int
    delivery_date: date
    ledger_quantity: int  # the ledger's deltas summed
    quantity: int  # StockRecord.quantity
    ledger_held: int  # the ledger's held_deltas summed
    held: int  # StockRecord.held


def stock_ledger_mismatches() -> list[StockMismatch]:
    """Every (SKU, warehouse, day) where the ledger and the stock row disagree:
    the deltas must sum to the row's quantity and the held_deltas to its held
    (units set aside for group buys). Two queries, whatever the number of rows."""
    ledger = {
        (r["sku_id"], r["warehouse_id"], r["delivery_date"]): (r["quantity"], r["held"] or 0)
        for r in StockLedger.objects.order_by()
        .values("sku_id", "warehouse_id", "delivery_date")
        .annotate(quantity=Sum("delta"), held=Sum("held_delta"))
    }
    rows = {
        (sku_id, warehouse_id, day): (quantity, held)
        for sku_id, warehouse_id, day, quantity, held in StockRecord.objects.order_by().values_list(
            "sku_id", "warehouse_id", "delivery_date", "quantity", "held"
        )
    }
    mismatches = []
    for key in sorted(set(ledger) | set(rows)):
        ledger_quantity, ledger_held = ledger.get(key, (0, 0))
        quantity, held = rows.get(key, (0, 0))
        if (ledger_quantity, ledger_held) != (quantity, held):
            mismatches.append(StockMismatch(*key, ledger_quantity, quantity, ledger_held, held))
    return mismatches
