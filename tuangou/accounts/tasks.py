from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task
def heartbeat_task() -> str:
    """Beat's proof of life for /healthz: records when the worker last ran a task."""
    stamp = timezone.now().isoformat()
    cache.set("celery:heartbeat", stamp, timeout=None)
    return stamp


@shared_task
def ping_task() -> str:
    return "pong"


@shared_task
def sync_roles_task() -> None:
    """Re-apply the role permissions of roles.py (after a deploy, or on demand)."""
    from .roles import sync_roles

    sync_roles()
