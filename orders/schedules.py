"""Periodic work of the orders app (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

BEAT_SCHEDULE = {
    "orders-expire-unpaid": {
        "task": "orders.tasks.expire_unpaid_orders_task",
        "schedule": timedelta(minutes=1),
    },
    "orders-find-lost-payments": {
        "task": "orders.tasks.find_lost_payments_task",
        "schedule": timedelta(minutes=2),
    },
}
