"""Thin Celery tasks of the analytics app: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task  # noqa: F401
