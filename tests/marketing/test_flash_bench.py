"""The parts of benchmarks/flash.py its numbers rely on: a generated shopper's
session and CSRF secret reach the 抢购 endpoint (not a login redirect or a
403), the three items answer what the bench says they answer, and a Redis
refusal is counted at 0 statements."""

from __future__ import annotations

import pytest
from django.test import Client

from benchmarks import flash as flash_bench
from benchmarks.shop import build_shop
from marketing.models import FlashPurchase
from tests.marketing.flash_support import clean_gate  # noqa: F401


@pytest.fixture
def shop(db, clock):
    return build_shop(shoppers=3, products=3)


def _as(shopper) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = shopper.session_key
    client.cookies["csrftoken"] = shopper.csrf
    return client


def _grab(shopper, item_id: int):
    return _as(shopper).post(
        f"/promo/flash/{item_id}/grab/", {"quantity": 1, "csrfmiddlewaretoken": shopper.csrf}
    )


def test_the_bench_items_answer_as_the_bench_says(shop, settings):
    items = flash_bench.make_items(shop)
    first, second = shop.shoppers[0], shop.shoppers[1]
    admitted = _grab(first, items["redis"])
    assert admitted.status_code == 302
    assert admitted["Location"] == f"/orders/checkout/?sku={shop.hot_sku_code}&quantity=1"
    assert _grab(first, items["redis"])["Location"] == admitted["Location"]  # the same hold
    sold_out = _grab(second, items["database"])
    assert sold_out["Location"] == "/promo/flash/?refused=sold_out&n=0"
    ended = _grab(second, items["warm"])
    assert ended["Location"] == "/promo/flash/?refused=ended&n=0"
    assert flash_bench.gate_state(items["redis"]) == (99, 1)
    assert FlashPurchase.objects.count() == 0

    settings.ROOT_URLCONF = "benchmarks.urls"
    counts = flash_bench.count_queries(items, shop.shoppers[2])
    assert counts == {"bare": 1, "redis": 0, "database": 2}


def test_a_wrong_csrf_token_is_refused_before_the_gate(shop):
    items = flash_bench.make_items(shop)
    shopper = shop.shoppers[0]
    answer = _as(shopper).post(
        f"/promo/flash/{items['redis']}/grab/", {"quantity": 1, "csrfmiddlewaretoken": "x" * 32}
    )
    assert answer.status_code == 403
    assert flash_bench.gate_state(items["redis"]) == (100, 0)
