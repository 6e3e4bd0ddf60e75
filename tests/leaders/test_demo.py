"""seed_demo's leaders part: realistic, complete and idempotent."""

from __future__ import annotations

import io

import pytest

from leaders import demo
from leaders.models import (
    ApplicationStatus,
    Community,
    Leader,
    LeaderApplication,
    PickupPoint,
    PickupPointPhoto,
    ShopperBinding,
)
from tuangou.accounts import demo as accounts_demo

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Community.objects.count(),
        Leader.objects.count(),
        PickupPoint.objects.count(),
        PickupPointPhoto.objects.count(),
        LeaderApplication.objects.count(),
        ShopperBinding.objects.count(),
    )


def test_seed_makes_leaders_across_three_communities_and_binds_the_shoppers(clock):
    accounts_demo.seed(stdout=io.StringIO())
    demo.seed(stdout=io.StringIO())

    assert Community.objects.count() == 3
    assert Leader.objects.filter(status="active").count() == 6
    communities = set(PickupPoint.objects.values_list("community__name", flat=True))
    assert communities == {"麓谷小镇", "四方坪新村", "暮云花园"}
    statuses = sorted(LeaderApplication.objects.values_list("status", flat=True))
    assert statuses.count(ApplicationStatus.PENDING) == 1
    assert statuses.count(ApplicationStatus.REJECTED) == 1
    assert statuses.count(ApplicationStatus.APPROVED) == 6
    bound = dict(ShopperBinding.objects.values_list("user__username", "leader__real_name"))
    assert bound == {
        "shopper": "王丽",
        "shopper2": "刘芳",
        "shopper3": "周建国",
        "shopper4": "陈晓梅",
        "shopper5": "李娜",
        "shopper6": "王丽",
    }
    assert PickupPointPhoto.objects.count() == 6


def test_seed_twice_changes_nothing(clock):
    accounts_demo.seed(stdout=io.StringIO())
    demo.seed(stdout=io.StringIO())
    first = _counts()
    codes = set(Leader.objects.values_list("share_code", flat=True))
    demo.seed(stdout=io.StringIO())
    assert _counts() == first
    assert set(Leader.objects.values_list("share_code", flat=True)) == codes
