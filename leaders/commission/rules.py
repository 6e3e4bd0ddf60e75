"""Which rule applies to an order line, and what it earns.

Most specific first: product, category (the product's own, then its parent),
leader, platform default; with no rule at all, the leader's own
`commission_rate` (10% unless an operator changed it). Among rules of the same
target in force at the moment, the latest `effective_from` wins.

The one rounding rule: commission = base × rate (or the fixed amount),
rounded to the fen with ROUND_HALF_UP (tuangou.money.to_money). A per-order
amount is split over the order's lines that fall under that rule in
proportion to what was paid for them, by largest remainder, so the parts sum
to the amount exactly.

The rules are operator-edited and few: RuleBook reads them from the Django
cache (issue #11: one statement less in every payment notification), checked
in the same round trip against a version token that every save or delete of a
rule replaces, at once and again after commit (post_save/post_delete below,
and the rule admin's save and delete). The token is read before the rules are
loaded: a change committed meanwhile replaces it, so what is stored is never
read. The entry holds every rule not yet ended at the moment it was loaded
for, and the book picks those in force at its own moment in Python; a moment
before that one (a rule ended in between may be missing) reads PostgreSQL.
Redis down: PostgreSQL.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from tuangou.money import ZERO, from_fen, to_fen, to_money

from .models import CommissionRule, RuleKind, RuleScope


@dataclass(frozen=True)
class Terms:
    """What an entry snapshots: the rule (None: the leader's own rate), its kind and value."""

    rule: CommissionRule | None
    kind: str
    rate: Decimal | None = None
    amount: Decimal | None = None


log = logging.getLogger(__name__)

VERSION_KEY = "leaders:commission-rules:version"
ENTRY_KEY = "leaders:commission-rules"
ENTRY_SECONDS = 60 * 60


def _rules_not_ended(at: datetime) -> list[CommissionRule]:
    return list(
        CommissionRule.objects.filter(
            Q(effective_until__isnull=True) | Q(effective_until__gt=at)
        ).order_by("-effective_from", "-pk")
    )


def _in_force(at: datetime) -> list[CommissionRule]:
    """The rules in force at `at`, newest first (from the cache when valid)."""
    now = timezone.now()
    try:
        found = cache.get_many([ENTRY_KEY, VERSION_KEY])
        token = found.get(VERSION_KEY)
        if token is None:
            token = secrets.token_hex(4)
            if not cache.add(VERSION_KEY, token, timeout=None):
                token = cache.get(VERSION_KEY) or token
    except Exception:
        log.warning("commission rule cache unavailable", exc_info=True)
        found, token = {}, None
    entry = found.get(ENTRY_KEY)
    if entry is not None and entry[0] == token and entry[1] <= at:
        rules = entry[2]
    else:
        # Every rule not ended at `start` holds every rule in force at any
        # moment from `start` on.
        start = min(at, now)
        rules = _rules_not_ended(start)
        if token is not None:
            try:
                cache.set(ENTRY_KEY, (token, start, rules), timeout=ENTRY_SECONDS)
            except Exception:
                log.warning("commission rule cache: could not store", exc_info=True)
    return [
        r
        for r in rules
        if r.effective_from <= at and (r.effective_until is None or r.effective_until > at)
    ]


def rules_changed() -> None:
    """A rule was saved or deleted: the cached rules are stale now and again
    once the transaction commits (a load in between still saw the old rows)."""

    def _replace() -> None:
        try:
            cache.set(VERSION_KEY, secrets.token_hex(4), timeout=None)
        except Exception:
            log.warning("commission rule cache: could not replace the token", exc_info=True)

    _replace()
    transaction.on_commit(_replace)


def _on_rule_written(sender, **kwargs) -> None:
    rules_changed()


# Same app: every write of a rule, whoever makes it (the admin, the demo, a shell).
post_save.connect(_on_rule_written, sender=CommissionRule, dispatch_uid="commission.rules.save")
post_delete.connect(_on_rule_written, sender=CommissionRule, dispatch_uid="commission.rules.delete")


class RuleBook:
    """The rules in force at one moment, loaded once (the table is small, and
    cached: see the module docstring)."""

    def __init__(self, at: datetime):
        self.at = at
        rules = _in_force(at)
        self.by_product: dict[int, CommissionRule] = {}
        self.by_category: dict[int, CommissionRule] = {}
        self.by_leader: dict[int, CommissionRule] = {}
        self.default: CommissionRule | None = None
        for rule in rules:  # newest first: the first one seen for a target wins
            if rule.scope == RuleScope.PRODUCT:
                self.by_product.setdefault(rule.product_id, rule)
            elif rule.scope == RuleScope.CATEGORY:
                self.by_category.setdefault(rule.category_id, rule)
            elif rule.scope == RuleScope.LEADER:
                self.by_leader.setdefault(rule.leader_id, rule)
            elif self.default is None:
                self.default = rule

    def terms_for(
        self, *, leader, product_id: int, category_id: int, parent_id: int | None
    ) -> Terms:
        rule = (
            self.by_product.get(product_id)
            or self.by_category.get(category_id)
            or (self.by_category.get(parent_id) if parent_id else None)
            or self.by_leader.get(leader.pk)
            or self.default
        )
        if rule is None:
            return Terms(rule=None, kind=RuleKind.RATE, rate=leader.commission_rate)
        return Terms(rule=rule, kind=rule.kind, rate=rule.rate, amount=rule.amount)


def commission_for(*, terms: Terms, base: Decimal, quantity: int) -> Decimal:
    """Commission of one line under rate or per-item terms (per-order: see split_fixed)."""
    if terms.kind == RuleKind.RATE:
        return to_money(base * terms.rate)
    if terms.kind == RuleKind.PER_ITEM:
        return to_money(terms.amount * quantity)
    raise ValueError("per-order amounts are split with split_fixed()")


def split_fixed(amount: Decimal, bases: list[Decimal]) -> list[Decimal]:
    """Split a per-order amount over lines in proportion to what was paid, to the fen."""
    total_fen = to_fen(amount)
    weights = [to_fen(b) for b in bases]
    weight_sum = sum(weights)
    if not weights:
        return []
    if weight_sum == 0:
        # Nothing was paid (all free): the first line carries it.
        return [to_money(amount)] + [ZERO] * (len(weights) - 1)
    floors = [total_fen * w // weight_sum for w in weights]
    remainders = [total_fen * w % weight_sum for w in weights]
    left_over = total_fen - sum(floors)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left_over]:
        floors[index] += 1
    return [from_fen(f) for f in floors]
