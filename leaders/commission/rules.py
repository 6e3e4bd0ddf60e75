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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from tuangou.money import ZERO, from_fen, to_fen, to_money

from .models import CommissionRule, RuleKind, RuleScope


@dataclass(frozen=True)
class Terms:
    """What an entry snapshots: the rule (None: the leader's own rate), its kind and value."""

    rule: CommissionRule | None
    kind: str
    rate: Decimal | None = None
    amount: Decimal | None = None


class RuleBook:
    """The rules in force at one moment, loaded once (the table is small)."""

    def __init__(self, at: datetime):
        self.at = at
        rules = CommissionRule.objects.filter(
            Q(effective_from__lte=at), Q(effective_until__isnull=True) | Q(effective_until__gt=at)
        ).order_by("-effective_from", "-pk")
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
