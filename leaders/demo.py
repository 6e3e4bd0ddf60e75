"""Demo leaders in 长沙: three communities, six approved leaders, one application
waiting and one rejected, and the demo shoppers bound to leaders. Idempotent.

Runs after catalog.demo (which makes the warehouses) and accounts.demo (the
shoppers); everything goes through the services, like a real review. What it
makes is then dated back (queryset updates): the leaders joined two months
ago and the shoppers chose their points before the month of demo orders, so a
demo shopper may change point at once (the change cooldown counts from the
last change, and the demo's binding is not one the shopper just made).
"""

from __future__ import annotations

import io
from datetime import time, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from tuangou import timeutils
from tuangou.accounts.models import User

from . import services
from .models import (
    ApplicationStatus,
    BindingEvent,
    BindingSource,
    Community,
    Leader,
    LeaderApplication,
    PickupPoint,
    PickupPointPhoto,
    ShopperBinding,
)
from .sharing import cjk_font

DEFAULT_WAREHOUSE = ("长沙望城仓", "长沙", "望城区金星北路88号")

COMMUNITIES = [
    # name, district
    ("麓谷小镇", "岳麓区"),
    ("四方坪新村", "开福区"),
    ("暮云花园", "天心区"),
]

EVERY_DAY = {d: (time(7, 30), time(21, 30)) for d in range(7)}
WEEKDAYS_AND_SATURDAY = {d: (time(8, 0), time(20, 0)) for d in range(6)}

LEADERS = [
    # username, phone, nickname, real name, kind, community, point name, address, lat, lng, hours
    (
        "leader",
        "+8613700001001",
        "王姐便利店",
        "王丽",
        "store",
        "麓谷小镇",
        "王姐便利店",
        "岳麓区麓谷大道658号麓谷小镇东门商铺12号",
        "28.217100",
        "112.887600",
        EVERY_DAY,
    ),
    (
        "leader2",
        "+8613700001002",
        "芳芳妈妈",
        "刘芳",
        "parent",
        "麓谷小镇",
        "麓谷小镇7栋自提点",
        "岳麓区麓谷小镇7栋1单元一楼架空层",
        "28.218900",
        "112.889300",
        WEEKDAYS_AND_SATURDAY,
    ),
    (
        "leader3",
        "+8613700001003",
        "四方坪物业老周",
        "周建国",
        "property",
        "四方坪新村",
        "四方坪物业服务中心",
        "开福区四方坪新村物业服务中心（2栋旁）",
        "28.247300",
        "113.011200",
        EVERY_DAY,
    ),
    (
        "leader4",
        "+8613700001004",
        "晓梅生鲜",
        "陈晓梅",
        "store",
        "四方坪新村",
        "晓梅生鲜超市",
        "开福区四方坪路188号晓梅生鲜超市",
        "28.245800",
        "113.013900",
        EVERY_DAY,
    ),
    (
        "leader5",
        "+8613700001005",
        "暮云李姐",
        "李娜",
        "parent",
        "暮云花园",
        "暮云花园3栋李姐",
        "天心区暮云花园3栋2单元门口",
        "28.018600",
        "112.986700",
        WEEKDAYS_AND_SATURDAY,
    ),
    (
        "leader6",
        "+8613700001006",
        "暮云驿站小张",
        "张伟",
        "other",
        "暮云花园",
        "暮云快递驿站",
        "天心区暮云花园南门快递驿站",
        "28.016900",
        "112.984100",
        EVERY_DAY,
    ),
]

PENDING = (
    "applicant",
    "+8613700001011",
    "赵敏",
    "麓谷小镇",
    "麓谷小镇12栋赵姐",
    "岳麓区麓谷小镇12栋架空层",
)
REJECTED = (
    "applicant2",
    "+8613700001012",
    "孙强",
    "四方坪新村",
    "孙哥水果摊",
    "开福区四方坪路口",
    "门店照片看不清，且地址不在小区内，请重新拍摄门头照片并填写小区内的地址。",
)

# demo shopper → (leader username, how they were bound)
SHOPPER_BINDINGS = {
    "shopper": ("leader", BindingSource.SHARE_LINK),
    "shopper2": ("leader2", BindingSource.CHOSEN),
    "shopper3": ("leader3", BindingSource.SHARE_LINK),
    "shopper4": ("leader4", BindingSource.CHOSEN),
    "shopper5": ("leader5", BindingSource.SEED),
    "shopper6": ("leader", BindingSource.SHARE_LINK),
}

JOINED_DAYS_AGO = 60  # the demo leaders were approved two months ago
BOUND_DAYS_AGO = 40  # the shoppers chose their points before the month of orders

COLOURS = [(15, 118, 110), (255, 90, 31), (37, 99, 235), (217, 119, 6), (190, 24, 93)]


def _storefront(name: str, index: int) -> SimpleUploadedFile:
    """A drawn shop sign: the demo needs no photos from the internet."""
    image = Image.new("RGB", (640, 480), (245, 246, 247))
    draw = ImageDraw.Draw(image)
    colour = COLOURS[index % len(COLOURS)]
    draw.rectangle((40, 60, 600, 180), fill=colour)
    draw.text((320, 120), name, fill="white", font=cjk_font(44, bold=True), anchor="mm")
    draw.rectangle((120, 220, 520, 440), outline=(180, 180, 180), width=6)
    draw.line((320, 220, 320, 440), fill=(180, 180, 180), width=6)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return SimpleUploadedFile("storefront.jpg", out.getvalue(), content_type="image/jpeg")


def _warehouse():
    from catalog.models import Warehouse

    default = Warehouse.objects.filter(is_default=True, is_active=True).first()
    if default is not None:
        return default
    name, city, address = DEFAULT_WAREHOUSE
    warehouse, _created = Warehouse.objects.get_or_create(
        name=name, defaults={"city": city, "address": address}
    )
    return warehouse


def _user(username: str, phone: str, nickname: str) -> User:
    user, created = User.objects.update_or_create(
        username=username,
        defaults={"phone": phone, "phone_verified": True, "nickname": nickname},
    )
    if created:
        user.set_unusable_password()  # leaders sign in by SMS code like shoppers
        user.save(update_fields=["password"])
    return user


def _apply(user, *, real_name, community, kind, point_name, address, hours, index, lat, lng):
    return services.submit_application(
        user=user,
        real_name=real_name,
        phone=user.phone,
        community=community,
        kind=kind,
        point_name=point_name,
        address=address,
        opening_hours=hours,
        storefront_photo=_storefront(point_name, index),
        latitude=Decimal(lat) if lat else None,
        longitude=Decimal(lng) if lng else None,
    )


def seed(*, stdout) -> None:
    warehouse = _warehouse()
    communities = {}
    for name, district in COMMUNITIES:
        communities[name], _created = Community.objects.update_or_create(
            city="长沙",
            name=name,
            defaults={"district": district, "warehouse": warehouse, "is_active": True},
        )
    reviewer = User.objects.filter(username="operator").first()

    leaders: dict[str, Leader] = {}
    approved: list[Leader] = []
    for index, row in enumerate(LEADERS):
        username, phone, nickname, real_name, kind, community, point, address, lat, lng, hours = row
        user = _user(username, phone, nickname)
        leader = Leader.objects.filter(user=user).first()
        if leader is None:
            application = LeaderApplication.objects.filter(
                user=user, status=ApplicationStatus.PENDING
            ).first() or _apply(
                user,
                real_name=real_name,
                community=communities[community],
                kind=kind,
                point_name=point,
                address=address,
                hours=hours,
                index=index,
                lat=lat,
                lng=lng,
            )
            leader = services.approve_application(application=application, reviewed_by=reviewer)
            approved.append(leader)
        leaders[username] = leader

    username, phone, real_name, community, point, address = PENDING
    user = _user(username, phone, real_name)
    if not LeaderApplication.objects.filter(user=user).exists():
        _apply(
            user,
            real_name=real_name,
            community=communities[community],
            kind="parent",
            point_name=point,
            address=address,
            hours=EVERY_DAY,
            index=5,
            lat=None,
            lng=None,
        )

    username, phone, real_name, community, point, address, reason = REJECTED
    user = _user(username, phone, real_name)
    if not LeaderApplication.objects.filter(user=user).exists():
        application = _apply(
            user,
            real_name=real_name,
            community=communities[community],
            kind="other",
            point_name=point,
            address=address,
            hours=EVERY_DAY,
            index=6,
            lat=None,
            lng=None,
        )
        services.reject_application(application=application, reviewed_by=reviewer, reason=reason)

    bound: list[User] = []
    for shopper_name, (leader_name, source) in SHOPPER_BINDINGS.items():
        shopper = User.objects.filter(username=shopper_name).first()
        if shopper is None or ShopperBinding.objects.filter(user=shopper).exists():
            continue
        point = leaders[leader_name].points.order_by("pk").first()
        services.choose_pickup_point(user=shopper, pickup_point=point, source=source)
        bound.append(shopper)
    _date_back(approved, bound)

    stdout.write(
        f"    {len(communities)} communities, {len(leaders)} leaders, "
        f"1 pending and 1 rejected application, {len(bound)} shoppers newly bound"
    )
    for username, leader in leaders.items():
        stdout.write(f"    {username}: {leader.real_name}  /leader/s/{leader.share_code}/")


def _date_back(leaders: list[Leader], shoppers: list[User]) -> None:
    """Date what this run made when it would have happened (never after now)."""
    now = timeutils.now()
    joined = now - timedelta(days=JOINED_DAYS_AGO)
    for leader in leaders:
        LeaderApplication.objects.filter(user_id=leader.user_id).update(
            created_at=joined - timedelta(days=2), reviewed_at=joined, updated_at=joined
        )
        Leader.objects.filter(pk=leader.pk).update(joined_at=joined)
        points = PickupPoint.objects.filter(leader=leader)
        points.update(created_at=joined)
        PickupPointPhoto.objects.filter(point__in=points).update(created_at=joined)
    chosen = now - timedelta(days=BOUND_DAYS_AGO)
    ShopperBinding.objects.filter(user__in=shoppers).update(bound_at=chosen, changed_at=chosen)
    BindingEvent.objects.filter(user__in=shoppers).update(created_at=chosen)
