"""The leaders behind the personas: leader_user runs 幸福里, other_leader_user 阳光花园."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .factories import CommunityFactory, LeaderFactory, PickupPointFactory


@pytest.fixture
def community(db):
    return CommunityFactory(name="幸福里小区", district="岳麓区")


@pytest.fixture
def other_community(db):
    return CommunityFactory(name="阳光花园", district="开福区")


@pytest.fixture
def leader(leader_user):
    return LeaderFactory(user=leader_user, real_name="王丽", share_code="lily-share-code-1")


@pytest.fixture
def other_leader(other_leader_user):
    return LeaderFactory(user=other_leader_user, real_name="周明", share_code="ming-share-code-2")


@pytest.fixture
def pickup_point(leader, community):
    return PickupPointFactory(
        leader=leader,
        community=community,
        name="幸福里便利店",
        address="长沙市岳麓区麓谷大道100号",
        latitude=Decimal("28.228000"),
        longitude=Decimal("112.938800"),
    )


@pytest.fixture
def other_pickup_point(other_leader, other_community):
    return PickupPointFactory(
        leader=other_leader,
        community=other_community,
        name="阳光花园物业",
        address="长沙市开福区芙蓉北路1号",
        latitude=Decimal("28.260000"),
        longitude=Decimal("112.980000"),
    )
