"""Three months of sales history for the demo, so every report and chart has a shape.

The orders demo makes a month of orders for six personas through the real
services (slow on purpose: every state). Reports need more: trends over
weeks, cohorts over months, dozens of shoppers with different habits. This
module adds HISTORY_SHOPPERS shoppers and their orders at the demo's pickup
points over the HISTORY_DAYS days before yesterday, written set-based
(bulk INSERTs, then INSERT … SELECT for events, payments, refunds, hand-outs
and claims), every row within the models' constraints:

- paid between 07:00 and 22:59 (before the 23:00 cutoff) up to yesterday
  (before noon: the day before), delivered the next day and collected by now;
  nothing is dated later than now (tests/test_demo_timestamps.py);
- most are completed (handed out in full), a few refunded before delivery, a
  few completed with one unit refunded after an approved after-sale claim;
- shoppers join over the months and some stop coming (cohorts, RFM), each
  community leans to some categories, and some products go together (pairs).

History orders leave stock alone (their delivery days are past) and earn no
commission entries (the commission ledger and its account counters are the
leaders demo's: the leader report's commission comes from the persona
orders). Idempotent: the history's note marks its orders; a second run adds
nothing. `seed_late` then rebuilds the facts for the whole demo period
(after marketing's late orders), so the reports open on real numbers.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils import timezone

from tuangou.timeutils import local_datetime, local_today, to_local

HISTORY_NOTE = "演示历史订单"  # the marker of every history order
HISTORY_DAYS = 91
HISTORY_SHOPPERS = 180
PHONE_BASE = 8615500000000  # +86 155 0000 0xxx: the history shoppers' reserved numbers
SEED = 20260901
FEN = Decimal("0.01")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
TITLES = ["阿姨", "先生", "女士", "大姐", "小妹", "奶奶", "大哥"]
# Share of an hour's orders, 07:00 to 22:00 (morning and evening peaks).
HOUR_WEIGHTS = [2, 4, 6, 8, 9, 7, 4, 3, 3, 4, 5, 7, 9, 10, 8, 5]
WEEKDAY_FACTOR = [0.9, 0.95, 1.0, 1.0, 1.1, 1.35, 1.3]  # Monday … Sunday


def seed(*, stdout) -> None:
    """The history (orders of the past three months); the facts come in seed_late."""
    from orders.models import Order

    if Order.objects.filter(note=HISTORY_NOTE).exists():
        stdout.write("    analytics: history exists, nothing to add")
        return
    made = HistorySeeder().run()
    stdout.write(f"    analytics: {made} history orders over {HISTORY_DAYS} days")


def seed_late(*, stdout) -> None:
    """Rebuild every fact table over the demo's period (idempotent)."""
    from .facts import rebuild_facts

    yesterday = local_today() - timedelta(days=1)
    counts = rebuild_facts(start=yesterday - timedelta(days=HISTORY_DAYS + 5), end=yesterday)
    stdout.write(
        "    analytics: facts rebuilt ("
        + ", ".join(f"{name} {n}" for name, n in counts.items())
        + ")"
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


class HistorySeeder:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.now = timezone.now()
        self.today = local_today()
        self.last_day = last_history_day(self.now)
        self.first_day = self.last_day - timedelta(days=HISTORY_DAYS - 1)

    def run(self) -> int:
        from catalog.models import Sku
        from leaders.models import PickupPoint

        points = list(
            PickupPoint.objects.visible_to_shoppers()
            .select_related("leader__user", "warehouse", "community")
            .order_by("pk")
        )
        skus = list(
            Sku.objects.filter(is_active=True, product__is_on_shelf=True)
            .select_related("product__category")
            .order_by("pk")
        )
        if not points or len(skus) < 2:
            return 0
        shoppers = self._shoppers(points)
        orders, lines = self._orders(points, skus, shoppers)
        campaigns = self._campaigns(skus)
        groups = self._groups(points, shoppers, campaigns, orders, lines)
        self._write(orders, lines)
        self._write_groups(groups, campaigns)
        return len(orders)

    # --- 拼团 history ----------------------------------------------------------------------

    def _campaigns(self, skus) -> list:
        """Two finished 拼团 campaigns over the history (inactive: never on the storefront)."""
        from groupbuy.models import Campaign

        starts = local_datetime(self.first_day, time(7, 0))
        ends = local_datetime(self.last_day - timedelta(days=2), time(22, 0))
        campaigns = []
        for code, sku, size in (("hist-g3", skus[0], 3), ("hist-g2", skus[len(skus) // 2], 2)):
            price = max(FEN, _money(sku.price * Decimal("0.8")))
            campaign, _created = Campaign.objects.get_or_create(
                code=code,
                defaults={
                    "title": f"{sku.product.name[:40]} {size}人团",
                    "sku": sku,
                    "group_price": price,
                    "group_size": size,
                    "time_limit_hours": 24,
                    "starts_at": starts,
                    "ends_at": ends,
                    "stock_total": 100000,
                    "is_active": False,
                },
            )
            campaigns.append(campaign)
        return campaigns

    def _groups(self, points, shoppers, campaigns, orders, lines) -> list[dict]:
        """Groups opened over the history: about seven in ten fill, the rest fail at 24 h.

        Their members' orders are appended to `orders`/`lines` (kind group: at the
        group price, the difference as a 拼团 discount); completed when the group
        filled, refunded when it failed.
        """
        from orders.models import Order, OrderKind, OrderLine, OrderStatus, new_public_code

        home: dict[int, list[dict]] = {}
        for s in shoppers:
            home.setdefault(s["home"].pk, []).append(s)
        groups = []
        last_open = self.last_day - timedelta(days=2)  # decided and collected by now
        for offset in range((last_open - self.first_day).days + 1):
            day = self.first_day + timedelta(days=offset)
            for campaign in campaigns:
                for _n in range(self.rng.choice([0, 1, 1, 2, 2, 3])):
                    point = self.rng.choice(points)
                    pool = [s for s in home.get(point.pk, []) if s["start"] <= offset < s["stop"]]
                    size = campaign.group_size
                    filled = self.rng.random() < 0.72
                    k = size if filled else self.rng.randint(1, size - 1)
                    if len(pool) < k:
                        pool = shoppers
                    members = self.rng.sample(pool, k=k)
                    opened = local_datetime(
                        day, time(self.rng.randint(8, 20), self.rng.randint(0, 59))
                    )
                    waits = sorted(self.rng.randint(3, 20 * 60) for _m in range(k - 1))
                    paid = [opened] + [opened + timedelta(minutes=w) for w in waits]
                    deadline = opened + timedelta(hours=campaign.time_limit_hours)
                    closed = paid[-1] if filled else deadline
                    local_deadline = to_local(deadline)
                    delivery = local_deadline.date() + timedelta(
                        days=1 if local_deadline.time() < time(23, 0) else 2
                    )
                    sku = campaign.sku
                    pickup_from = local_datetime(delivery, point.warehouse.pickup_time)
                    member_orders = []
                    for s, paid_at in zip(members, paid, strict=True):
                        goods = sku.price
                        off = goods - campaign.group_price
                        line = OrderLine(
                            sku=sku,
                            product_name=sku.product.name[:60],
                            spec=sku.spec,
                            quantity=1,
                            list_price=sku.price,
                            unit_price=campaign.group_price,
                            goods_total=goods,
                            discount_total=off,
                            discounts=[{"kind": "group", "label": "拼团价", "amount": str(off)}],
                            payable=campaign.group_price,
                        )
                        order = Order(
                            number=f"G{paid_at:%y%m%d}{len(orders) + 1:07d}",
                            code=new_public_code(),
                            user=s["user"],
                            kind=OrderKind.GROUP,
                            pickup_point=point,
                            leader=point.leader,
                            warehouse=point.warehouse,
                            pickup_point_name=point.name[:60],
                            pickup_address=point.address[:200],
                            delivery_date=delivery,
                            pickup_from=pickup_from,
                            goods_total=goods,
                            discount_total=off,
                            payable=campaign.group_price,
                            note=HISTORY_NOTE,
                            pay_deadline=paid_at + timedelta(minutes=12),
                            paid_at=paid_at,
                        )
                        if filled:
                            order.status = OrderStatus.COMPLETED
                            order.confirmed_at = closed
                            order.ready_at = local_datetime(delivery, time(8, 30))
                            order.completed_at = min(
                                pickup_from + timedelta(minutes=self.rng.randint(0, 9 * 60)),
                                self.now - timedelta(minutes=1),
                            )
                            line.handed_out_quantity = 1
                        else:
                            order.status = OrderStatus.REFUNDED
                            order.closed_at = deadline + timedelta(minutes=1)
                            order.refunded_amount = campaign.group_price
                            line.refunded_quantity = 1
                            line.refunded_amount = campaign.group_price
                        orders.append(order)
                        lines.append([line])
                        member_orders.append((s["user"], order, paid_at))
                    groups.append(
                        {
                            "campaign": campaign,
                            "point": point,
                            "filled": filled,
                            "opened": opened,
                            "deadline": deadline,
                            "closed": closed,
                            "delivery": delivery,
                            "members": member_orders,
                        }
                    )
        return groups

    def _write_groups(self, groups, campaigns) -> None:
        from groupbuy.models import Group, GroupMember, GroupStatus, MemberStatus

        rows = [
            Group(
                campaign=g["campaign"],
                opener=g["members"][0][0],
                pickup_point=g["point"],
                community=g["point"].community,
                size=g["campaign"].group_size,
                seats_taken=len(g["members"]),
                paid_count=len(g["members"]),
                status=GroupStatus.SUCCEEDED if g["filled"] else GroupStatus.FAILED,
                opened_at=g["opened"],
                deadline=g["deadline"],
                delivery_date=g["delivery"],
                closed_at=g["closed"],
                close_reason="" if g["filled"] else "到时未成团",
            )
            for g in groups
        ]
        Group.objects.bulk_create(rows, batch_size=1000)
        members = []
        for group, g in zip(rows, groups, strict=True):
            for index, (user, order, paid_at) in enumerate(g["members"]):
                members.append(
                    GroupMember(
                        group=group,
                        user=user,
                        order=order,
                        quantity=1,
                        is_opener=index == 0,
                        status=MemberStatus.PAID if g["filled"] else MemberStatus.REFUNDED,
                        paid_at=paid_at,
                    )
                )
        GroupMember.objects.bulk_create(members, batch_size=2000)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE groupbuy_group SET created_at = opened_at - interval '1 minute'
                WHERE id = ANY(%(ids)s)
                """,
                {"ids": [g.pk for g in rows]},
            )
            cursor.execute(
                """
                UPDATE groupbuy_groupmember SET joined_at = paid_at - interval '1 minute'
                WHERE id = ANY(%(ids)s)
                """,
                {"ids": [m.pk for m in members]},
            )
            cursor.execute(
                """
                UPDATE groupbuy_campaign c SET stock_taken = (
                    SELECT COALESCE(SUM(m.quantity), 0) FROM groupbuy_groupmember m
                    JOIN groupbuy_group g ON g.id = m.group_id
                    WHERE g.campaign_id = c.id AND m.status = 'paid'
                ), created_at = c.starts_at - interval '1 day'
                WHERE c.id = ANY(%(ids)s)
                """,
                {"ids": [c.pk for c in campaigns]},
            )

    # --- shoppers ------------------------------------------------------------------------

    def _shoppers(self, points) -> list[dict]:
        """History shoppers: a home point, a first and (for some) a last active day, a habit."""
        from django.contrib.auth.hashers import make_password

        from tuangou.accounts.models import User

        unusable = make_password(None)
        joined = local_datetime(self.first_day - timedelta(days=7), time(9, 0))
        wanted = []
        for i in range(HISTORY_SHOPPERS):
            name = SURNAMES[i % len(SURNAMES)] + TITLES[(i // len(SURNAMES) + i) % len(TITLES)]
            wanted.append(
                User(
                    username=f"history{i + 1:03d}",
                    phone=f"+{PHONE_BASE + i + 1}",
                    phone_verified=True,
                    nickname=name,
                    password=unusable,  # these shoppers never sign in
                    date_joined=joined,
                )
            )
        User.objects.bulk_create(wanted, ignore_conflicts=True)
        users = list(User.objects.filter(username__startswith="history").order_by("username"))
        span = HISTORY_DAYS
        shoppers = []
        for i, user in enumerate(users):
            # A third were there from the start; the rest joined over the months.
            start = 0 if i % 3 == 0 else self.rng.randint(0, span - 10)
            # A quarter stop coming some weeks after they started.
            stop = span if self.rng.random() > 0.25 else min(span, start + self.rng.randint(7, 40))
            shoppers.append(
                {
                    "user": user,
                    "home": points[i % len(points)],
                    "start": start,
                    "stop": stop,
                    # Habit: how likely they order on a day they might (frequency spread).
                    "habit": self.rng.choice([0.015, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3]),
                }
            )
        return shoppers

    # --- orders ----------------------------------------------------------------------------

    def _basket(self, skus, community_index: int) -> list[tuple]:
        """1-4 SKUs: the community's favourite categories weigh more; partners go together."""
        n = self.rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
        weights = [
            3 if (sku.product.category_id or 0) % 3 == community_index % 3 else 1 for sku in skus
        ]
        picked: list = []
        while len(picked) < min(n, len(skus)):
            sku = self.rng.choices(skus, weights=weights)[0]
            if sku not in picked:
                picked.append(sku)
            # Pairs: the next SKU in the list is this one's usual companion.
            partner = skus[(skus.index(sku) + 1) % len(skus)]
            if partner not in picked and self.rng.random() < 0.35 and len(picked) < 4:
                picked.append(partner)
        return [(sku, self.rng.choice([1, 1, 1, 2, 2, 3])) for sku in picked]

    def _orders(self, points, skus, shoppers) -> tuple[list, list]:
        from orders.models import Order, OrderKind, OrderLine, OrderStatus, new_public_code

        orders: list[Order] = []
        lines: list[list[OrderLine]] = []
        serial = 0
        community_index = {}
        for p in points:
            community_index.setdefault(p.community_id, len(community_index))
        for offset in range(HISTORY_DAYS):
            day = self.first_day + timedelta(days=offset)
            growth = 0.7 + 0.6 * offset / HISTORY_DAYS
            factor = WEEKDAY_FACTOR[day.weekday()] * growth
            for s in shoppers:
                if not (s["start"] <= offset < s["stop"]):
                    continue
                if self.rng.random() > s["habit"] * factor:
                    continue
                point = s["home"] if self.rng.random() > 0.1 else self.rng.choice(points)
                hour = 7 + self.rng.choices(range(len(HOUR_WEIGHTS)), weights=HOUR_WEIGHTS)[0]
                paid_at = local_datetime(day, time(hour, self.rng.randint(0, 59)))
                delivery = day + timedelta(days=1)
                basket = self._basket(skus, community_index[point.community_id])
                fate = self.rng.random()
                status = OrderStatus.REFUNDED if fate < 0.04 else OrderStatus.COMPLETED
                after_sale = status == OrderStatus.COMPLETED and fate > 0.97
                order_lines = []
                goods = discount = refunded = Decimal("0.00")
                coupon = Decimal(self.rng.choice([2, 3, 5])) if self.rng.random() < 0.12 else None
                for index, (sku, quantity) in enumerate(basket):
                    line_goods = _money(sku.price * quantity)
                    line_discount = Decimal("0.00")
                    parts = []
                    if coupon is not None and index == 0 and coupon < line_goods:
                        line_discount = coupon
                        parts = [{"kind": "coupon", "label": "满减券", "amount": str(coupon)}]
                    payable = line_goods - line_discount
                    line = OrderLine(
                        sku=sku,
                        product_name=sku.product.name[:60],
                        spec=sku.spec,
                        quantity=quantity,
                        list_price=sku.price,
                        unit_price=sku.price,
                        goods_total=line_goods,
                        discount_total=line_discount,
                        discounts=parts,
                        payable=payable,
                    )
                    if status == OrderStatus.REFUNDED:
                        line.refunded_quantity, line.refunded_amount = quantity, payable
                    else:
                        line.handed_out_quantity = quantity
                        if after_sale and index == 0:
                            line.refunded_quantity = 1
                            line.refunded_amount = _money(payable / quantity)
                    goods += line_goods
                    discount += line_discount
                    refunded += line.refunded_amount
                    order_lines.append(line)
                serial += 1
                pickup_from = local_datetime(delivery, point.warehouse.pickup_time)
                order = Order(
                    number=f"H{paid_at:%y%m%d}{serial:07d}",
                    code=new_public_code(),
                    user=s["user"],
                    kind=OrderKind.NORMAL,
                    status=status,
                    pickup_point=point,
                    leader=point.leader,
                    warehouse=point.warehouse,
                    pickup_point_name=point.name[:60],
                    pickup_address=point.address[:200],
                    delivery_date=delivery,
                    pickup_from=pickup_from,
                    goods_total=goods,
                    discount_total=discount,
                    payable=goods - discount,
                    refunded_amount=refunded,
                    note=HISTORY_NOTE,
                    pay_deadline=paid_at + timedelta(minutes=12),
                    paid_at=paid_at,
                    confirmed_at=paid_at,
                )
                if status == OrderStatus.REFUNDED:
                    order.closed_at = paid_at + timedelta(minutes=self.rng.randint(20, 60))
                else:
                    order.ready_at = local_datetime(delivery, time(8, 30))
                    # Collected during the delivery day, never later than now.
                    order.completed_at = min(
                        pickup_from + timedelta(minutes=self.rng.randint(0, 9 * 60)),
                        self.now - timedelta(minutes=1),
                    )
                orders.append(order)
                lines.append(order_lines)
        return orders, lines

    def _write(self, orders, lines) -> None:
        from orders.models import Order, OrderLine

        Order.objects.bulk_create(orders, batch_size=1000)
        flat = []
        for order, order_lines in zip(orders, lines, strict=True):
            for line in order_lines:
                line.order = order
                flat.append(line)
        OrderLine.objects.bulk_create(flat, batch_size=2000)
        ids = [o.pk for o in orders]
        with connection.cursor() as cursor:
            for sql in HISTORY_SQL:
                cursor.execute(sql, {"ids": ids, "now": self.now})


# The rest of each order's history, set-based over the new orders (auto_now_add
# stamped created_at with "now" on insert: it is put back to just before payment).
HISTORY_SQL = [
    """
    UPDATE orders_order SET created_at = paid_at - interval '3 minutes'
    WHERE id = ANY(%(ids)s)
    """,
    """
    INSERT INTO orders_orderevent (order_id, from_status, to_status, note, created_at)
    SELECT o.id, e.from_status, e.to_status, '', e.at
    FROM orders_order o
    CROSS JOIN LATERAL (VALUES
        ('pending_payment', 'paid', o.paid_at),
        ('paid', 'awaiting_group', CASE WHEN o.kind = 'group' THEN o.paid_at END),
        (CASE WHEN o.kind = 'group' THEN 'awaiting_group' ELSE 'paid' END, 'confirmed',
            o.confirmed_at),
        ('confirmed', 'in_delivery', o.ready_at - interval '150 minutes'),
        ('in_delivery', 'ready_for_pickup', o.ready_at),
        ('ready_for_pickup', 'completed', o.completed_at),
        (CASE WHEN o.kind = 'group' THEN 'awaiting_group' ELSE 'confirmed' END, 'refunded',
            o.closed_at)
    ) AS e(from_status, to_status, at)
    WHERE o.id = ANY(%(ids)s) AND e.at IS NOT NULL
    """,
    """
    INSERT INTO orders_payment (order_id, provider, channel, out_trade_no, amount, status,
        prepay_id, pay_params, transaction_id, error, created_at, paid_at)
    SELECT o.id, 'sandbox', 'h5', 'HIST' || lpad(o.id::text, 16, '0'), o.payable, 'paid',
        '', '{}'::jsonb, 'HIST' || o.number, '', o.created_at, o.paid_at
    FROM orders_order o WHERE o.id = ANY(%(ids)s)
    """,
    """
    INSERT INTO orders_refund (order_id, payment_id, out_refund_no, amount, reason, note,
        status, provider_refund_id, attempts, error, created_at, succeeded_at)
    SELECT o.id, p.id, 'HISTR' || lpad(o.id::text, 16, '0'), o.refunded_amount,
        CASE
            WHEN o.status = 'refunded' AND o.kind = 'group' THEN 'group_failed'
            WHEN o.status = 'refunded' THEN 'operator'
            ELSE 'after_sale'
        END, '',
        'succeeded', '', 1, '',
        COALESCE(o.closed_at, LEAST(o.completed_at + interval '2 hours', %(now)s)),
        COALESCE(o.closed_at, LEAST(o.completed_at + interval '2 hours', %(now)s))
    FROM orders_order o JOIN orders_payment p ON p.order_id = o.id
    WHERE o.id = ANY(%(ids)s) AND o.refunded_amount > 0
    """,
    """
    INSERT INTO orders_aftersaleclaim (order_id, user_id, reason, status, reject_reason,
        refund_id, reviewed_at, created_at)
    SELECT o.id, o.user_id, '收到时有坏果', 'approved', '', r.id, r.created_at,
        GREATEST(o.completed_at, r.created_at - interval '1 hour')
    FROM orders_order o JOIN orders_refund r ON r.order_id = o.id
    WHERE o.id = ANY(%(ids)s) AND r.reason = 'after_sale'
    """,
    """
    INSERT INTO orders_handout (order_line_id, quantity, actor_id, created_at)
    SELECT l.id, l.handed_out_quantity, ld.user_id, o.completed_at
    FROM orders_orderline l
    JOIN orders_order o ON o.id = l.order_id
    JOIN leaders_leader ld ON ld.id = o.leader_id
    WHERE o.id = ANY(%(ids)s) AND l.handed_out_quantity > 0
    """,
]


def last_history_day(now: datetime) -> date:
    """The last paid day of the history: yesterday once today's deliveries are being
    collected (from 12:00), else the day before, so every history order is collected."""
    today = to_local(now).date()
    if now >= local_datetime(today, time(12, 0)):
        return today - timedelta(days=1)
    return today - timedelta(days=2)


def history_bounds(now: datetime | None = None) -> tuple[date, date]:
    """The paid days the history covers (for tests and the README)."""
    last = last_history_day(now or timezone.now())
    return last - timedelta(days=HISTORY_DAYS - 1), last
