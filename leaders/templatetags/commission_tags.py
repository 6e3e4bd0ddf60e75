"""{% money_card leader %}: the commission card of the leader desk (issue #7)."""

from __future__ import annotations

from django import template

from leaders.commission.selectors import money_summary

register = template.Library()


@register.inclusion_tag("leaders/money/_card.html")
def money_card(leader):
    return {"summary": money_summary(leader=leader)}
