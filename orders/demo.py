"""A month of demo orders for the demo shoppers at their leaders' points, in
every state. Idempotent: nothing happens when demo orders exist (their note
is the marker).

Everything goes through the real services: place_order, the sandbox's
signed payment notification through the notify path, dispatch, the leader's
sign-off (one of them with a shortage), hand-outs, an operator refund, an
unpaid cancellation, an after-sale claim and the uncollected sweep. The
services stamp "now"; afterwards the history's timestamps are moved back to
when each step would have happened (queryset updates, no time travel).

Only what has happened by now is made: a day's goods leave the warehouse at
06:00 and reach the points at 08:30, so seeded at 02:18 today's orders are
still waiting in the warehouse, and the latest delivery that arrived (the one
some points have not signed for and whose parcels wait at the points) is
yesterday's. No timestamp is ever later than now (tests/test_demo_timestamps.py).

Runs after catalog.demo (products, stock) and leaders.demo (points, bindings).
"""

from __future__ import annotations

import contextlib
import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models import Count
from django.utils import timezone

from catalog.models import Sku
from catalog.services import OutOfStock, roll_stock_forward
from leaders.models import ShopperBinding
from tuangou.money import to_fen
from tuangou.timeutils import local_datetime, local_today

from .models import (
    DeliverySignoff,
    Handout,
    Notice,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PickupCode,
    Refund,
    RefundReason,
)

DEMO_NOTE = "演示订单"  # the marker: every demo order carries it
DEMO_SHOPPERS = ["shopper", "shopper2", "shopper3", "shopper4", "shopper5", "shopper6"]
HISTORY_DAYS = 30
DISPATCH_AT = time(6, 0)  # the van leaves the warehouse
ARRIVAL_AT = time(8, 30)  # goods at the points, signed for
ORDER_CHANCE = 0.15  # of a shopper ordering for a given delivery day (kept low: seed speed)
SEED = 20261125


def seed(*, stdout) -> None:
    if Order.objects.filter(note=DEMO_NOTE).exists():
        stdout.write("    orders: demo orders exist, nothing to do")
        return
    bindings = list(
        ShopperBinding.objects.select_related(
            "user", "pickup_point__warehouse", "pickup_point__leader"
        )
        .filter(user__username__in=DEMO_SHOPPERS)
        .order_by("user__username")
    )
    bindings = [b for b in bindings if b.pickup_point.is_taking_orders]
    skus = list(
        Sku.objects.filter(is_active=True, product__is_on_shelf=True, daily_quota__gt=0)
        .select_related("product")
        .order_by("pk")
    )
    if not bindings or not skus:
        stdout.write("    orders: no demo shoppers or products, skipped")
        return
    Seeder(bindings=bindings, skus=skus).run(stdout)
    # The leaders' money follows from these orders: settled periods, PDF
    # statements, withdrawals.
    from leaders.commission.demo import seed_commission_demo

    seed_commission_demo(stdout=stdout)


class Seeder:
    def __init__(self, *, bindings, skus):
        self.rng = random.Random(SEED)
        self.bindings = bindings
        self.skus = skus
        self.now = timezone.now()
        self.today = local_today()
        # The latest delivery day whose goods have reached the points by now.
        self.arrived_day = (
            self.today
            if local_datetime(self.today, ARRIVAL_AT) <= self.now
            else self.today - timedelta(days=1)
        )
        self.times: dict[int, dict[str, datetime]] = {}  # order pk -> status -> when
        self.operator = None
        self.claimed: int | None = None

    # --- placing and paying ---------------------------------------------------------

    def _wants(self):
        from .services.checkout import Want

        picked = self.rng.sample(self.skus, k=min(len(self.skus), self.rng.choice([1, 1, 2, 3])))
        return [Want(s.pk, self.rng.choice([1, 1, 2])) for s in picked]

    def place(self, binding, delivery_date: date, *, paid: bool = True) -> Order | None:
        """An order placed the morning before `delivery_date`, paid in the sandbox."""
        from .services.checkout import CheckoutError, place_order

        at = local_datetime(
            delivery_date - timedelta(days=1),
            time(self.rng.randint(8, 16), self.rng.randint(0, 59)),
        )
        backdated = delivery_date <= self.today
        try:
            order = place_order(
                user=binding.user,
                wants=self._wants(),
                pickup_point=binding.pickup_point,
                note=DEMO_NOTE,
                at=at if backdated else None,
            )
        except (CheckoutError, OutOfStock):
            return None  # a paused day or a sold-out product: no order that day
        placed = at if backdated else order.created_at
        self.times[order.pk] = {"placed": placed}
        if backdated:
            # Let the real payment path run now; the history is moved back below.
            Order.objects.filter(pk=order.pk).update(
                pay_deadline=order.created_at + timedelta(minutes=15)
            )
            order.refresh_from_db()
        if paid:
            self.pay(order)
            self.times[order.pk][OrderStatus.PAID] = placed + timedelta(minutes=2)
        return order

    def pay(self, order: Order) -> None:
        from .payments import sandbox
        from .services.payments import handle_payment_notification, start_payment

        payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
        headers, body = sandbox.build_payment_notification(
            payment.out_trade_no, to_fen(payment.amount)
        )
        handle_payment_notification(headers=headers, body=body)
        order.refresh_from_db()

    # --- the month ------------------------------------------------------------------------

    def run(self, stdout) -> None:
        from tuangou.accounts.models import User

        self.operator = User.objects.filter(username="operator").first()
        first_day = self.today - timedelta(days=HISTORY_DAYS - 2)
        tomorrow = self.today + timedelta(days=1)
        # Past delivery days need their stock rows, as the daily roll-forward made them.
        roll_stock_forward(
            days=[first_day + timedelta(days=n) for n in range(HISTORY_DAYS)],
            skus=self.skus,
        )
        by_day: dict[date, list[Order]] = defaultdict(list)
        day = first_day
        while day <= tomorrow:
            for binding in self.bindings:
                # Everyone ordered for the delivery at the points now and after.
                if self.rng.random() < ORDER_CHANCE or day >= self.arrived_day:
                    order = self.place(binding, day)
                    if order is not None:
                        by_day[day].append(order)
            day += timedelta(days=1)

        self._refund_some(by_day, first_day)
        self._cancel_some(tomorrow)
        self._deliver(by_day, tomorrow)
        self._claim()
        self._backdate()
        from .services.pickup import flag_uncollected_orders

        flag_uncollected_orders()
        # Two orders waiting for payment right now (they expire like any other).
        for binding in self.bindings[:2]:
            self.place(binding, tomorrow, paid=False)

        counts = dict(
            Order.objects.filter(note=DEMO_NOTE).values_list("status").annotate(n=Count("pk"))
        )
        stdout.write(
            f"    orders: {sum(counts.values())} demo orders ("
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + ")"
        )

    def _refund_some(self, by_day, first_day) -> None:
        """An operator refunded two orders before they left the warehouse."""
        from .services.refunds import refund_order

        past = sorted(d for d in by_day if d < self.today - timedelta(days=1))
        for target in (first_day + timedelta(days=3), first_day + timedelta(days=11)):
            # The first day from the target that has orders (some days have none).
            day = next((d for d in past if d >= target and by_day[d]), None)
            if day is not None:
                order = by_day[day].pop()
                refund_order(
                    order=order,
                    actor=self.operator,
                    reason=RefundReason.OPERATOR,
                    note="顾客来电取消",
                )
                self.times[order.pk][OrderStatus.REFUNDED] = self.times[order.pk][
                    OrderStatus.PAID
                ] + timedelta(hours=3)

    def _cancel_some(self, tomorrow) -> None:
        """Two shoppers never paid: cancelled (stock given back)."""
        from .notices import CANCEL_BY_SHOPPER
        from .services.payments import cancel_unpaid_order

        for binding in self.bindings[2:4]:
            order = self.place(binding, tomorrow, paid=False)
            if order is not None:
                cancel_unpaid_order(order=order, reason=CANCEL_BY_SHOPPER)
                self.times[order.pk][OrderStatus.CANCELLED] = self.times[order.pk][
                    "placed"
                ] + timedelta(minutes=5)

    def _deliver(self, by_day, tomorrow) -> None:
        """Each delivery day's steps that have happened by now: dispatch at 06:00,
        sign-off at 08:30, hand-outs during the day. On the latest day that
        arrived, some points have not signed yet and the parcels wait."""
        from .services.delivery import dispatch_orders, sign_for_delivery
        from .services.pickup import hand_out_everything

        shortage_done = False
        uncollected_done = False
        for day in sorted(by_day):
            if local_datetime(day, DISPATCH_AT) > self.now:
                continue  # still in the warehouse: the orders stay confirmed
            dispatch_orders(delivery_date=day)
            for order in by_day[day]:
                self.times[order.pk][OrderStatus.IN_DELIVERY] = local_datetime(day, DISPATCH_AT)
            if day > self.arrived_day:
                continue  # on the road
            latest = day == self.arrived_day
            points = sorted({o.pickup_point_id for o in by_day[day]})
            for index, point_id in enumerate(points):
                orders = [o for o in by_day[day] if o.pickup_point_id == point_id]
                point = orders[0].pickup_point
                if latest and index % 2:
                    continue  # some points have not signed yet
                shortages = {}
                if not shortage_done and day <= self.today - timedelta(days=5):
                    line = OrderLine.objects.filter(order__in=orders).order_by("pk").first()
                    shortages = {line.sku_id: 1}
                    shortage_done = True
                result = sign_for_delivery(
                    pickup_point=point,
                    delivery_date=day,
                    actor=point.leader.user,
                    shortages=shortages,
                )
                for order in result.ready:
                    self.times[order.pk][OrderStatus.READY_FOR_PICKUP] = local_datetime(
                        day, ARRIVAL_AT
                    )
                for short in result.shortage_refunds:
                    self.times[short.order.pk]["shortage"] = local_datetime(day, ARRIVAL_AT)
                if latest:
                    continue  # waiting at the point
                for order in result.ready:
                    if not uncollected_done and day <= self.today - timedelta(days=3):
                        uncollected_done = True  # nobody came for this one
                        continue
                    hand_out_everything(pickup_point=point, orders=[order], actor=point.leader.user)
                    self.times[order.pk][OrderStatus.COMPLETED] = local_datetime(
                        day, time(self.rng.randint(10, 20), self.rng.randint(0, 59))
                    )

    def _claim(self) -> None:
        """The latest pickup had a bad item: an open after-sale claim for the operators."""
        from .services.claims import ClaimError, submit_claim

        order = (
            Order.objects.filter(note=DEMO_NOTE, status=OrderStatus.COMPLETED)
            .order_by("-delivery_date", "-pk")
            .first()
        )
        if order is None:
            return
        line = order.lines.order_by("pk").first()
        with contextlib.suppress(ClaimError):
            submit_claim(
                order=order,
                user=order.user,
                reason="有一个破损了，汁水流了一袋子",
                quantities={line.pk: 1},
            )
            self.claimed = order.pk

    # --- history -------------------------------------------------------------------------

    def _backdate(self) -> None:
        """Move each step of each order back to when it would have happened."""
        from .models import AfterSaleClaim

        stamp_fields = {
            OrderStatus.PAID: ["paid_at", "confirmed_at"],
            OrderStatus.READY_FOR_PICKUP: ["ready_at"],
            OrderStatus.COMPLETED: ["completed_at"],
            OrderStatus.REFUNDED: ["closed_at"],
            OrderStatus.CANCELLED: ["closed_at"],
        }
        notice_kinds = {
            OrderStatus.PAID: ["paid", "confirmed"],
            OrderStatus.IN_DELIVERY: ["in_delivery"],
            OrderStatus.READY_FOR_PICKUP: ["ready"],
            OrderStatus.COMPLETED: ["completed"],
            OrderStatus.CANCELLED: ["cancelled"],
            "shortage": ["shortage", "refunded"],
            OrderStatus.REFUNDED: ["refunded"],
        }
        for order_id, times in self.times.items():
            placed = times["placed"]
            if placed >= local_datetime(self.today, time(0, 0)):
                continue  # placed today: the real times are right
            fields = {"created_at": placed, "pay_deadline": placed + timedelta(minutes=15)}
            for status, names in stamp_fields.items():
                if status in times:
                    fields.update(dict.fromkeys(names, times[status]))
            Order.objects.filter(pk=order_id).update(**fields)
            Payment.objects.filter(order_id=order_id).update(
                created_at=placed + timedelta(minutes=1), paid_at=times.get(OrderStatus.PAID)
            )
            OrderEvent.objects.filter(
                order_id=order_id, to_status=OrderStatus.PENDING_PAYMENT
            ).update(created_at=placed)
            for status, when in times.items():
                if status in ("placed", "shortage"):
                    continue
                targets = (
                    [status, OrderStatus.CONFIRMED] if status == OrderStatus.PAID else [status]
                )
                OrderEvent.objects.filter(order_id=order_id, to_status__in=targets).update(
                    created_at=when
                )
            for status, kinds in notice_kinds.items():
                if status in times:
                    read = times[status] + timedelta(hours=1)
                    Notice.objects.filter(order_id=order_id, kind__in=kinds).update(
                        created_at=times[status], read_at=read if read <= self.now else None
                    )
            if OrderStatus.COMPLETED in times:
                Handout.objects.filter(order_line__order_id=order_id).update(
                    created_at=times[OrderStatus.COMPLETED]
                )
            refund_at = times.get(OrderStatus.REFUNDED) or times.get("shortage")
            if refund_at:
                Refund.objects.filter(order_id=order_id).update(created_at=refund_at)
        # Signed for (and codes made) only on days whose goods had arrived.
        for signoff in DeliverySignoff.objects.filter(delivery_date__lte=self.arrived_day):
            DeliverySignoff.objects.filter(pk=signoff.pk).update(
                signed_at=local_datetime(signoff.delivery_date, time(8, 25))
            )
        for code in PickupCode.objects.filter(delivery_date__lte=self.arrived_day):
            PickupCode.objects.filter(pk=code.pk).update(
                created_at=local_datetime(code.delivery_date, ARRIVAL_AT)
            )
        completed = self.times.get(self.claimed, {}).get(OrderStatus.COMPLETED)
        if completed:
            AfterSaleClaim.objects.filter(order_id=self.claimed).update(
                created_at=completed + timedelta(hours=2)
            )
