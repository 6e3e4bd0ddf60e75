"""Thin Celery tasks: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def tell_applicant_task(application_id: int) -> bool:
    return services.tell_applicant(application_id=application_id)


@shared_task
def tell_shoppers_of_pause_task(pause_id: int) -> int:
    return services.tell_shoppers_of_pause(pause_id=pause_id)
