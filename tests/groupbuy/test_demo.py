"""seed_demo's groupbuy part: running campaigns with open, succeeded and failed groups."""

from __future__ import annotations

import io

import pytest

from catalog import demo as catalog_demo
from groupbuy import demo
from groupbuy.models import Campaign, CommunityDeal, Group, GroupMember
from leaders import demo as leaders_demo
from orders.models import Refund
from tuangou.accounts import demo as accounts_demo


def _counts():
    return (
        Campaign.objects.count(),
        Group.objects.count(),
        GroupMember.objects.count(),
        CommunityDeal.objects.count(),
        Refund.objects.count(),
    )


@pytest.mark.django_db
def test_seed_runs_campaigns_with_open_succeeded_and_failed_groups_and_is_idempotent(
    django_capture_on_commit_callbacks,
):
    out = io.StringIO()
    for module in (accounts_demo, catalog_demo, leaders_demo):
        module.seed(stdout=out)
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
