"""Demo people: staff for each role and a handful of shoppers."""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group

from .models import User
from .roles import DRIVERS, FINANCE, OPERATORS, sync_roles
from .weixin.sandbox import DEMO_UNIONID_PREFIX

DEMO_PASSWORD = "tuangou-demo"  # noqa: S105 - printed in the README for the demo

STAFF = [
    # username, phone, email, nickname, role (None = superuser)
    ("admin", "+8613900000000", "admin@demo.tuangou.cn", "超级管理员", None),
    ("operator", "+8613900000001", "yunying@demo.tuangou.cn", "运营小李", OPERATORS),
    ("finance", "+8613900000002", "caiwu@demo.tuangou.cn", "财务王姐", FINANCE),
    ("driver", "+8613900000003", "", "司机老陈", DRIVERS),
]

# Shoppers whose (simulated) WeChat is already bound: on the 模拟微信授权 page
# of `make run` they sign in with one tap.
WECHAT_BOUND = ["shopper"]

SHOPPERS = [
    ("shopper", "+8613800138000", "张阿姨"),
    ("shopper2", "+8613800138001", "李先生"),
    ("shopper3", "+8613800138002", "王女士"),
    ("shopper4", "+8613800138003", "赵奶奶"),
    ("shopper5", "+8613800138004", "刘同学"),
    ("shopper6", "+8613800138005", "陈妈妈"),
]


def seed(*, stdout) -> None:
    sync_roles()
    for username, phone, email, nickname, role in STAFF:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "phone": phone,
                "phone_verified": True,
                "email": email,
                "nickname": nickname,
                "is_staff": role != DRIVERS,
                "is_superuser": role is None,
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        if role:
            user.groups.set([Group.objects.get(name=role)])
    for username, phone, nickname in SHOPPERS:
        user, created = User.objects.update_or_create(
            username=username,
            defaults={"phone": phone, "phone_verified": True, "nickname": nickname},
        )
        if created:
            # Shoppers sign in by SMS code only.
            user.set_unusable_password()
            user.save(update_fields=["password"])
    for username in WECHAT_BOUND:
        user = User.objects.get(username=username)
        uid = f"{DEMO_UNIONID_PREFIX}{username}"
        SocialAccount.objects.update_or_create(
            provider="weixin",
            uid=uid,
            defaults={"user": user, "extra_data": {"unionid": uid, "nickname": user.nickname}},
        )
