"""Template filters for reports: {{ amount|yuan }}, {{ amount|yuan_wan }}, {{ n|count_wan }},
{{ rate|percent }}, {{ rate|change }} (analytics/formatting.py)."""

from django import template

from analytics import formatting

register = template.Library()

register.filter("yuan", formatting.yuan)
register.filter("yuan_wan", formatting.yuan_wan)
register.filter("count_wan", formatting.count_wan)
register.filter("percent", formatting.percent)
register.filter("change", formatting.change)
