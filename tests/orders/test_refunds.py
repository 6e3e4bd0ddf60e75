"""Refunds the provider accepts but has not finished: the notify URL they carry,
and the poller that closes them when the notification never comes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orders.models import Notice, OrderStatus, Refund, RefundReason, RefundStatus
from orders.payments import ProviderError, RefundRequest, RefundResult
from orders.payments import RefundStatus as ProviderRefundStatus
from orders.services.refunds import poll_processing_refunds, refund_lines
from orders.tasks import poll_processing_refunds_task

from .conftest import TOMORROW
from .pickup_support import delivery_morning, paid_order

pytestmark = pytest.mark.django_db


class SlowRefundProvider:
    """A provider whose refunds are accepted (PROCESSING) and finish later:
    `query_refund` answers whatever `status` says at the time."""

    name = "slow"

    def __init__(self):
        self.requests: list[RefundRequest] = []
        self.queries: list[str] = []
        self.status = ProviderRefundStatus.PROCESSING

    def refund(self, req: RefundRequest) -> RefundResult:
        self.requests.append(req)
        return RefundResult(
            out_refund_no=req.out_refund_no,
            refund_id=f"R-{req.out_refund_no}",
            status=ProviderRefundStatus.PROCESSING,
            refund_fen=req.refund_fen,
        )

    def query_refund(self, out_refund_no: str) -> RefundResult:
        self.queries.append(out_refund_no)
        if self.status == "missing":
            raise ProviderError("RESOURCE_NOT_EXISTS", status=404)
        return RefundResult(
            out_refund_no=out_refund_no,
            refund_id=f"R-{out_refund_no}",
            status=self.status,
            refund_fen=0,
        )

    # The rest of the PaymentProvider protocol is not used by refunds.
    def create_prepay(self, req):  # pragma: no cover
        raise NotImplementedError

    def query_order(self, out_trade_no):  # pragma: no cover
        raise NotImplementedError

    def close_order(self, out_trade_no):  # pragma: no cover
        raise NotImplementedError

    def parse_payment_notification(self, headers, body):  # pragma: no cover
        raise NotImplementedError

    def parse_refund_notification(self, headers, body):  # pragma: no cover
        raise NotImplementedError


@pytest.fixture
def provider(monkeypatch):
    fake = SlowRefundProvider()
    monkeypatch.setattr("orders.services.refunds.get_payment_provider", lambda: fake)
    return fake


@pytest.fixture
def processing_refund(
    clock, shopper, point, sku, provider, django_capture_on_commit_callbacks
) -> Refund:
    order = paid_order(shopper, point, (sku, 2))
    line = order.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_lines(
            order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR, note="test"
        )
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING
    return refund


def test_a_refund_tells_the_provider_where_to_report(processing_refund, provider, settings):
    (request,) = provider.requests
    assert request.out_refund_no == processing_refund.out_refund_no
    assert request.notify_url == f"{settings.SITE_URL}/orders/notify/refund/"


def test_a_young_processing_refund_is_not_queried(processing_refund, provider):
    assert poll_processing_refunds(older_than_minutes=5) == 0
    assert provider.queries == []


def test_a_refund_still_processing_stays_open_until_the_provider_says_success(
    processing_refund, provider, clock
):
    clock.shift(timedelta(minutes=6))
    assert poll_processing_refunds() == 0
    assert provider.queries == [processing_refund.out_refund_no]
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.PROCESSING
    assert not Notice.objects.filter(kind="refunded").exists()

    provider.status = ProviderRefundStatus.SUCCESS
    assert poll_processing_refunds_task.delay().get() == 1
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.SUCCEEDED
    assert processing_refund.provider_refund_id == f"R-{processing_refund.out_refund_no}"
    assert processing_refund.succeeded_at is not None

    # Once: a second run finds nothing open, asks nothing, tells the shopper nothing new.
    assert poll_processing_refunds() == 0
    assert len(provider.queries) == 2
    assert Notice.objects.filter(kind="refunded").count() == 1


def test_an_abnormal_refund_is_marked_failed_once(processing_refund, provider, clock):
    clock.shift(timedelta(minutes=6))
    provider.status = ProviderRefundStatus.ABNORMAL
    assert poll_processing_refunds() == 1
    assert poll_processing_refunds() == 0
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.FAILED
    assert processing_refund.error == "ABNORMAL (query)"
    assert Notice.objects.filter(kind="refund_failed").count() == 1


def test_a_refund_the_provider_does_not_know_is_left_alone(processing_refund, provider, clock):
    clock.shift(timedelta(minutes=6))
    provider.status = "missing"
    assert poll_processing_refunds() == 0
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.PROCESSING
    assert not Notice.objects.filter(kind__in=["refunded", "refund_failed"]).exists()


def test_the_poller_runs_every_ten_minutes():
    from orders.schedules import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["orders-poll-processing-refunds"]
    assert entry["task"] == "orders.tasks.poll_processing_refunds_task"
    assert entry["schedule"] == timedelta(minutes=10)


# --- stock back for refunds before the goods leave --------------------------------------


def _stock(sku, point):
    from catalog.models import StockRecord

    return StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)


def _ledger_matches_stock(sku, point) -> bool:
    from django.db.models import Sum

    from catalog.models import StockLedger

    total = StockLedger.objects.filter(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).aggregate(s=Sum("delta"))["s"]
    return total == _stock(sku, point).quantity


def test_a_partial_refund_before_delivery_puts_those_units_back_on_sale(
    clock, shopper, point, sku, egg_sku
):
    order = paid_order(shopper, point, (sku, 3), (egg_sku, 2))
    tomato, _eggs = order.lines.order_by("pk")
    assert (_stock(sku, point).quantity, _stock(egg_sku, point).quantity) == (47, 18)

    refund_lines(order=order, quantities={tomato.pk: 2}, reason=RefundReason.OPERATOR)
    assert (_stock(sku, point).quantity, _stock(egg_sku, point).quantity) == (49, 18)
    assert _ledger_matches_stock(sku, point) and _ledger_matches_stock(egg_sku, point)

    # The rest of the order: everything comes back, the first two not a second time.
    refund_lines(order=order, quantities=None, reason=RefundReason.OPERATOR)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert (_stock(sku, point).quantity, _stock(egg_sku, point).quantity) == (50, 20)
    assert _stock(sku, point).sold == 0
    assert _ledger_matches_stock(sku, point) and _ledger_matches_stock(egg_sku, point)


def test_a_refund_after_the_goods_left_gives_no_stock_back(clock, shopper, point, sku):
    from orders.services.delivery import dispatch_orders

    order = paid_order(shopper, point, (sku, 3))
    clock.move_to(delivery_morning(7))
    dispatch_orders(delivery_date=TOMORROW)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_DELIVERY
    refund_lines(order=order, quantities={order.lines.get().pk: 1}, reason=RefundReason.OPERATOR)
    assert _stock(sku, point).quantity == 47
    assert _ledger_matches_stock(sku, point)
