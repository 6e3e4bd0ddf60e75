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
        "leaders_told": result.leaders_told,
    }


# --- the cutoff wave ------------------------------------------------------------------


@shared_task(acks_late=True)
def run_wave_task(warehouse_id: int, delivery_date_iso: str) -> int | None:
    """Build one warehouse's cutoff wave for a day; None when another worker has it."""
    import logging
    from datetime import date

    from catalog.models import Warehouse

    from .services.wave import WaveBusy, WaveError, run_wave

    warehouse = Warehouse.objects.get(pk=warehouse_id)
    try:
        wave = run_wave(warehouse=warehouse, delivery_date=date.fromisoformat(delivery_date_iso))
    except WaveError as refused:  # busy elsewhere, or its runs have left: nothing to do
        logging.getLogger("tuangou.logistics.wave").log(
            logging.INFO if isinstance(refused, WaveBusy) else logging.WARNING,
            "wave of warehouse %s for %s: %s",
            warehouse_id,
            delivery_date_iso,
            refused.message,
        )
        return None
    return wave.pk


@shared_task
def start_due_waves_task() -> int:
    """Every few minutes: start the wave of each warehouse whose cutoff for
    tomorrow has passed and whose wave is not done yet (one task each)."""
    from .services.wave import waves_due

    due = waves_due()
    for warehouse, day in due:
        run_wave_task.delay(warehouse.pk, day.isoformat())
    return len(due)


@shared_task
def roll_late_orders_task() -> int:
    """Every few minutes: orders confirmed after their day's wave move to the next day."""
    from .services.wave import roll_late_orders, waves_with_late_orders_to_check

    return sum(len(roll_late_orders(wave=w).moved) for w in waves_with_late_orders_to_check())
