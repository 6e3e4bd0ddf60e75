"""Thin Celery tasks of the marketing app: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

# --- coupons and points (M1) ------------------------------------------------------------


@shared_task
def run_coupon_issue_job_task(job_id: int) -> str:
    """An operator's segment issue (keyed per shopper: a redelivery issues nothing twice)."""
    from .services.coupons import run_issue_job

    return run_issue_job(job_id=job_id).status


@shared_task
def reward_completed_order_task(*, user_id: int, order_id: int, kept_amount: str) -> None:
    """Points and 满额返券 for a completed order (each keyed by the order)."""
    from .services.checkout import reward_completed_order

    reward_completed_order(user_id=user_id, order_id=order_id, kept_amount=kept_amount)


@shared_task
def expire_coupons_task() -> int:
    from .services.coupons import expire_coupons

    return expire_coupons()


@shared_task
def expire_points_task() -> int:
    from .services.points import expire_points

    return expire_points()


# --- 限时秒杀 and 老带新 (M2) -----------------------------------------------------------


@shared_task
def flash_upkeep_task() -> int:
    """Every minute: reconcile the Redis gate with the database (arm coming
    sessions, give back expired holds, repair drift) and rewrite the cached
    秒杀 board the home and product pages read. Returns the items that drifted."""
    from .flash_selectors import refresh_board
    from .services.flash import reconcile_flash_sales

    drifted = sum(1 for result in reconcile_flash_sales() if result.drifted)
    refresh_board()
    return drifted
