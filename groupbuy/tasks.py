"""Thin Celery tasks around groupbuy.services; each is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def expire_group_task(group_id: int) -> str:
    """Runs at the group's deadline (ETA); a group not yet due or already closed is left alone."""
    from .services import expire_group

    return expire_group(group_id=group_id)


@shared_task(acks_late=True)
def refund_group_member_task(member_id: int) -> bool:
    """One paid member of a failed group: one refund, in its own transaction."""
    from .services import refund_group_member

    return refund_group_member(member_id=member_id)


@shared_task(acks_late=True)
def refund_deal_order_task(deal_order_id: int) -> bool:
    from .services import refund_deal_order

    return refund_deal_order(deal_order_id=deal_order_id)


@shared_task(acks_late=True)
def settle_deal_task(deal_id: int) -> str:
    """Runs at the deal's cutoff (ETA); a deal not yet due or already decided is left alone."""
    from .services import settle_deal

    return settle_deal(deal_id=deal_id)


@shared_task(acks_late=True)
def sweep_groups_task() -> dict:
    """Every minute: groups whose ETA task was lost, refunds whose task was lost, due deals."""
    from .services import sweep_groups

    return sweep_groups()


@shared_task(acks_late=True)
def hold_campaign_stock_task() -> dict:
    """Nightly after the catalog rolls stock forward: hold the running campaigns'
    units on the newly opened days; give back what is left on days past their cutoff."""
    from django.utils import timezone

    from .models import Campaign
    from .services import hold_campaign_stock, release_campaign_holds

    now = timezone.now()
    held = sum(
        hold_campaign_stock(campaign=c, now=now)
        for c in Campaign.objects.filter(is_active=True, ends_at__gt=now).select_related("sku")
    )
    return {"held": held, "released": release_campaign_holds(now=now)}
