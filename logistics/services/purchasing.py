"""Purchasing (集中采购): purchase orders from the wave's demand, receiving, shortage cuts.

PLACEHOLDER until the purchasing work lands: the wave calls draft_purchase_orders.
"""

from __future__ import annotations


def draft_purchase_orders(*, wave) -> list:
    """Write or refresh the draft purchase orders of a finished wave (one per supplier)."""
    return []
