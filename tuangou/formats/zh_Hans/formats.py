"""Simplified Chinese: "1月5日" as shoppers write it (Django's own is "01月5日")."""

MONTH_DAY_FORMAT = "n月j日"
