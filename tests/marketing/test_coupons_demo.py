"""The demo: 张阿姨 has a coupon in every state, a points history, and the
shop a running 满减 promotion; seeding twice adds nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from marketing.models import Coupon, PointsEntry, Promotion
from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.ticking  # the demo's history is dated from now
def test_the_demo_has_coupons_in_every_state_and_a_points_history(clock):
    with open("/dev/null", "w") as quiet:
        call_command("seed_demo", stdout=quiet)
        shopper = User.objects.get(username="shopper")
        states = set(Coupon.objects.filter(user=shopper).values_list("status", flat=True))
        assert {"unused", "locked", "used", "expired"} <= states
        assert Coupon.objects.filter(status="revoked").exists()
        kinds = set(PointsEntry.objects.filter(user=shopper).values_list("kind", flat=True))
        assert {"earned", "adjusted", "expired", "spent"} <= kinds
        assert Promotion.objects.filter(name="周末满减").exists()
        counts = (Coupon.objects.count(), PointsEntry.objects.count())
        call_command("seed_demo", stdout=quiet)
        assert (Coupon.objects.count(), PointsEntry.objects.count()) == counts
