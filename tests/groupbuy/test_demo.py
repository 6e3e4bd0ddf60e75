"""seed_demo's groupbuy part: running campaigns with open, succeeded and failed groups."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.db import transaction

from catalog import demo as catalog_demo
from groupbuy import demo
from groupbuy.models import Campaign, CommunityDeal, Group, GroupMember
from leaders import demo as leaders_demo
from orders.models import Refund
from tests.clock import TODAY, at
from tuangou.accounts import demo as accounts_demo

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Campaign.objects.count(),
        Group.objects.count(),
        GroupMember.objects.count(),
        CommunityDeal.objects.count(),
        Refund.objects.count(),
    )


def _seed_the_demo_before_groupbuy(out) -> None:
    for module in (accounts_demo, catalog_demo, leaders_demo):
        module.seed(stdout=out)


def test_seed_runs_campaigns_with_open_succeeded_and_failed_groups_and_is_idempotent(
    clock, django_capture_on_commit_callbacks
):
    out = io.StringIO()
    _seed_the_demo_before_groupbuy(out)
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(stdout=out)

    statuses = sorted(Group.objects.values_list("status", flat=True))
    assert statuses == ["failed", "open", "open", "succeeded"]
    assert Campaign.objects.filter(kind="threshold").count() == 1
    assert Campaign.objects.filter(auto_complete=True).count() == 1
    assert Refund.objects.filter(reason="group_failed").count() == 1
    assert sum(CommunityDeal.objects.values_list("paid_quantity", flat=True)) == 6
    first = _counts()

    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(stdout=out)
    assert _counts() == first


# 23:30, after the 23:00 cutoff, on each day of a week (Monday 23rd to Sunday
# 29th): a group decided tomorrow evening is delivered three days ahead, past
# the two days the catalog opens, and on some of those days a demo point is
# closed (麓谷小镇7栋 and 暮云花园3栋 do not open on Sundays). Plus Friday 15:00,
# whose 24-hour group is delivered on a Sunday.
SEEDED_AT = [at(23, 30, day=TODAY + timedelta(days=n)) for n in range(-2, 5)] + [
    at(15, 0, day=TODAY + timedelta(days=2))
]


def test_the_demo_seeds_the_same_groups_whenever_it_is_run(
    clock, django_capture_on_commit_callbacks
):
    """`make run` seeds at whatever hour a newcomer starts it: each weekday,
    before and after the cutoff, the demo shows a succeeded, a failed and two
    open groups and a deal with 6 paid."""
    out = io.StringIO()
    clock.move_to(SEEDED_AT[0] - timedelta(days=1))
    _seed_the_demo_before_groupbuy(out)
    seen = {}
    for moment in SEEDED_AT:
        clock.move_to(moment)
        # Each moment on the same seeded people, rolled back afterwards.
        with transaction.atomic():
            catalog_demo.seed(stdout=out)  # what seed_demo runs first: the days on sale
            with django_capture_on_commit_callbacks(execute=True):
                demo.seed(stdout=out)
            seen[f"{moment:%a %H:%M}"] = (
                sorted(Group.objects.values_list("status", flat=True)),
                sum(CommunityDeal.objects.values_list("paid_quantity", flat=True)),
            )
            transaction.set_rollback(True)
    expected = (["failed", "open", "open", "succeeded"], 6)
    assert seen == {f"{moment:%a %H:%M}": expected for moment in SEEDED_AT}
