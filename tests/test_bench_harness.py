"""The parts of `make bench` (benchmarks/) that must be right for its numbers to mean
anything: the generated shoppers are really signed in and their CSRF secret is
accepted (else wrk would measure redirects to the login page or 403s), the
invariants fail when the stock is wrong, and the doc keeps what is outside the
bench markers."""

from __future__ import annotations

import pytest
from django.test import Client

from benchmarks import run
from benchmarks.shop import build_shop, snapshot_stock
from catalog.models import StockRecord
from catalog.selectors import stock_ledger_mismatches
from orders.models import Order


@pytest.fixture
def shop(db, clock):
    return build_shop(shoppers=3, products=2)


def _as(shopper) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = shopper.session_key
    client.cookies["csrftoken"] = shopper.csrf
    return client


def test_a_generated_shopper_is_signed_in_and_its_csrf_secret_places_an_order(shop):
    shopper = shop.shoppers[1]
    client = _as(shopper)

    home = client.get("/")
    answer = client.post(
        "/orders/checkout/",
        {"sku": shop.hot_sku_code, "quantity": 1, "csrfmiddlewaretoken": shopper.csrf},
    )

    assert home.status_code == 200
    assert home.wsgi_request.user.pk == shopper.user_id
    assert answer.status_code == 302
    order = Order.objects.get()
    assert order.user_id == shopper.user_id
    assert answer["Location"] == f"/orders/o/{order.code}/pay/"
    assert [(line.sku_id, line.quantity) for line in order.lines.all()] == [(shop.hot_sku_id, 1)]


def test_a_wrong_csrf_token_places_no_order(shop):
    shopper, other = shop.shoppers[0], shop.shoppers[2]

    answer = _as(shopper).post(
        "/orders/checkout/",
        {"sku": shop.hot_sku_code, "quantity": 1, "csrfmiddlewaretoken": other.csrf},
    )

    assert answer.status_code == 403
    assert Order.objects.count() == 0


def test_the_generated_stock_agrees_with_its_ledger(shop):
    assert stock_ledger_mismatches() == []
    hot = StockRecord.objects.filter(sku_id=shop.hot_sku_id).order_by("delivery_date")
    assert [(r.quantity, r.sold) for r in hot] == [(10**7, 0), (10**7, 0)]


def test_the_invariants_pass_after_orders_and_fail_on_stock_changed_behind_the_ledger(shop):
    before = snapshot_stock()
    shopper = shop.shoppers[0]
    _as(shopper).post(
        "/orders/checkout/",
        {"sku": shop.hot_sku_code, "quantity": 2, "csrfmiddlewaretoken": shopper.csrf},
    )
    assert all(ok for _name, ok, _detail in run.check_invariants(before))

    row = StockRecord.objects.filter(sku_id=shop.hot_sku_id).order_by("delivery_date").first()
    StockRecord.objects.filter(pk=row.pk).update(quantity=row.quantity - 1)
    results = {name: ok for name, ok, _detail in run.check_invariants(before)}

    assert results["stock quantity + sold unchanged"] is False
    assert results["ledger sums equal stock"] is False
    assert results["every order's lines reserved in the ledger"] is True


def test_the_doc_keeps_everything_outside_the_bench_markers(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\nmethod\n\n{run.START_MARK}\nold table\n{run.END_MARK}\n\n## Steps\nkept\n"
    )
    monkeypatch.setattr(run, "DOC", doc)

    run.write_doc("| new | table |\n")

    assert doc.read_text() == (
        f"# Benchmarks\n\nmethod\n\n{run.START_MARK}\n| new | table |\n{run.END_MARK}"
        "\n\n## Steps\nkept\n"
    )


@pytest.mark.django_db(transaction=True)
def test_the_group_client_fills_a_group_over_http_and_the_group_checks_hold(live_server, clock):
    """benchmarks/group_client.py's sequence against a real server: the opener's
    group is read off the order page, the joiner fills it, both orders confirmed."""
    import sys

    import requests

    from benchmarks.shop import build_group_campaign, group_checks
    from groupbuy.models import Group, GroupStatus

    shop = build_shop(shoppers=2, products=2)
    campaign = build_group_campaign()
    sys.path.insert(0, str(run.ROOT / "benchmarks"))
    try:
        from benchmarks import group_client
    finally:
        sys.path.remove(str(run.ROOT / "benchmarks"))
    errors: dict[str, int] = {}
    pairs = [(s.session_key, s.csrf) for s in shop.shoppers]
    ok = group_client._group(
        requests.Session(), live_server.url, campaign, pairs[0], pairs[1], errors
    )
    assert ok, errors
    assert list(Group.objects.values_list("status", flat=True)) == [GroupStatus.SUCCEEDED]
    checks = group_checks(campaign)
    assert [name for name, passed, _detail in checks if not passed] == []
    assert "1 groups filled" in checks[-1][2]


def test_the_group_checks_fail_when_the_campaign_counter_drifts(shop):
    from benchmarks.shop import build_group_campaign, group_checks
    from groupbuy.models import Campaign

    code = build_group_campaign()
    Campaign.objects.filter(code=code).update(stock_taken=3)
    failed = [name for name, passed, _detail in group_checks(code) if not passed]
    assert failed == ["拼团: units taken = units in live group orders"]
