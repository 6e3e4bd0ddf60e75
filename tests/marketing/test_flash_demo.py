"""The demo's 秒杀 sessions and invitations: one running now, one later today,
an invitation in every status; seeding twice changes nothing."""

from __future__ import annotations

import io

import pytest

from catalog import demo as catalog_demo
from marketing import demo_flash, gate
from marketing.flash_selectors import flash_board
from marketing.models import FlashSale, FlashSaleItem, Referral, ReferralStatus
from tests.marketing.flash_support import clean_gate  # noqa: F401
from tuangou.accounts import demo as accounts_demo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_demo_has_a_running_and_a_later_session_and_every_invitation_status():
    out = io.StringIO()
    accounts_demo.seed(stdout=out)
    catalog_demo.seed(stdout=out)
    demo_flash.seed(stdout=out)
    demo_flash.seed(stdout=out)  # idempotent
    assert FlashSale.objects.count() == 2
    board = flash_board()
    assert [(s.name, s.state) for s in board] == [
        ("午间秒杀", "running"),
        ("晚8点秒杀", "upcoming"),
    ]
    assert [len(s.items) for s in board] == [3, 2]
    redis_item = FlashSaleItem.objects.filter(sale__name="午间秒杀").first()
    assert gate.snapshot(item_id=redis_item.pk).left == redis_item.quota
    assert sorted(Referral.objects.values_list("status", flat=True)) == sorted(
        ReferralStatus.values
    )
    rewarded = Referral.objects.get(status=ReferralStatus.REWARDED)
    assert rewarded.inviter_coupon.user == rewarded.inviter
    assert "午间秒杀" in out.getvalue()
