"""Staff roles as auth groups, with their permissions kept in code.

Each entry is "app_label.*" (every permission of an app), "app_label.codename",
or "-app_label.codename" to take one away again. Apps add their lines here
when they add models; sync_roles runs after every migrate.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

OPERATORS = "operators"
FINANCE = "finance"
DRIVERS = "drivers"
WAREHOUSE = "warehouse"

ROLE_LABELS = {
    OPERATORS: _("Operators"),
    FINANCE: _("Finance"),
    DRIVERS: _("Drivers"),
    WAREHOUSE: _("Warehouse and purchasing"),
}

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATORS: [
        "catalog.*",
        "leaders.*",
        "marketing.*",
        "orders.*",
        "groupbuy.*",
        "logistics.*",
        "accounts.view_user",
        # Money leaving the platform is finance's call, not operations'.
        "-leaders.approve_withdrawal",
        "-leaders.pay_withdrawal",
        # Withdrawals and payout batches are not even shown to them (issue #15).
        "-leaders.view_withdrawal",
        "-leaders.add_withdrawal",
        "-leaders.change_withdrawal",
        "-leaders.delete_withdrawal",
        "-leaders.view_payoutbatch",
        "-leaders.add_payoutbatch",
        "-leaders.change_payoutbatch",
        "-leaders.delete_payoutbatch",
        # Reports and exports; shoppers' phones stay masked (granted per person).
        "analytics.*",
        "-analytics.export_personal_data",
    ],
    FINANCE: [
        "leaders.view_leader",
        "leaders.view_commissionentry",
        "leaders.add_commissionentry",
        "leaders.view_settlement",
        "leaders.view_withdrawal",
        "leaders.approve_withdrawal",
        "leaders.pay_withdrawal",
        "leaders.view_payoutbatch",
        "leaders.view_commissionaccount",
        "leaders.view_commissionrule",
        "orders.view_order",
        "orders.view_payment",
        "orders.view_refund",
        "analytics.*",
        "-analytics.export_personal_data",
    ],
    DRIVERS: [],
    # 仓库 / 采购: the nightly wave, documents, purchase orders and receiving.
    WAREHOUSE: [
        "logistics.*",
        "catalog.view_warehouse",
        "catalog.view_supplier",
        "catalog.view_product",
        "catalog.view_sku",
        "catalog.change_sku",
        "orders.view_order",
        # Route stops pick their pickup point by autocomplete (addresses on run sheets).
        "leaders.view_pickuppoint",
    ],
}


def _resolve(entries: list[str]):
    from django.contrib.auth.models import Permission

    granted: set[int] = set()
    for entry in entries:
        remove = entry.startswith("-")
        app_label, _dot, codename = entry.lstrip("-").partition(".")
        qs = Permission.objects.filter(content_type__app_label=app_label)
        if codename != "*":
            qs = qs.filter(codename=codename)
        ids = set(qs.values_list("pk", flat=True))
        granted = granted - ids if remove else granted | ids
    return granted


def sync_roles(sender=None, **kwargs) -> None:
    """Create the role groups and set their permissions to what this file says."""
    from django.contrib.auth.models import Group

    for name, entries in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(_resolve(entries))
