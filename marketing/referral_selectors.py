"""Reads of 老带新 for pages: the inviter's friends and their status."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Referral, ReferralStatus


@dataclass(frozen=True)
class InviteSummary:
    invited: int
    rewarded: int
    waiting: int


def invitations_for(*, inviter, limit: int = 100) -> list[Referral]:
    """The shopper's invited friends, newest first, with the friend and the
    inviter's coupon joined (one query)."""
    return list(
        Referral.objects.filter(inviter=inviter)
        .select_related("invitee", "inviter_coupon")
        .order_by("-created_at", "-pk")[:limit]
    )


def invite_summary(referrals: list[Referral]) -> InviteSummary:
    return InviteSummary(
        invited=len(referrals),
        rewarded=sum(1 for r in referrals if r.status == ReferralStatus.REWARDED),
        waiting=sum(1 for r in referrals if r.status == ReferralStatus.PENDING),
    )
