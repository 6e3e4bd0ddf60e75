"""Periodic work of the orders app (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "orders-expire-unpaid": {
        "task": "orders.tasks.expire_unpaid_orders_task",
        "schedule": timedelta(minutes=1),
    },
    "orders-find-lost-payments": {
        "task": "orders.tasks.find_lost_payments_task",
        "schedule": timedelta(minutes=2),
    },
    # A refund answered PROCESSING whose notification never came.
    "orders-poll-processing-refunds": {
        "task": "orders.tasks.poll_processing_refunds_task",
        "schedule": timedelta(minutes=10),
    },
    # Delivery and pickup: the 06:00 dispatch of the day's orders is scheduled
    # by logistics (points on no route; routed orders leave with their van);
    # orders nobody came for are flagged every hour after their deadline.
    "orders-flag-uncollected": {
        "task": "orders.tasks.flag_uncollected_orders_task",
        "schedule": crontab(minute=5),
    },
}
