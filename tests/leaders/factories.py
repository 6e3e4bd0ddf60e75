"""factory_boy factories for the leaders app; other apps' tests import them.

from tests.leaders.factories import LeaderFactory, PickupPointFactory, bind
point = PickupPointFactory()            # an open point of an active leader
bind(user=shopper, point=point)         # the shopper picks up there
"""

from __future__ import annotations

import io
from datetime import time

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from leaders.models import (
    ApplicationStatus,
    BindingSource,
    Community,
    Leader,
    LeaderApplication,
    LeaderKind,
    LeaderStatus,
    PickupPoint,
    PointStatus,
    ShopperBinding,
)
from tuangou import timeutils

EVERY_DAY_8_TO_21 = {str(d): ["08:00", "21:00"] for d in range(7)}


def png_bytes(size=(160, 120), color=(255, 90, 31)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def photo_upload(name: str = "shop.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def default_warehouse():
    from catalog.models import Warehouse

    warehouse, _created = Warehouse.objects.get_or_create(
        name="长沙望城仓",
        defaults={
            "city": "长沙",
            "address": "长沙市望城区金星北路88号",
            "cutoff_time": time(23, 0),
            "pickup_time": time(10, 0),
        },
    )
    return warehouse


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.User"
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"neighbour{n}")
    phone = factory.Sequence(lambda n: f"+86137{n:08d}")
    phone_verified = True
    nickname = factory.Sequence(lambda n: f"邻居{n}")


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community
        django_get_or_create = ("city", "name")

    name = factory.Sequence(lambda n: f"幸福里{n}期")
    city = "长沙"
    district = "岳麓区"
    warehouse = factory.LazyFunction(default_warehouse)


class LeaderApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeaderApplication

    user = factory.SubFactory(UserFactory)
    status = ApplicationStatus.PENDING
    real_name = "王丽"
    phone = factory.LazyAttribute(lambda a: a.user.phone or "+8613700000000")
    community = factory.SubFactory(CommunityFactory)
    kind = LeaderKind.CONVENIENCE_STORE
    point_name = factory.Sequence(lambda n: f"幸福里便利店{n}号")
    address = "长沙市岳麓区麓谷大道100号幸福里小区3栋门口"
    latitude = None
    longitude = None
    opening_hours = factory.LazyFunction(lambda: dict(EVERY_DAY_8_TO_21))
    storefront_photo = factory.django.ImageField(filename="shop.jpg", width=40, height=30)


class LeaderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Leader

    user = factory.SubFactory(UserFactory)
    real_name = factory.Sequence(lambda n: f"团长{n}")
    phone = factory.LazyAttribute(lambda o: o.user.phone or "+8613700000000")
    kind = LeaderKind.CONVENIENCE_STORE
    status = LeaderStatus.ACTIVE
    share_code = factory.Sequence(lambda n: f"test-share-{n:06d}")
    joined_at = factory.LazyFunction(timeutils.now)


class PickupPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PickupPoint

    leader = factory.SubFactory(LeaderFactory)
    community = factory.SubFactory(CommunityFactory)
    warehouse = factory.LazyAttribute(lambda o: o.community.warehouse)
    name = factory.Sequence(lambda n: f"幸福里{n}号自提点")
    address = factory.Sequence(lambda n: f"长沙市岳麓区麓谷大道{n}号")
    latitude = None
    longitude = None
    opening_hours = factory.LazyFunction(lambda: dict(EVERY_DAY_8_TO_21))
    daily_capacity = 100
    status = PointStatus.ACTIVE


class ShopperBindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShopperBinding

    user = factory.SubFactory(UserFactory)
    pickup_point = factory.SubFactory(PickupPointFactory)
    leader = factory.LazyAttribute(lambda o: o.pickup_point.leader)
    source = BindingSource.CHOSEN
    bound_at = factory.LazyFunction(timeutils.now)
    changed_at = factory.LazyAttribute(lambda o: o.bound_at)


def bind(*, user, point: PickupPoint, source: str = BindingSource.CHOSEN) -> ShopperBinding:
    """Bind a shopper to a point directly (no cooldown), for other apps' tests."""
    now = timeutils.now()
    binding, _created = ShopperBinding.objects.update_or_create(
        user=user,
        defaults={
            "pickup_point": point,
            "leader": point.leader,
            "source": source,
            "bound_at": now,
            "changed_at": now,
        },
    )
    return binding
