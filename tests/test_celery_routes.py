"""Every task runs on the queue of its kind (settings.CELERY_TASK_ROUTES).

The table below is the decision, task by task: a new task fails
test_every_task_has_a_decided_queue until someone puts it here (on purpose,
even if on "default").
"""

import importlib
import re
from pathlib import Path

import pytest
import redis
import yaml
from django.conf import settings

from tuangou.celery import app

ROOT = Path(__file__).resolve().parent.parent

TASKS_MODULES = [
    "catalog.tasks",
    "orders.tasks",
    "groupbuy.tasks",
    "leaders.tasks",
    "leaders.commission.tasks",
    "tuangou.accounts.tasks",
    "tuangou.outbox.tasks",
    "logistics.tasks",
    "marketing.tasks",
    "analytics.tasks",
]

EXPECTED_QUEUE = {
    "orders.tasks.expire_order_task": "payments",
    "orders.tasks.expire_unpaid_orders_task": "payments",
    "orders.tasks.find_lost_payments_task": "payments",
    "orders.tasks.poll_processing_refunds_task": "payments",
    "orders.tasks.send_refund_task": "payments",
    "groupbuy.tasks.refund_group_member_task": "payments",
    "groupbuy.tasks.refund_deal_order_task": "payments",
    "leaders.commission.tasks.send_payout_batch_task": "payments",
    "leaders.commission.tasks.check_payout_batch_task": "payments",
    "leaders.commission.tasks.check_submitted_payout_batches_task": "payments",
    "orders.tasks.send_notice_task": "notices",
    "leaders.tasks.tell_applicant_task": "notices",
    "leaders.tasks.tell_shoppers_of_pause_task": "notices",
    "orders.tasks.dispatch_orders_task": "cutoff",
    "groupbuy.tasks.settle_deal_task": "cutoff",
    "catalog.tasks.roll_stock_forward_task": "cutoff",
    "groupbuy.tasks.hold_campaign_stock_task": "cutoff",
    "leaders.commission.tasks.settle_commissions_task": "reports",
    "leaders.commission.tasks.close_commission_periods_task": "reports",
    "leaders.commission.tasks.generate_statement_task": "reports",
    "leaders.commission.tasks.reconcile_commission_accounts_task": "reports",
    "orders.tasks.flag_uncollected_orders_task": "default",
    "groupbuy.tasks.expire_group_task": "default",
    "groupbuy.tasks.sweep_groups_task": "default",
    "tuangou.accounts.tasks.heartbeat_task": "default",
    "tuangou.accounts.tasks.ping_task": "default",
    "tuangou.accounts.tasks.sync_roles_task": "default",
    "tuangou.outbox.tasks.relay_outbox_task": "default",
    "logistics.tasks.dispatch_unrouted_orders_task": "cutoff",
    "logistics.tasks.tell_leader_of_handover_task": "notices",
    # Marketing: short jobs, none on the money path (a redelivery changes nothing).
    "marketing.tasks.run_coupon_issue_job_task": "default",
    "marketing.tasks.reward_completed_order_task": "default",
    "marketing.tasks.expire_coupons_task": "default",
    "marketing.tasks.expire_points_task": "default",
    "marketing.tasks.flash_upkeep_task": "default",
    "logistics.tasks.dispose_uncollected_task": "cutoff",
    "logistics.tasks.run_wave_task": "cutoff",
    "logistics.tasks.start_due_waves_task": "cutoff",
    "logistics.tasks.roll_late_orders_task": "cutoff",
    "analytics.tasks.refresh_facts_task": "reports",
    "analytics.tasks.rebuild_facts_task": "reports",
    "analytics.tasks.run_report_job_task": "reports",
    "analytics.tasks.expire_report_jobs_task": "reports",
    "analytics.tasks.send_daily_summary_task": "reports",
}


def project_tasks() -> set[str]:
    for module in TASKS_MODULES:
        importlib.import_module(module)
    return {name for name in app.tasks if not name.startswith("celery.")}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_every_task_has_a_decided_queue():
    assert project_tasks() == set(EXPECTED_QUEUE)


@pytest.mark.parametrize(("task_name", "queue"), sorted(EXPECTED_QUEUE.items()))
def test_each_task_routes_to_its_queue(task_name, queue):
    assert queue_of(task_name) == queue


def test_the_scheduled_tasks_route_like_the_rest():
    # Beat sends by name: the schedule's entries land where the table says.
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert queue_of(entry["task"]) == EXPECTED_QUEUE[entry["task"]]


def test_a_worker_without_q_consumes_every_queue():
    # start_worker() in the worker tests and `celery worker` without -Q
    # consume app.amqp.queues: all five, not only "default".
    assert sorted(app.amqp.queues) == ["cutoff", "default", "notices", "payments", "reports"]
    assert set(EXPECTED_QUEUE.values()) == set(app.amqp.queues)


def test_a_sent_task_waits_in_its_queue_on_the_real_broker():
    # Kombu's Redis transport keeps a queue as a list named after it.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    app.control.purge()
    # Celery's own "celery" list is not one of the app's queues (purge leaves
    # it): an earlier test on this Redis database may have left something there.
    unnamed_before = broker.llen("celery")
    try:
        importlib.import_module("orders.tasks").send_notice_task.apply_async(args=[0])
        importlib.import_module("orders.tasks").send_refund_task.apply_async(args=[0])
        assert broker.llen("notices") == 1
        assert broker.llen("payments") == 1
        assert broker.llen("default") == 0
        assert broker.llen("celery") == unnamed_before
    finally:
        app.control.purge()


def compose_worker_queues() -> dict[str, list[str]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    queues = {}
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if isinstance(command, list) and command[3:4] == ["worker"]:
            queues[name] = command[command.index("-Q") + 1].split(",")
    return queues


def test_docker_compose_runs_one_worker_pool_for_every_queue():
    queues = compose_worker_queues()
    assert queues == {
        "worker-payments": ["payments"],
        "worker-default": ["default", "notices"],
        "worker-reports": ["reports"],
        "worker-cutoff": ["cutoff"],
    }
    consumed = [queue for names in queues.values() for queue in names]
    assert sorted(consumed) == sorted(app.amqp.queues)  # each queue exactly once


def test_the_dev_worker_of_make_run_listens_on_every_queue():
    source = (ROOT / "scripts" / "run.py").read_text()
    listed = re.search(r"-Q ([a-z,]+)", source).group(1).split(",")
    assert sorted(listed) == sorted(app.amqp.queues)
