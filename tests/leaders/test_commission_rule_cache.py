"""The commission rules come from Redis (leaders/commission/rules.py, issue #11)
and every change of a rule reaches the next book: a new rule, an ended one, a
deleted one through the admin; a rule starting later comes into force on time
with no write; a moment before the cached entry's reads PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leaders.commission.models import CommissionRule, RuleKind, RuleScope
from leaders.commission.rules import RuleBook
from tests.clock import NOON_ISH

pytestmark = pytest.mark.django_db


def _book(at=None) -> tuple[RuleBook, int]:
    with CaptureQueriesContext(connection) as ctx:
        book = RuleBook(at or NOON_ISH)
    reads = [q for q in ctx.captured_queries if "leaders_commissionrule" in q["sql"]]
    return book, len(reads)


def _default(rate: str, **kwargs) -> CommissionRule:
    kwargs.setdefault("effective_from", NOON_ISH - timedelta(days=1))
    return CommissionRule.objects.create(
        scope=RuleScope.DEFAULT, kind=RuleKind.RATE, rate=Decimal(rate), **kwargs
    )


def test_the_second_book_reads_no_rule(clock):
    _default("0.0800")
    assert _book()[1] == 1
    book, reads = _book()
    assert reads == 0
    assert book.default.rate == Decimal("0.0800")


def test_a_new_rule_and_an_ended_one_reach_the_next_book(clock):
    old = _default("0.0800", effective_from=NOON_ISH - timedelta(days=2))
    assert _book()[0].default == old
    new = _default("0.0600")
    book, reads = _book()
    assert (book.default, reads) == (new, 1)
    new.effective_until = NOON_ISH - timedelta(minutes=1)
    new.save(update_fields=["effective_until"])
    assert _book()[0].default == old


def test_a_later_rule_comes_into_force_on_time_without_a_write(clock):
    _default("0.0800")
    later = _default("0.0500", effective_from=NOON_ISH + timedelta(hours=1))
    assert _book()[0].default.rate == Decimal("0.0800")
    clock.shift(timedelta(hours=1))
    book, reads = _book(NOON_ISH + timedelta(hours=1))
    assert (book.default, reads) == (later, 0)


def test_a_moment_before_the_entry_reads_postgresql(clock):
    ended = _default("0.0700", effective_until=NOON_ISH)
    assert _book(NOON_ISH + timedelta(minutes=5))[0].default is None
    book, reads = _book(NOON_ISH - timedelta(minutes=5))
    assert (book.default, reads) == (ended, 1)


def test_a_rule_deleted_in_the_admin_is_gone_from_the_next_book(clock, admin_client):
    _default("0.0800")
    upcoming = _default("0.0500", effective_from=NOON_ISH + timedelta(days=1))
    assert _book(NOON_ISH + timedelta(days=2))[0].default == upcoming
    url = reverse("admin:leaders_commissionrule_delete", args=[upcoming.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not CommissionRule.objects.filter(pk=upcoming.pk).exists()
    assert _book(NOON_ISH + timedelta(days=2))[0].default.rate == Decimal("0.0800")
