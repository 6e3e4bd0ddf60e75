"""Coupons: issuing (guarded counters), the claim centre, operator segment
jobs, and a coupon's life (unused → locked by an unpaid order → used; back to
unused when the order is cancelled or refunded whole before delivery; expired
by the beat task).

Races:
- A template's `issued` counter only moves with a conditional UPDATE
  (issued = issued + 1 WHERE issued < total_quantity), backed by a
  CheckConstraint, so 500 shoppers claiming the last 100 get exactly 100.
- The per-shopper limit is checked under a transaction-level advisory lock
  on (template, shopper): two taps of the same shopper wait for each other,
  different shoppers never do.
- A coupon is locked for an order by a compare-and-set (status unused →
  locked, still valid, still the shopper's), so one coupon submitted by 50
  parallel checkouts is locked by exactly one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.outbox import publish_on_commit
from tuangou.statemachine import can_move

from ..models import (
    COUPON_TRANSITIONS,
    Coupon,
    CouponChannel,
    CouponIssueJob,
    CouponStatus,
    CouponTemplate,
    JobStatus,
    SegmentKind,
    ValidityKind,
)

logger = logging.getLogger("tuangou.marketing")

S = CouponStatus


class MarketingError(Exception):
    """Bad marketing input (a coupon that cannot be used, too many points…):
    `message` is for the shopper, in their language."""

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


class CouponUnavailable(MarketingError):
    pass


# --- codes --------------------------------------------------------------------------


def _random_code() -> str:
    # 12 base32 characters (60 bits): unguessable and easy to read out.
    return "C" + base64.b32encode(secrets.token_bytes(8)).decode()[:11]


def keyed_code(*, template_id: int, key: str) -> str:
    """The code of the one coupon a (template, key) may ever issue, e.g.
    ("new user 7"): a second issue for the same key finds it instead of
    writing another (the code is unique)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{template_id}:{key}".encode(), hashlib.sha256
    ).digest()
    return "K" + base64.b32encode(digest).decode()[:13]


# --- issuing ------------------------------------------------------------------------


def _validity(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    if template.validity == ValidityKind.FIXED_DATES:
        return template.valid_from or now, template.valid_until
    return now, now + timedelta(days=template.valid_days or 7)


def can_still_be_issued(template: CouponTemplate, *, now: datetime) -> bool:
    if not template.is_active:
        return False
    if template.validity == ValidityKind.FIXED_DATES and (
        template.valid_until is None or template.valid_until <= now
    ):
        return False
    return template.total_quantity is None or template.issued < template.total_quantity


def _advisory_lock(template_id: int, user_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [template_id, user_id])


def issue_coupon(
    *,
    template: CouponTemplate,
    user,
    channel: str | None = None,
    key: str = "",
    now: datetime | None = None,
) -> Coupon:
    """Give one coupon of `template` to `user`.

    With `key` the issue happens at most once for that key (a new shopper's
    gift, an order's spend reward, a job re-run): a second call returns the
    coupon the first wrote. Raises CouponUnavailable with the shopper's
    reason (sold out, limit reached, ended).
    """
    now = now or timezone.now()
    code = keyed_code(template_id=template.pk, key=key) if key else _random_code()
    with transaction.atomic():
        _advisory_lock(template.pk, user.pk)
        if key:
            existing = Coupon.objects.filter(code=code).first()
            if existing is not None:
                existing.was_issued_before = True
                return existing
        template = CouponTemplate.objects.get(pk=template.pk)
        if not template.is_active or not can_still_be_issued(template, now=now):
            if template.total_quantity is not None and template.issued >= template.total_quantity:
                raise CouponUnavailable(_("This coupon has all been claimed."), code="sold_out")
            raise CouponUnavailable(_("This coupon is no longer available."), code="ended")
        held = Coupon.objects.filter(template=template, user=user).exclude(status=S.REVOKED)
        if held.count() >= template.per_user_limit:
            raise CouponUnavailable(
                _("You already have this coupon (limit %(n)d per person).")
                % {"n": template.per_user_limit},
                code="limit",
            )
        valid_from, valid_until = _validity(template, now)
        coupon = Coupon.objects.create(
            template=template,
            user=user,
            code=code,
            channel=channel or template.channel,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        # Last: the template's row lock is held until COMMIT.
        counted = (
            CouponTemplate.objects.filter(pk=template.pk, is_active=True)
            .filter(Q(total_quantity__isnull=True) | Q(issued__lt=F("total_quantity")))
            .update(issued=F("issued") + 1)
        )
        if not counted:
            # Another shopper took the last one between our read and now.
            raise CouponUnavailable(_("This coupon has all been claimed."), code="sold_out")
    return coupon


def claim_coupon(*, template_id, user, now: datetime | None = None) -> Coupon:
    """领券中心: the shopper claims a coupon shown there."""
    template = CouponTemplate.objects.filter(
        pk=template_id, channel=CouponChannel.CLAIM_CENTRE, is_active=True
    ).first()
    if template is None:
        raise CouponUnavailable(_("This coupon is no longer available."), code="ended")
    return issue_coupon(template=template, user=user, channel=CouponChannel.CLAIM_CENTRE, now=now)


def issue_new_user_coupons(*, user, now: datetime | None = None) -> list[Coupon]:
    """新人券: every active new-shopper template, once per shopper ever (keyed).

    Called on a shopper's first sign-in, whatever the channel (SMS or WeChat:
    tuangou/accounts/sign_in.after_sign_in). A template that
    is sold out or ended is skipped (logged), the sign-in goes on.
    """
    issued = []
    for template in CouponTemplate.objects.filter(
        channel=CouponChannel.NEW_USER, is_active=True
    ).order_by("pk"):
        try:
            issued.append(issue_coupon(template=template, user=user, key=f"new:{user.pk}", now=now))
        except CouponUnavailable as exc:
            logger.info("new-user coupon %s for %s: %s", template.pk, user.pk, exc.code)
    return issued


def issue_spend_rewards(
    *, order_id: int, user, paid_amount, now: datetime | None = None
) -> list[Coupon]:
    """满额返券: an order completed and kept at least MARKETING_SPEND_REWARD_MIN
    (paid minus refunded): every active spend-reward template, once per order."""
    from tuangou.money import to_money

    if to_money(paid_amount) < to_money(settings.MARKETING_SPEND_REWARD_MIN):
        return []
    issued = []
    for template in CouponTemplate.objects.filter(
        channel=CouponChannel.SPEND_REWARD, is_active=True
    ).order_by("pk"):
        try:
            issued.append(
                issue_coupon(template=template, user=user, key=f"order:{order_id}", now=now)
            )
        except CouponUnavailable as exc:
            logger.info("spend reward %s for order %s: %s", template.pk, order_id, exc.code)
    return issued


# --- a coupon's life with an order ------------------------------------------------


def _sources(new: str) -> list[str]:
    """The statuses that may move to `new` (COUPON_TRANSITIONS, the one table)."""
    return [str(old) for old in COUPON_TRANSITIONS if can_move(COUPON_TRANSITIONS, old, new)]


def lock_coupon(*, code: str, user, order_id: int, discount, now: datetime | None = None) -> None:
    """An unpaid order holds the coupon (compare-and-set: one order wins)."""
    now = now or timezone.now()
    locked = Coupon.objects.filter(
        code=code,
        user=user,
        status__in=_sources(S.LOCKED),
        valid_from__lte=now,
        valid_until__gt=now,
    ).update(status=S.LOCKED, order_id=order_id, discount=discount)
    if not locked:
        raise CouponUnavailable(
            _("This coupon has already been used or is no longer valid."), code="taken"
        )


def use_coupons_for_order(*, order_id: int, now: datetime | None = None) -> int:
    """The order was paid: its locked coupons are used."""
    return Coupon.objects.filter(order_id=order_id, status__in=[S.LOCKED]).update(
        status=S.USED, used_at=now or timezone.now()
    )


def _give_back(*, order_id: int, sources: list[str], now: datetime) -> int:
    """Coupons of an order back in the wallet if still valid, else expired."""
    back = Coupon.objects.filter(order_id=order_id, status__in=sources)
    returned = back.filter(valid_until__gt=now).update(
        status=S.UNUSED, order=None, discount=None, used_at=None
    )
    expired = back.filter(valid_until__lte=now).update(status=S.EXPIRED)
    return returned + expired


def release_coupons_for_order(*, order_id: int, now: datetime | None = None) -> int:
    """An unpaid order was cancelled or expired: its coupons come back."""
    return _give_back(order_id=order_id, sources=[S.LOCKED], now=now or timezone.now())


def return_coupons_after_refund(*, order_id: int, now: datetime | None = None) -> int:
    """The refund rule (marketing/README.md): an order refunded whole before
    its goods were handed out gives its coupon back while it is still valid;
    any other refund keeps the coupon used."""
    return _give_back(order_id=order_id, sources=[S.USED, S.LOCKED], now=now or timezone.now())


def revoke_spend_rewards(*, order_id: int) -> int:
    """The 满额返券 of an order that was refunded below the threshold: revoked
    if still unused (a used or expired one stays as it is)."""
    ids = CouponTemplate.objects.filter(channel=CouponChannel.SPEND_REWARD).values_list(
        "pk", flat=True
    )
    codes = [keyed_code(template_id=pk, key=f"order:{order_id}") for pk in ids]
    if not codes:
        return 0
    return Coupon.objects.filter(code__in=codes, status__in=_sources(S.REVOKED)).update(
        status=S.REVOKED
    )


def revoke_coupon(*, coupon: Coupon, note: str = "") -> bool:
    """Take back an unused coupon (fraud, a reward whose order was refunded)."""
    moved = Coupon.objects.filter(pk=coupon.pk, status__in=_sources(S.REVOKED)).update(
        status=S.REVOKED
    )
    if moved:
        logger.info("coupon %s revoked: %s", coupon.code, note)
    return bool(moved)


def expire_coupons(*, now: datetime | None = None) -> int:
    """The beat task: unused coupons past their end are expired. Idempotent.

    A locked coupon is left to its order: the order is paid (used) or
    cancelled within minutes, and the cancel expires it then.
    """
    now = now or timezone.now()
    return Coupon.objects.filter(status=S.UNUSED, valid_until__lte=now).update(status=S.EXPIRED)


# --- operators issuing to a segment ------------------------------------------------


def segment_user_ids(*, job: CouponIssueJob, now: datetime | None = None) -> list[int]:
    """The shoppers of a job's segment, in pk order (marketing/segments.py).

    "Inactive for N days" is answered by orders (the last paid order; a
    shopper who never ordered counts once signed up more than N days ago):
    orders registers it from its ready(), marketing never reads orders.
    """
    from .. import segments

    return segments.user_ids(job=job, now=now or timezone.now())


def start_issue_job(
    *,
    template: CouponTemplate,
    segment: str,
    created_by=None,
    community=None,
    pickup_point=None,
    inactive_days: int | None = None,
) -> CouponIssueJob:
    """An operator issues a template to a segment: the job runs in Celery."""
    if segment == SegmentKind.COMMUNITY and community is None:
        raise MarketingError(_("Choose a community."))
    if segment == SegmentKind.PICKUP_POINT and pickup_point is None:
        raise MarketingError(_("Choose a pickup point."))
    if segment == SegmentKind.INACTIVE and not inactive_days:
        raise MarketingError(_("Enter how many days without activity."))
    if not template.is_active:
        raise MarketingError(_("This coupon template is not active."))
    with transaction.atomic():
        job = CouponIssueJob.objects.create(
            template=template,
            segment=segment,
            community=community if segment == SegmentKind.COMMUNITY else None,
            pickup_point=pickup_point if segment == SegmentKind.PICKUP_POINT else None,
            inactive_days=inactive_days if segment == SegmentKind.INACTIVE else None,
            created_by=created_by,
        )
        from ..tasks import run_coupon_issue_job_task

        publish_on_commit(run_coupon_issue_job_task, job.pk)
    return job


def cancel_issue_job(*, job: CouponIssueJob) -> bool:
    """Stop a waiting or running job (coupons already issued stay issued)."""
    return bool(
        CouponIssueJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
        ).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
    )


ISSUE_BATCH = 50


def run_issue_job(*, job_id: int, now: datetime | None = None) -> CouponIssueJob:
    """Issue the job's coupons in batches, saving progress after each.

    Safe to run twice: each shopper's coupon is keyed by the job, so a re-run
    (a redelivered task) skips those already done. A cancel between batches
    stops it; a sold-out template ends it as done with a note.
    """
    now = now or timezone.now()
    started = CouponIssueJob.objects.filter(
        pk=job_id, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
    ).update(status=JobStatus.RUNNING)
    job = CouponIssueJob.objects.select_related("template").get(pk=job_id)
    if not started:
        return job
    try:
        user_ids = segment_user_ids(job=job, now=now)
        CouponIssueJob.objects.filter(pk=job.pk).update(total=len(user_ids), done=0, issued=0)
        users = get_user_model().objects.in_bulk(user_ids)
        done = issued = 0
        for start in range(0, len(user_ids), ISSUE_BATCH):
            if CouponIssueJob.objects.filter(pk=job.pk, status=JobStatus.CANCELLED).exists():
                return CouponIssueJob.objects.get(pk=job.pk)
            sold_out = False
            for user_id in user_ids[start : start + ISSUE_BATCH]:
                try:
                    coupon = issue_coupon(
                        template=job.template,
                        user=users[user_id],
                        channel=CouponChannel.OPERATOR,
                        key=f"job:{job.pk}:{user_id}",
                        now=now,
                    )
                    issued += not getattr(coupon, "was_issued_before", False)
                except CouponUnavailable as exc:
                    if exc.code in {"sold_out", "ended"}:
                        sold_out = True
                        break
                done += 1
            CouponIssueJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                done=done, issued=issued
            )
            if sold_out:
                CouponIssueJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                    status=JobStatus.DONE,
                    finished_at=timezone.now(),
                    error=_("The template ran out after %(n)d shoppers.") % {"n": done},
                )
                return CouponIssueJob.objects.get(pk=job.pk)
        CouponIssueJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.DONE, finished_at=timezone.now(), done=done, issued=issued
        )
    except Exception as exc:  # the job shows why; the task does not retry a bug
        logger.exception("coupon issue job %s failed", job_id)
        CouponIssueJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:300]
        )
    return CouponIssueJob.objects.get(pk=job.pk)


def set_template_active(*, template: CouponTemplate, is_active: bool) -> bool:
    """Start or stop issuing a template (coupons already issued stay valid)."""
    return bool(
        CouponTemplate.objects.filter(pk=template.pk)
        .exclude(is_active=is_active)
        .update(is_active=is_active)
    )
