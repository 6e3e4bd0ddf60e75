"""Thin Celery tasks over catalog.services; each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def roll_stock_forward_task() -> int:
    """Open the coming delivery days with each SKU's daily quota (idempotent)."""
    return services.roll_stock_forward()
