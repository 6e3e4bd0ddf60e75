"""Every URL of the URLconf is classified, and every staff URL refuses whoever
lacks its permission (issue #15, security 5).

The whole URLconf is walked (django.urls.get_resolver, recursively) and each
route is matched against the rules below, first match wins:

- STAFF_AREAS: staff pages and reports. Anonymous, a shopper, a leader, a
  staff user with no permission, and every staff role that may not enter
  must be refused, by GET and by POST.
- the admin: every URL of a registered model (changelist, add, change,
  delete, history, autocomplete and the apps' own get_urls views) refuses
  anyone without the model's view or change permission; the admin's own
  pages refuse everyone who is not staff.
- SIGNED_IN_AREAS: pages of a shopper, leader or driver: anonymous is sent
  to sign in (their object-level checks have their apps' own tests).
- PUBLIC: whitelisted one by one (or by prefix) with the reason.

A route that matches no rule fails the test: a new top-level area must be
classified here. A new URL under a known prefix is covered without a change.
URL parameters get dummy values (999999, "X0000000000"): a refusal must come
before any lookup, or be a 404 from a lookup the view scopes to its reader.

"Refused" means 403, 404, or a redirect to a sign-in page; 405 for one
method only (a POST-only view answers a GET with 405, so its POST is checked).
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client

from tests.urlwalk import all_routes, dummy_url
from tuangou.accounts.roles import DRIVERS, FINANCE, OPERATORS, ROLE_PERMISSIONS, WAREHOUSE

pytestmark = pytest.mark.django_db

# route regex -> roles that may enter (anyone else staff is refused), reason
STAFF_AREAS: list[tuple[str, set[str], str]] = [
    (r"^leader/finance/", {FINANCE}, "settlements, statements, withdrawals, payouts"),
    (r"^promo/coupons/jobs/", {OPERATORS}, "批量发券 (marketing.add_couponissuejob)"),
    (r"^promo/stats/", {OPERATORS}, "campaign statistics (marketing view permissions)"),
    (r"^delivery/warehouse/", {OPERATORS, WAREHOUSE}, "the wave, picking, packing"),
    (r"^delivery/purchasing/", {OPERATORS, WAREHOUSE}, "purchase orders, receiving"),
    (r"^delivery/reports/", {OPERATORS, WAREHOUSE}, "delivery efficiency"),
    (r"^reports/(?!me/)", {OPERATORS, FINANCE}, "analytics reports and export jobs"),
]

SIGNED_IN_AREAS: list[tuple[str, str]] = [
    (
        r"^orders/(?!notify/|pay/sandbox/|cart/badge/)",
        "the shopper's cart, checkout, orders; leader pickup",
    ),
    (r"^leader/(?!s/|apply/$|points/choose/$)", "the leader's pages and money (their leader row)"),
    (r"^promo/(coupons/(mine/|\d+/claim/|<int:template_id>/claim/)|points/)", "my coupons, points"),
    (r"^promo/invite/$", "the shopper's invite page"),
    (r"^promo/flash/<int:item_id>/grab/", "秒杀 grab (a shopper's purchase)"),
    (r"^delivery/driver/", "the driver's runs (their driver row)"),
    (r"^reports/me/", "a leader's own performance"),
    (r"^accounts/(email|password/change|password/set|phone/change|reauthenticate)", "own account"),
    (r"^accounts/3rdparty/$", "own social connections"),
    (r"^groups/g/<str:code>/join/", "joining a 拼团 is a purchase"),
    (r"^groups/c/<str:campaign_code>/open/", "opening a 拼团 is a purchase"),
]

PUBLIC: list[tuple[str, str]] = [
    (r"^$|^categories/|^c/|^search/|^p/", "the storefront"),
    (r"^healthz$|^favicon\.ico$|^manifest\.webmanifest$", "health check, PWA files"),
    (r"^media/", "public media (development only; production: nginx)"),
    (r"^i18n/", "language switch"),
    (r"^me/", "我的 and help invite signed-out visitors to sign in"),
    (r"^accounts/", "sign-in, sign-up, password reset, WeChat OAuth (allauth)"),
    (r"^leader/s/", "a leader's shared shop (the 团长 link shoppers open)"),
    (r"^leader/apply/$", "the leader application invites signed-out visitors to sign in"),
    (r"^leader/points/choose/$", "choosing a pickup point: browsing is open, saving signs in"),
    (r"^orders/cart/badge/$", "the tab bar's cart count (0 for a visitor)"),
    (r"^groups/", "a 拼团 page, its share link, QR code and card are shared publicly"),
    (r"^promo/(coupons/$|flash/$|invite/<str:code>/)", "coupon centre, 秒杀 page, invite link"),
    (r"^orders/notify/", "WeChat Pay callbacks: signature-checked (tests/orders)"),
    (r"^orders/pay/sandbox/", "the payment sandbox (demo only; refuses without it)"),
    (r"^orders/claim-photos/|^delivery/stop-photos/", "private files: checked per object"),
]


def _first(rules, route: str):
    for rule in rules:
        if re.search(rule[0], route):
            return rule
    return None


# --- people --------------------------------------------------------------------


@pytest.fixture
def people(make_user, shopper, operator, finance):
    from tests.leaders.factories import LeaderFactory
    from tuangou.accounts.roles import sync_roles

    sync_roles()
    leader_user = make_user("lily", "+8613800000011", "团长小王")
    LeaderFactory(user=leader_user, real_name="王丽", share_code="lily-share-code-1")
    bare_staff = make_user("stan", "+8613900000109", "没有权限的员工", is_staff=True)
    warehouse = make_user("wang", "+8613900000103", "仓库老王", is_staff=True)
    warehouse.groups.add(Group.objects.get(name=WAREHOUSE))
    driver = make_user("dave", "+8613900000104", "司机小刘")
    driver.groups.add(Group.objects.get(name=DRIVERS))
    return {
        "anonymous": None,
        "shopper": shopper,
        "leader": leader_user,
        "staff without permissions": bare_staff,
        OPERATORS: operator,
        FINANCE: finance,
        WAREHOUSE: warehouse,
        DRIVERS: driver,
    }


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


_LOGIN_PREFIXES = ("/accounts/login/", "/admin/login/")


def _refused(response) -> bool:
    """A redirect to a sign-in page, or to the admin's index (its answer to an
    object that does not exist, given before the object's permission is
    checked; the index lists only what the reader may see), or 403/404. A
    redirect elsewhere is judged by where it lands (followed)."""
    hops = [hop for hop, _status in getattr(response, "redirect_chain", [])]
    if response.status_code in (301, 302):
        hops.append(response["Location"])
    for hop in hops:
        path = hop.split("?")[0]
        if path.startswith(_LOGIN_PREFIXES) or path == "/admin/":
            return True
    return response.status_code in (403, 404)


def _ask(client: Client, method: str, url: str):
    response = getattr(client, method)(url)
    if response.status_code in (301, 302) and not _refused(response):
        response = getattr(client, method)(url, follow=True)
    return response


def _check(client: Client, url: str) -> str | None:
    """None when both GET and POST are refused (405 counting for one of them)."""
    got = _ask(client, "get", url)
    posted = _ask(client, "post", url)
    statuses = (got.status_code, posted.status_code)
    if statuses == (405, 405):
        return f"{statuses}: neither method answers"
    for method, response in (("GET", got), ("POST", posted)):
        if response.status_code != 405 and not _refused(response):
            hops = " -> ".join(hop for hop, _status in getattr(response, "redirect_chain", []))
            return f"{method} -> {response.status_code} {hops}".strip()
    return None


# --- the tests -------------------------------------------------------------------


def test_every_route_is_classified():
    unclassified = [
        r.route
        for r in all_routes()
        if not r.route.startswith("admin/")
        and not _first(STAFF_AREAS, r.route)
        and not _first(SIGNED_IN_AREAS, r.route)
        and not _first(PUBLIC, r.route)
    ]
    assert unclassified == [], "classify these routes in tests/test_url_permissions.py"


def test_staff_pages_refuse_everyone_without_their_permission(people):
    holes = []
    routes = [(r, _first(STAFF_AREAS, r.route)) for r in all_routes()]
    routes = [(r, rule) for r, rule in routes if rule]
    assert len(routes) > 30  # the walk found the staff pages
    for persona, user in people.items():
        client = _client(user)
        for route, (_regex, allowed, _why) in routes:
            if persona in allowed:
                continue
            problem = _check(client, dummy_url(route.route))
            if problem:
                holes.append(f"{persona}: {route.route} ({route.view}) {problem}")
    assert holes == []


def _admin_model_routes():
    """(route, model) for every URL under a registered model's admin."""
    found = []
    for model in admin.site._registry:
        prefix = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        for r in all_routes():
            if r.route.startswith(prefix):
                found.append((r, model))
    return found


_DJANGO_ADMIN_VIEWS = {
    "changelist_view",
    "add_view",
    "change_view",
    "delete_view",
    "history_view",
    "autocomplete_view",
    "view",
}


def test_admin_model_pages_refuse_staff_without_the_models_permission(people):
    """A staff user with no permission is refused every URL of every model's
    admin, by GET and POST (a ModelAdmin's own has_*_permission or get_urls
    view that forgets the check shows here). Each role is refused the
    changelist and the apps' own admin views of the models it may not see."""
    holes = []
    routes = _admin_model_routes()
    assert len(routes) > 100
    for persona in ("staff without permissions", OPERATORS, FINANCE, WAREHOUSE):
        user = people[persona]
        client = _client(user)
        for route, model in routes:
            # An audit trail's history is for whoever may view the audited model.
            opts = getattr(model, "pgh_tracked_model", model)._meta
            if user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or user.has_perm(
                f"{opts.app_label}.change_{opts.model_name}"
            ):
                continue
            own_view = route.view.rsplit(".", 1)[-1] not in _DJANGO_ADMIN_VIEWS
            own = model._meta
            changelist = route.route == f"admin/{own.app_label}/{own.model_name}/"
            if persona != "staff without permissions" and not (own_view or changelist):
                continue
            problem = _check(client, dummy_url(route.route))
            if problem:
                holes.append(f"{persona}: {route.route} ({route.view}) {problem}")
    assert holes == []


def test_the_admin_refuses_everyone_who_is_not_staff(people):
    admin_routes = [r for r in all_routes() if r.route.startswith("admin/")]
    open_pages = {"admin/login/", "admin/logout/"}
    holes = []
    # Not staff: a visitor and a shopper (a leader or a driver is one too).
    for persona in ("anonymous", "shopper"):
        client = _client(people[persona])
        for route in admin_routes:
            if route.route in open_pages:
                continue
            problem = _check(client, dummy_url(route.route))
            if problem:
                holes.append(f"{persona}: {route.route} ({route.view}) {problem}")
    assert holes == []


def test_signed_in_pages_send_anonymous_visitors_to_sign_in():
    client = Client(raise_request_exception=False)
    holes = []
    for route in all_routes():
        if _first(SIGNED_IN_AREAS, route.route) and not _first(STAFF_AREAS, route.route):
            problem = _check(client, dummy_url(route.route))
            if problem:
                holes.append(f"{route.route} ({route.view}) {problem}")
    assert holes == []


def test_operators_cannot_approve_or_pay_withdrawals_and_leaders_see_no_staff_page(people):
    """The issue's two examples, spelled out."""
    operator = _client(people[OPERATORS])
    for url in (
        "/leader/finance/withdrawals/",
        "/leader/finance/withdrawals/W0000000001/approve/",
        "/leader/finance/payouts/",
    ):
        assert operator.get(url).status_code == 403
        assert operator.post(url).status_code == 403
    for perm in ("view_withdrawal", "approve_withdrawal", "pay_withdrawal", "view_payoutbatch"):
        assert not people[OPERATORS].has_perm(f"leaders.{perm}")
        assert people[FINANCE].has_perm(f"leaders.{perm}")
    for url in ("/admin/leaders/withdrawal/", "/admin/leaders/payoutbatch/"):
        assert operator.get(url).status_code == 403
        assert _client(people[FINANCE]).get(url).status_code == 200
    leader = _client(people["leader"])
    for url in ("/admin/", "/leader/finance/", "/reports/", "/delivery/warehouse/"):
        response = leader.get(url, follow=True)
        assert _refused(response), url


def test_the_roles_file_names_only_existing_permissions():
    """A typo in roles.py would silently grant nothing (or, with '-', take nothing away)."""
    from django.contrib.auth.models import Permission

    missing = []
    for role, entries in ROLE_PERMISSIONS.items():
        for entry in entries:
            app_label, _dot, codename = entry.lstrip("-").partition(".")
            qs = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                qs = qs.filter(codename=codename)
            if not qs.exists():
                missing.append(f"{role}: {entry}")
    assert missing == []


def test_every_admin_action_needs_a_permission_and_a_reader_runs_none(client, make_user):
    """Django offers an action that names no permission to anyone who may open
    the change list; here every action needs one (the change permission unless
    it says otherwise: tuangou/accounts/admin_actions.py)."""
    from django.contrib.auth.models import Permission

    from marketing.models import CouponTemplate
    from tests.marketing.m1_support import template
    from tuangou.accounts.admin_actions import _action_functions

    unguarded = [
        f"{model._meta.label}.{func.__name__}"
        for model, model_admin in admin.site._registry.items()
        for func in _action_functions(model_admin)
        if not getattr(func, "allowed_permissions", None)
    ]
    assert unguarded == []

    reader = make_user("rita", "+8613900000110", "只读员工", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_coupontemplate"))
    offered = template(name="新人券", is_active=True)
    client.force_login(reader)
    url = "/admin/marketing/coupontemplate/"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="action"' not in page.content.decode()
    client.post(url, {"action": "deactivate", "_selected_action": [offered.pk]})
    offered.refresh_from_db()
    assert offered.is_active is True
    assert CouponTemplate.objects.filter(is_active=True).count() == 1
