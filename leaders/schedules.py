"""Periodic work of the leaders app (merged into CELERY_BEAT_SCHEDULE)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Commission (issue #7): every night the entries whose after-sale window
    # has passed are settled into the leader's current period; then every
    # period that ended (a week or a month, settings.COMMISSION_PERIOD) is
    # closed and its statements made. Both are idempotent and catch up after
    # a missed night.
    "leaders-settle-commissions": {
        "task": "leaders.commission.tasks.settle_commissions_task",
        "schedule": crontab(hour=2, minute=0),
    },
    "leaders-close-commission-periods": {
        "task": "leaders.commission.tasks.close_commission_periods_task",
        "schedule": crontab(hour=2, minute=30),
    },
    # After the night's settlement: every account's counters (which
    # withdrawals reserve from) against the ledger; mismatches are logged as
    # errors and shown on the finance page.
    "leaders-reconcile-commission-accounts": {
        "task": "leaders.commission.tasks.reconcile_commission_accounts_task",
        "schedule": crontab(hour=3, minute=0),
    },
    # WeChat pays a transfer batch asynchronously: every hour each batch it
    # accepted and is still paying is asked about by its batch number and
    # settled (paid withdrawals marked paid, failed ones back to finance).
    "leaders-check-payout-batches": {
        "task": "leaders.commission.tasks.check_submitted_payout_batches_task",
        "schedule": crontab(minute=17),
    },
}
