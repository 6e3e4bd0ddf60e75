"""Thin Celery tasks of the logistics app: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

# --- drivers and runs -----------------------------------------------------------------


@shared_task(acks_late=True)
def dispatch_unrouted_orders_task(delivery_date: str | None = None) -> int:
    """06:00: the day's confirmed orders at points on no route leave (default: today)."""
    from datetime import date

    from tuangou.timeutils import local_today

    from .services.runs import dispatch_unrouted_orders

    day = date.fromisoformat(delivery_date) if delivery_date else local_today()
    return len(dispatch_unrouted_orders(delivery_date=day))


@shared_task(acks_late=True)
def tell_leader_of_handover_task(stop_id: int) -> bool:
    """SMS the point's leader that the goods were handed over: please sign (签收)."""
    from .services.runs import tell_leader_of_handover

    return tell_leader_of_handover(stop_id=stop_id)


# --- uncollected goods ----------------------------------------------------------------


@shared_task(acks_late=True)
def dispose_uncollected_task() -> dict:
    """Hourly: refund or return what nobody collected by the deadline (exactly once per line)."""
    from .services.uncollected import dispose_uncollected

    result = dispose_uncollected()
    return {
        "orders": len(result.orders),
        "refunded_units": result.refunded_units,
        "returned_units": result.returned_units,
        "failed": result.failed,
    }
