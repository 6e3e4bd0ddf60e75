"""The generated shop `make bench` loads: one warehouse, one pickup point,
a shelf of products, one hot SKU with plenty of stock, and thousands of
signed-in shoppers, each with a server-side session and a CSRF secret.

Sessions are written in bulk through the session engine's own encoding (no
SMS login): the load client sends `sessionid` and `csrftoken` cookies and the
same CSRF secret as the form token, exactly what a browser would after
signing in. Stock goes in with its ADJUST ledger rows, so the ledger agrees with it
from the start.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal

HOT_STOCK = 10**7
SHELF_STOCK = 10**5
EVERY_DAY = {str(weekday): ["00:00", "23:59"] for weekday in range(7)}
CSRF_CHARS = string.ascii_letters + string.digits


@dataclass
class Shopper:
    user_id: int
    session_key: str
    csrf: str


@dataclass
class Shop:
    hot_sku_code: str
    hot_sku_id: int
    product_code: str
    shoppers: list[Shopper] = field(default_factory=list)


def build_shop(*, shoppers: int, products: int = 24) -> Shop:
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from catalog.models import (
        Category,
        Product,
        Sku,
        StockLedger,
        StockReason,
        StockRecord,
        Warehouse,
    )
    from leaders.models import Community, Leader, PickupPoint, ShopperBinding
    from tuangou.accounts.models import User
    from tuangou.timeutils import local_today

    now = timezone.now()
    # Late enough that a run never crosses it; stock for D+1 and D+2 as well,
    # whatever the cutoff rule gives while the load runs.
    warehouse = Warehouse.objects.create(
        name="压测仓", city="长沙", address="岳麓区 1 号", is_default=True, cutoff_time=time(23, 59)
    )
    category = Category.objects.create(name="蔬菜水果", slug="bench-veg")
    leader_user = User.objects.create(username="bench-leader", phone="+8613700000000")
    community = Community.objects.create(
        name="压测小区", city="长沙", district="岳麓区", warehouse=warehouse
    )
    leader = Leader.objects.create(
        user=leader_user,
        real_name="王团长",
        phone=leader_user.phone,
        kind="store",
        status="active",
        share_code="bench",
        joined_at=now - timedelta(days=30),
    )
    point = PickupPoint.objects.create(
        leader=leader,
        community=community,
        warehouse=warehouse,
        name="压测自提点",
        address="岳麓区 1 号 门口",
        opening_hours=EVERY_DAY,
        status="active",
    )
    skus = []
    for n in range(products):
        product = Product.objects.create(
            name=f"商品{n:02d}", category=category, is_on_shelf=True, unit="份"
        )
        skus.append(Sku.objects.create(product=product, spec="500g", price=Decimal("3.90") + n))
    hot = skus[0]
    # Written directly, as set_stock_quantity would (one ADJUST ledger row per
    # stock row), because the hot SKU needs more than its 100,000 limit.
    today = local_today()
    records, entries = [], []
    for day in (today + timedelta(days=1), today + timedelta(days=2)):
        for sku in skus:
            quantity = HOT_STOCK if sku is hot else SHELF_STOCK
            records.append(
                StockRecord(sku=sku, warehouse=warehouse, delivery_date=day, quantity=quantity)
            )
            entries.append(
                StockLedger(
                    sku=sku,
                    warehouse=warehouse,
                    delivery_date=day,
                    delta=quantity,
                    reason=StockReason.ADJUST,
                    note="bench",
                )
            )
    StockRecord.objects.bulk_create(records)
    StockLedger.objects.bulk_create(entries)

    users = User.objects.bulk_create(
        [
            User(username=f"bench{n:06d}", phone=f"+86139{n:08d}", password="!bench")  # noqa: S106 - unusable
            for n in range(shoppers)
        ],
        batch_size=2000,
    )
    ShopperBinding.objects.bulk_create(
        [
            ShopperBinding(
                user=user,
                pickup_point=point,
                leader=leader,
                source="chosen",
                bound_at=now,
                changed_at=now,
            )
            for user in users
        ],
        batch_size=2000,
    )
    # The backend a signed-in session names must load users (get_user): the
    # first backends may only refuse logins (django-axes' lockout backend).
    from django.contrib.auth import load_backend

    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    store = SessionStore()
    expire = now + timedelta(days=1)
    made, rows = [], []
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        csrf = "".join(secrets.choice(CSRF_CHARS) for _ in range(32))
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": backend,
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        made.append(Shopper(user.pk, key, csrf))
    Session.objects.bulk_create(rows, batch_size=2000)
    return Shop(
        hot_sku_code=hot.code,
        hot_sku_id=hot.pk,
        product_code=hot.product.code,
        shoppers=made,
    )


def write_sessions(path, shoppers: list[Shopper]) -> None:
    """One `sessionid csrftoken` pair a line, for the wrk scripts and the flow client."""
    with open(path, "w") as handle:
        for shopper in shoppers:
            handle.write(f"{shopper.session_key} {shopper.csrf}\n")


def snapshot_stock() -> dict[int, int]:
    """quantity + sold per stock row: reserving moves units from one to the other."""
    from catalog.models import StockRecord

    return {
        pk: quantity + sold
        for pk, quantity, sold in StockRecord.objects.values_list("pk", "quantity", "sold")
    }


def build_group_campaign() -> str:
    """A two-person 拼团 on the shelf's second SKU, running for the whole load,
    its units held per delivery day as an operator's save would (save_campaign).
    Returns the campaign's code."""
    from django.utils import timezone

    from catalog.models import Sku
    from groupbuy.models import Campaign
    from groupbuy.services import save_campaign

    now = timezone.now()
    campaign = Campaign(
        title="压测 2人团",
        sku=Sku.objects.get(product__name="商品01"),
        group_price=Decimal("1.90"),
        group_size=2,
        time_limit_hours=1,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(minutes=45),
        stock_total=SHELF_STOCK,
        hold_per_day=SHELF_STOCK // 2,
        per_order_limit=1,
        per_shopper_limit=1000,
        allow_many_open=True,
    )
    return save_campaign(campaign=campaign).code


def group_checks(campaign_code: str) -> list[tuple[str, bool, str]]:
    """After a load with 拼团 joins: no group over its size, every filled group's
    members paid and their orders confirmed, the campaign's counter equal to the
    units of its live orders."""
    from django.db.models import Count, Q, Sum

    from groupbuy.models import Campaign, Group, GroupMember, GroupStatus, MemberStatus
    from orders.models import OrderStatus

    campaign = Campaign.objects.get(code=campaign_code)
    groups = Group.objects.filter(campaign=campaign).annotate(
        paid=Count("members", filter=Q(members__status=MemberStatus.PAID))
    )
    over = groups.filter(paid__gt=campaign.group_size).count()
    filled = groups.filter(status=GroupStatus.SUCCEEDED)
    short = filled.exclude(paid=campaign.group_size).count()
    unconfirmed = (
        GroupMember.objects.filter(group__in=filled)
        .exclude(order__status=OrderStatus.CONFIRMED)
        .count()
    )
    live = (
        GroupMember.objects.filter(group__campaign=campaign)
        .exclude(order__status__in=[OrderStatus.CANCELLED, OrderStatus.REFUNDED])
        .aggregate(q=Sum("quantity"))["q"]
        or 0
    )
    return [
        ("拼团: no group over its size", over == 0, f"{over} groups"),
        ("拼团: every filled group has all its members paid", short == 0, f"{short} groups"),
        ("拼团: filled groups' orders confirmed", unconfirmed == 0, f"{unconfirmed} orders"),
        (
            "拼团: units taken = units in live group orders",
            campaign.stock_taken == live,
            f"{campaign.stock_taken} vs {live}; {filled.count()} groups filled",
        ),
    ]
