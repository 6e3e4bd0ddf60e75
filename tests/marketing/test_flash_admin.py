"""The 秒杀 and 老带新 admin: a session saved with its items arms the Redis gate,
the list shows units and buyers with a link to the statistics, the reconcile
action calls the service; purchases and referrals are read-only records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from marketing import gate
from marketing.models import FlashSale, FlashSaleItem, GateMode
from marketing.services import flash, referrals
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW
from tests.marketing.flash_support import buy, clean_gate  # noqa: F401
from tuangou.timeutils import to_local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _form(sku, *, quota=50, mode=GateMode.REDIS):
    start, end = to_local(NOON_ISH - timedelta(hours=1)), to_local(NOON_ISH + timedelta(hours=1))
    return {
        "name": "午间秒杀",
        "starts_at_0": f"{start:%Y-%m-%d}",
        "starts_at_1": f"{start:%H:%M:%S}",
        "ends_at_0": f"{end:%Y-%m-%d}",
        "ends_at_1": f"{end:%H:%M:%S}",
        "gate_mode": mode,
        "is_active": "on",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-sku": str(sku.pk),
        "items-0-price": "1.99",
        "items-0-quota": str(quota),
        "items-0-per_user_limit": "1",
        "items-0-position": "0",
    }


def test_saving_a_redis_session_arms_its_gate(client, operator, point):
    sku = SkuFactory(product__name="车厘子", price="39.90")
    client.force_login(operator)
    answer = client.post(reverse("admin:marketing_flashsale_add"), _form(sku))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    item = FlashSaleItem.objects.get()
    snap = gate.snapshot(item_id=item.pk)
    assert (snap.is_armed, snap.left) == (True, 50)
    # Switched to database mode: the gate no longer answers for it.
    sale = item.sale
    form = _form(sku, quota=50, mode=GateMode.DATABASE)
    form.update(
        {"items-INITIAL_FORMS": "1", "items-0-id": str(item.pk), "items-0-sale": str(sale.pk)}
    )
    answer = client.post(reverse("admin:marketing_flashsale_change", args=[sale.pk]), form)
    assert answer.status_code == 302
    assert not gate.snapshot(item_id=item.pk).is_armed


def test_the_list_shows_units_buyers_and_reconciles(client, operator, shopper, point):
    sku = SkuFactory(product__name="车厘子", price="39.90")
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=10)
    sale = FlashSale.objects.create(
        name="午间秒杀",
        starts_at=NOON_ISH - timedelta(hours=1),
        ends_at=NOON_ISH + timedelta(hours=1),
        gate_mode=GateMode.REDIS,
    )
    item = FlashSaleItem.objects.create(sale=sale, sku=sku, price="1.99", quota=5)
    flash.save_flash_sale(sale=sale)
    buy(user=shopper, item=FlashSaleItem.objects.select_related("sale").get(pk=item.pk),
        point=point)  # fmt: skip
    gate.client().set(gate.keys(item.pk)["left"], 5)  # drift
    client.force_login(operator)
    page = client.get(reverse("admin:marketing_flashsale_changelist")).content.decode()
    assert "1 / 5" in page and f"/promo/stats/#flash_sale-{sale.pk}" in page
    answer = client.post(
        reverse("admin:marketing_flashsale_changelist"),
        {"action": "reconcile_gate", "_selected_action": [sale.pk]},
        follow=True,
    )
    assert "已检查 1 个商品，修复 1 个" in answer.content.decode()
    assert gate.snapshot(item_id=item.pk).left == 4
    for name in ("flashpurchase", "invitecode", "referral"):
        assert client.get(reverse(f"admin:marketing_{name}_changelist")).status_code == 200


def test_referrals_and_invite_codes_are_listed(client, operator, shopper, other_shopper):
    referrals.record_referral(
        invitee=other_shopper, code=referrals.invite_code_for(user=shopper).code
    )
    client.force_login(operator)
    page = client.get(reverse("admin:marketing_referral_changelist")).content.decode()
    assert "张阿姨" in page and "李先生" in page and "等待首单提货" in page
    codes = client.get(reverse("admin:marketing_invitecode_changelist") + "?q=138").content
    assert shopper.invite_code.code in codes.decode()
