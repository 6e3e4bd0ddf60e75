"""Catalog data: categories, suppliers, products (SPU) and SKUs, images,
warehouses with their cutoff, stock per delivery day and the stock ledger.

Invariants the database can hold live here (stock never below zero, one stock
row per SKU / warehouse / day, one default warehouse); every write goes
through catalog/services.py.
"""

from __future__ import annotations

import secrets
from datetime import time

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from tuangou.audit import audited
from tuangou.money import MoneyField


def new_code() -> str:
    """A short, unguessable public code for URLs (never a sequential id)."""
    return secrets.token_urlsafe(8).replace("-", "x").replace("_", "y").lower()[:10]


def new_image_key() -> str:
    return secrets.token_hex(12)


class Warehouse(models.Model):
    """A city warehouse: everything ordered before its cutoff leaves it next morning."""

    name = models.CharField(_("name"), max_length=60)
    city = models.CharField(_("city"), max_length=30)
    address = models.CharField(_("address"), max_length=200)
    cutoff_time = models.TimeField(_("daily cutoff"), default=time(23, 0))
    pickup_time = models.TimeField(_("earliest pickup next day"), default=time(10, 0))
    # Where the vans leave from (route optimisation measures from here).
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    is_default = models.BooleanField(_("default warehouse"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["pk"]
        constraints = [
            # At most one default: the storefront falls back to it before a
            # shopper has chosen a pickup point.
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="catalog_one_default_warehouse",
            )
        ]

    def __str__(self) -> str:
        return f"{self.city} · {self.name}"


class ServicePromise(models.Model):
    """A service promise shown on a product page (服务承诺: 坏果包赔, 缺货必赔, 次日达).

    Set on a category or a product: a product shows its own promises if it has
    any, else its category's, else its top category's (Product.promise_source).
    """

    name = models.CharField(_("name"), max_length=12, unique=True)
    description = models.CharField(
        _("what it means"),
        max_length=120,
        blank=True,
        help_text=_("One sentence for the shopper, e.g. how a bad item is refunded."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service promise")
        verbose_name_plural = _("service promises")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class UncollectedAction(models.TextChoices):
    REFUND = "refund", _("Refund the shopper")  # perishables: cannot go back on a shelf
    RETURN = "return", _("Return to the warehouse")  # shelf-stable goods


class Category(models.Model):
    """Two levels: a top category (蔬菜) and its children (叶菜, 根茎)."""

    name = models.CharField(_("name"), max_length=30)
    slug = models.SlugField(_("slug"), max_length=40, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    icon = models.CharField(
        _("icon"),
        max_length=8,
        blank=True,
        help_text=_("One character or an emoji, shown in a round badge."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    # What happens to goods of this category nobody collected by the deadline:
    # perishables are refunded and written off, the rest go back to the warehouse.
    uncollected_action = models.CharField(
        _("when uncollected"),
        max_length=10,
        choices=UncollectedAction.choices,
        default=UncollectedAction.RETURN,
    )
    promises = models.ManyToManyField(
        ServicePromise,
        verbose_name=_("service promises"),
        blank=True,
        related_name="categories",
        help_text=_(
            "Shown on the pages of this category's products that have no promises of their own."
        ),
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name

    def clean(self) -> None:
        # Two levels only: the storefront shows top categories as tabs and
        # their children as chips; a third level would have nowhere to go.
        if self.parent_id is None:
            return
        if self.parent_id == self.pk:
            raise ValidationError({"parent": _("A category cannot be its own parent.")})
        if self.parent.parent_id is not None:
            raise ValidationError({"parent": _("Choose a top-level category as the parent.")})
        if self.pk and Category.objects.filter(parent_id=self.pk).exists():
            raise ValidationError(
                {"parent": _("This category has subcategories, so it must stay at the top.")}
            )


class Supplier(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    contact = models.CharField(_("contact person"), max_length=30, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), default=1)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StorageClass(models.TextChoices):
    AMBIENT = "ambient", _("Room temperature")  # 常温: shelves, no cold chain
    CHILLED = "chilled", _("Chilled")  # 冷藏: 0-4 °C
    FROZEN = "frozen", _("Frozen")  # 冷冻: -18 °C


class Product(models.Model):
    """An SPU: what the shopper sees as one item; the SKUs carry prices."""

    code = models.SlugField(_("public code"), max_length=40, unique=True, default=new_code)
    name = models.CharField(_("name"), max_length=60)
    subtitle = models.CharField(_("subtitle"), max_length=120, blank=True)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Rich text; unsafe HTML is removed on save.")
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="products"
    )
    supplier = models.ForeignKey(
        Supplier,
        verbose_name=_("supplier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
    )
    unit = models.CharField(_("unit"), max_length=10, default="份")
    origin = models.CharField(_("origin"), max_length=40, blank=True)
    storage_class = models.CharField(
        _("storage"), max_length=10, choices=StorageClass.choices, default=StorageClass.AMBIENT
    )
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    tags = ArrayField(
        models.CharField(max_length=20), verbose_name=_("tags"), default=list, blank=True
    )
    promises = models.ManyToManyField(
        ServicePromise,
        verbose_name=_("service promises"),
        blank=True,
        related_name="products",
        help_text=_("Empty to show the category's promises."),
    )
    # Search keys of the name (catalog/pinyin.py), written by save_product.
    name_pinyin = models.CharField(_("name in pinyin"), max_length=360, blank=True, editable=False)
    name_initials = models.CharField(
        _("initials of the name"), max_length=60, blank=True, editable=False
    )
    is_on_shelf = models.BooleanField(_("on shelf"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["position", "pk"]
        indexes = [
            models.Index(fields=["is_on_shelf", "category"], name="catalog_product_shelf_cat"),
            # gin_trgm_ops serves ILIKE '%西红柿%' as well as similarity().
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="catalog_product_name_trgm"),
            GinIndex(
                OpClass(Upper("subtitle"), name="gin_trgm_ops"), name="catalog_product_sub_trgm"
            ),
            # Stored lower-case: LIKE '%pingguo%' and word similarity (%>) use them.
            GinIndex(OpClass("name_pinyin", name="gin_trgm_ops"), name="catalog_product_py_trgm"),
            GinIndex(
                OpClass("name_initials", name="gin_trgm_ops"), name="catalog_product_ini_trgm"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProductImage(models.Model):
    """A processed upload: the files live under catalog/products/<key>/."""

    # The sizes live in catalog/images.py; each exists as .webp and .jpg.
    VARIANTS = ("list", "detail", "share")

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="images"
    )
    key = models.CharField(_("file key"), max_length=32, unique=True, default=new_image_key)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    alt = models.CharField(_("description"), max_length=80, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.product_id}/{self.key}"

    @staticmethod
    def path_for(key: str, variant: str, ext: str) -> str:
        return f"catalog/products/{key}/{variant}.{ext}"

    def paths(self) -> list[str]:
        names = [self.path_for(self.key, "original", "jpg")]
        for variant in self.VARIANTS:
            names += [
                self.path_for(self.key, variant, "webp"),
                self.path_for(self.key, variant, "jpg"),
            ]
        return names

    def url(self, variant: str, ext: str = "jpg") -> str:
        return default_storage.url(self.path_for(self.key, variant, ext))

    @property
    def list_webp(self) -> str:
        return self.url("list", "webp")

    @property
    def list_jpg(self) -> str:
        return self.url("list")

    @property
    def detail_webp(self) -> str:
        return self.url("detail", "webp")

    @property
    def detail_jpg(self) -> str:
        return self.url("detail")

    @property
    def share_webp(self) -> str:
        return self.url("share", "webp")

    @property
    def share_jpg(self) -> str:
        return self.url("share")


# Audit trail (tuangou/audit.py): every price, whoever changes it, however.
@audited(
    fields=["price", "market_price", "cost_price"],
    model_name="SkuPriceEvent",
    verbose_name=_("price history"),
)
class Sku(models.Model):
    """A sellable spec of a product: "500g/份" at its 团购价."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="skus"
    )
    code = models.SlugField(_("public code"), max_length=40, unique=True, default=new_code)
    spec = models.CharField(_("spec"), max_length=40, help_text=_('e.g. "500g/份"'))
    price = MoneyField(_("group price"))
    market_price = MoneyField(_("market price"), null=True, blank=True)
    cost_price = MoneyField(_("cost price"), null=True, blank=True)
    barcode = models.CharField(_("barcode"), max_length=32, blank=True)
    weight_grams = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    # Purchasing: the supplier sells whole cases, and at least a minimum quantity.
    case_pack = models.PositiveIntegerField(
        _("units per case"), default=1, help_text=_("Purchase orders round up to whole cases.")
    )
    min_order_quantity = models.PositiveIntegerField(
        _("minimum order quantity"), default=1, help_text=_("The supplier's minimum, in units.")
    )
    bin_location = models.CharField(
        _("bin location"),
        max_length=20,
        blank=True,
        help_text=_(
            'Where it sits in the warehouse, e.g. "A-03-2": picking lists walk in this order.'
        ),
    )
    per_order_limit = models.PositiveIntegerField(
        _("limit per order"), null=True, blank=True, help_text=_("Empty for no limit.")
    )
    daily_quota = models.PositiveIntegerField(
        _("default daily quota"),
        default=0,
        help_text=_("Rolled forward every night into the stock of each delivery day."),
    )
    cutoff_time = models.TimeField(
        _("own cutoff"),
        null=True,
        blank=True,
        help_text=_("Earlier than the warehouse cutoff, for fresh goods. Empty to follow it."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="catalog_sku_price_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} {self.spec}" if self.product_id else self.spec


# Audit trail of stock set by hand (staff, scripts, raw F() updates): an update
# that changes quantity + sold. Selling and cancelling move units between the
# two and are not recorded here (the stock ledger and the orders hold them).
@audited(
    fields=["quantity", "sold", "held"],
    model_name="StockRecordEvent",
    verbose_name=_("stock history"),
    update_condition="OLD.quantity + OLD.sold IS DISTINCT FROM NEW.quantity + NEW.sold",
)
class StockRecord(models.Model):
    """What is left to sell of one SKU for one delivery day at one warehouse."""

    sku = models.ForeignKey(
        Sku, verbose_name=_("SKU"), on_delete=models.CASCADE, related_name="stock_records"
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE, related_name="stock"
    )
    delivery_date = models.DateField(_("delivery date"))
    quantity = models.IntegerField(_("available"), default=0)
    sold = models.IntegerField(_("sold"), default=0)
    # Part of `quantity` set aside for group buys (hold_stock): ordinary
    # orders may take only quantity - held.
    held = models.IntegerField(_("held for group buys"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        ordering = ["delivery_date", "sku_id", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sku", "warehouse", "delivery_date"], name="catalog_stock_one_row_per_day"
            ),
            # The last line of defence against overselling, under any race.
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="catalog_stock_quantity_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(sold__gte=0), name="catalog_stock_sold_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(held__gte=0, held__lte=models.F("quantity")),
                name="catalog_stock_held_within_quantity",
            ),
        ]
        indexes = [
            models.Index(fields=["warehouse", "delivery_date"], name="catalog_stock_wh_day"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.delivery_date:%Y-%m-%d}: {self.quantity}"


class StockReason(models.TextChoices):
    ROLL_FORWARD = "roll_forward", _("Daily quota")  # the nightly task opened the day
    ADJUST = "adjust", _("Operator adjustment")  # an operator raised, lowered or closed it
    RESERVE = "reserve", _("Reserved by an order")  # an order took it
    RELEASE = "release", _("Released")  # a cancelled or unpaid order gave it back
    HOLD = "hold", _("Held for a group buy")  # set aside (quantity unchanged)
    UNHOLD = "unhold", _("Hold given back")  # back to general sale (quantity unchanged)


class StockLedger(models.Model):
    """Every change of StockRecord.quantity, append-only: the deltas sum to it,
    and the held_deltas sum to StockRecord.held."""

    sku = models.ForeignKey(Sku, verbose_name=_("SKU"), on_delete=models.CASCADE)
    warehouse = models.ForeignKey(Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE)
    delivery_date = models.DateField(_("delivery date"))
    delta = models.IntegerField(_("change"))
    # Change of StockRecord.held: hold/unhold rows, and the reserve/release
    # rows of an order drawn from the hold (null: the hold did not change).
    held_delta = models.IntegerField(_("held change"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=20, choices=StockReason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock ledger entry")
        verbose_name_plural = _("stock ledger")
        ordering = ["-pk"]
        constraints = [
            # A reference (an order number) reserves an SKU once and releases
            # it once: retries and double clicks change nothing.
            models.UniqueConstraint(
                fields=["reference", "sku", "warehouse", "delivery_date", "reason"],
                condition=models.Q(reason__in=["reserve", "release"]),
                name="catalog_ledger_once_per_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["sku", "warehouse", "delivery_date"], name="catalog_ledger_row"),
            models.Index(fields=["reference"], name="catalog_ledger_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.delta:+d} {self.reference}".strip()
