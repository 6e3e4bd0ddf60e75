"""The audit trail on money and stock (issue #15, security 4): django-pghistory
triggers record every change, whatever made it; the admin shows who, what
(old → new) and when, read-only."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import DatabaseError, transaction
from django.db.models import F
from django.urls import reverse

from catalog.models import Sku, SkuPriceEvent, StockRecord, StockRecordEvent
from tests.admin_html import rows
from tests.catalog.factories import SkuFactory, WarehouseFactory, set_stock

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 26)


class _Form(HTMLParser):
    """The fields of the admin's change form as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in {"submit", "button", "file"}:
            if a.get("type") in {"checkbox", "radio"}:
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            if "multiple" not in a:
                self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def _form_data(html: str) -> dict[str, str]:
    form = _Form()
    form.feed(html.split('id="product_form"', 1)[1])
    return form.data


def test_an_operators_price_change_in_the_admin_is_recorded_with_who_and_old_and_new(
    client, operator
):
    sku = SkuFactory(price=Decimal("12.80"))
    product_url = reverse("admin:catalog_product_change", args=[sku.product_id])
    client.force_login(operator)
    data = _form_data(client.get(product_url).content.decode())
    [price_field] = [k for k, v in data.items() if k.endswith("-price") and v == "12.80"]
    data[price_field] = "13.50"
    response = client.post(product_url, data)
    assert response.status_code == 302, re.findall(r"errorlist.{0,300}", response.content.decode())
    sku.refresh_from_db()
    assert sku.price == Decimal("13.50")

    created, changed = SkuPriceEvent.objects.filter(pgh_obj=sku).order_by("pgh_id")
    assert (created.pgh_label, created.price) == ("insert", Decimal("12.80"))
    assert (changed.pgh_label, changed.price) == ("update", Decimal("13.50"))
    assert changed.pgh_context.metadata["user"] == operator.pk
    assert changed.pgh_context.metadata["url"] == product_url
    # Saving the form again without a price change records nothing.
    client.post(product_url, _form_data(client.get(product_url).content.decode()))
    assert SkuPriceEvent.objects.filter(pgh_obj=sku).count() == 2

    history = client.get(reverse("admin:catalog_skupriceevent_changelist"))
    assert history.status_code == 200
    newest = rows(history.content.decode())[0]
    assert newest[1:4] == ["修改", f"#{sku.pk}", "运营小李 (olivia)"]
    assert "团购价: 12.80 → 13.50" in newest[4]
    assert "市场价" not in newest[4]  # unchanged fields are not listed


def test_a_raw_f_update_of_stock_is_recorded_and_a_sale_is_not():
    sku = SkuFactory()
    warehouse = WarehouseFactory()
    record = set_stock(sku=sku, warehouse=warehouse, delivery_date=DAY, quantity=50)
    # A script or a service bypassing the ledger, in one UPDATE with F().
    StockRecord.objects.filter(pk=record.pk).update(quantity=F("quantity") + 7)
    # A sale moves units from quantity to sold: the ledger and the order hold it.
    StockRecord.objects.filter(pk=record.pk).update(quantity=F("quantity") - 2, sold=F("sold") + 2)
    events = list(
        StockRecordEvent.objects.filter(pgh_obj=record)
        .order_by("pgh_id")
        .values_list("pgh_label", "quantity", "sold", "pgh_context")
    )
    assert events == [("insert", 0, 0, None), ("update", 50, 0, None), ("update", 57, 0, None)]


def test_the_history_is_read_only_in_the_admin_and_in_the_database(client, operator):
    sku = SkuFactory(price=Decimal("5.00"))
    Sku.objects.filter(pk=sku.pk).update(price=Decimal("5.50"))
    event = SkuPriceEvent.objects.filter(pgh_obj=sku).latest("pgh_id")
    client.force_login(operator)
    change_url = reverse("admin:catalog_skupriceevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="price"' not in html
    assert client.post(change_url, {"price": "0.01"}).status_code == 403
    assert client.get(reverse("admin:catalog_skupriceevent_add")).status_code == 403
    delete_url = reverse("admin:catalog_skupriceevent_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.price == Decimal("5.50")
    # The table itself refuses changes (append-only trigger).
    with pytest.raises(DatabaseError), transaction.atomic():
        SkuPriceEvent.objects.filter(pk=event.pk).update(price=Decimal("0.01"))
    with pytest.raises(DatabaseError), transaction.atomic():
        SkuPriceEvent.objects.filter(pk=event.pk).delete()


def test_withdrawal_history_is_for_finance_not_operators(client, operator, finance):
    for user, status in ((operator, 403), (finance, 200)):
        client.force_login(user)
        url = reverse("admin:leaders_withdrawalevent_changelist")
        assert client.get(url).status_code == status
    client.force_login(operator)
    index = client.get(reverse("admin:index")).content.decode()
    assert "价格变更记录" in index
    assert "提现变更记录" not in index


def test_every_money_and_stock_model_is_audited():
    from leaders.models import CommissionEntry, CommissionRule, Withdrawal
    from orders.models import Refund
    from tuangou.audit_admin import _event_models

    for model in (Sku, StockRecord, CommissionRule, CommissionEntry, Withdrawal, Refund):
        [event_model] = _event_models(model)
        assert event_model._meta.app_label == model._meta.app_label


def test_only_staff_requests_carry_the_history_context(client, shopper, operator):
    """pghistory passes who and where by prefixing each SQL statement of the
    request; shoppers' requests (checkout, payments) stay as they were, and so
    does any request outside the staff pages (tuangou.audit.STAFF_PATH_PREFIXES:
    a 秒杀 refusal answered from Redis must not load the user to find out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements_of(user, url, data=None):
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data or {})
        assert response.status_code == 302
        return [q["sql"] for q in queries.captured_queries]

    from tests.catalog.factories import CategoryFactory

    fruit = CategoryFactory(name="水果", slug="fruit")
    shopper_sql = statements_of(shopper, reverse("orders:notices_read"))
    assert shopper_sql
    assert not any("pghistory" in sql for sql in shopper_sql)
    # Staff outside the staff pages: no context either; on them, every statement has it.
    assert not any(
        "pghistory" in sql for sql in statements_of(operator, reverse("orders:notices_read"))
    )
    assert any(
        "set_config('pghistory" in sql
        # pghistory prefixes the writing statements: an operator renames a category.
        for sql in statements_of(
            operator,
            reverse("admin:catalog_category_change", args=[fruit.pk]),
            {"name": "鲜果", "slug": "fruit", "position": 0, "uncollected_action": "return"},
        )
    )
