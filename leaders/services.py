"""Every write of the leaders app: one function per state change, each in its transaction.

Callers (views, admin actions, demo, other apps) pass keyword arguments and
catch `ValidationError`, whose message is ready to show to a person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tuangou import timeutils
from tuangou.accounts.sms import send_sms
from tuangou.outbox import publish_on_commit

from . import point_cache
from .images import prepare_photo
from .models import (
    ADDRESS_CHANGE_TRANSITIONS,
    APPLICATION_TRANSITIONS,
    LEADER_TRANSITIONS,
    POINT_TRANSITIONS,
    AddressChange,
    ApplicationStatus,
    BindingEvent,
    BindingSource,
    Community,
    Leader,
    LeaderApplication,
    LeaderStatus,
    PickupPoint,
    PickupPointPause,
    PickupPointPhoto,
    PointStatus,
    ReviewStatus,
    ShopperBinding,
    guard,
)

# A shopper may switch pickup point again only after this long: a switch moves
# their future orders to another leader, so flip-flopping is not allowed.
PICKUP_CHANGE_COOLDOWN = timedelta(minutes=10)
# How far ahead a leader may pause a day.
PAUSE_HORIZON_DAYS = 60
SHARE_CODE_BYTES = 9  # 12 URL-safe characters, 72 random bits

# What an illegal status change names in its message (shown to operators).
_APPLICATION = gettext_lazy("Leader application")
_LEADER = gettext_lazy("Leader")
_POINT = gettext_lazy("Pickup point")
_ADDRESS_CHANGE = gettext_lazy("Address change")


# --- opening hours ------------------------------------------------------------


def clean_opening_hours(hours: dict) -> dict[str, list[str]]:
    """Normalise {weekday: (open, close)} and refuse a point that never opens.

    Accepts weekday keys 0-6 (int or str) and `time` or "HH:MM" values; a
    weekday given as None / missing is closed.
    """
    cleaned: dict[str, list[str]] = {}
    for key, value in (hours or {}).items():
        weekday = int(key)
        if weekday not in range(7):
            raise ValidationError(_("Unknown weekday in the opening hours."))
        if not value:
            continue
        opens, closes = (v if isinstance(v, time) else time.fromisoformat(v) for v in value)
        if closes <= opens:
            raise ValidationError(_("Closing time must be later than opening time."))
        cleaned[str(weekday)] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")]
    if not cleaned:
        raise ValidationError(
            _("A pickup point needs opening hours: give at least one day with a time to open.")
        )
    return dict(sorted(cleaned.items()))


def _check_coordinates(latitude: Decimal | None, longitude: Decimal | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValidationError(_("Give both latitude and longitude, or neither."))
    if latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationError(_("The location is not a valid position."))


# --- applications ---------------------------------------------------------------


@transaction.atomic
def submit_application(
    *,
    user,
    real_name: str,
    phone: str,
    community: Community,
    kind: str,
    point_name: str,
    address: str,
    opening_hours: dict,
    storefront_photo,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> LeaderApplication:
    """A new application, or the applicant's rejected one edited and sent again."""
    # Serialise one user's submits: a double tap cannot queue two applications.
    get_user_model().objects.select_for_update().get(pk=user.pk)
    if Leader.objects.filter(user=user).exists():
        raise ValidationError(_("You are already a leader."))
    hours = clean_opening_hours(opening_hours)
    _check_coordinates(latitude, longitude)
    if not community.is_active:
        raise ValidationError(_("This community is not served at the moment."))
    if storefront_photo is None:
        raise ValidationError(_("Please add a photo of your storefront."))
    # A new upload is checked and cleaned; a rejected application's earlier
    # photo (already a FieldFile) was checked when it was sent.
    new_photo = (
        None
        if hasattr(storefront_photo, "instance")
        else prepare_photo(storefront_photo, name="storefront.jpg")
    )

    latest = LeaderApplication.objects.filter(user=user).order_by("-created_at", "-pk").first()
    if latest is not None and latest.status == ApplicationStatus.PENDING:
        raise ValidationError(_("Your application is already waiting for review."))
    if latest is not None and latest.status == ApplicationStatus.REJECTED:
        application = latest
        guard(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.PENDING, _APPLICATION)
        application.status = ApplicationStatus.PENDING
        application.reject_reason = ""
        application.reviewed_by = None
        application.reviewed_at = None
        application.result_sent_at = None
    else:
        application = LeaderApplication(user=user)
    application.real_name = real_name.strip()
    application.phone = phone.strip()
    application.community = community
    application.kind = kind
    application.point_name = point_name.strip()
    application.address = address.strip()
    application.latitude = latitude
    application.longitude = longitude
    application.opening_hours = hours
    if new_photo is not None:
        application.storefront_photo.save(new_photo.name, new_photo, save=False)
    application.save()
    return application


def _new_share_code() -> str:
    return secrets.token_urlsafe(SHARE_CODE_BYTES)


@transaction.atomic
def approve_application(*, application: LeaderApplication, reviewed_by) -> Leader:
    """Approve: the Leader and their first PickupPoint. Approving twice makes one Leader."""
    application = LeaderApplication.objects.select_for_update().get(pk=application.pk)
    if application.status == ApplicationStatus.APPROVED:
        return Leader.objects.get(application=application)
    guard(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.APPROVED, _APPLICATION)
    if Leader.objects.filter(user_id=application.user_id).exists():
        raise ValidationError(_("This user is already a leader."))
    now = timeutils.now()
    application.status = ApplicationStatus.APPROVED
    application.reviewed_by = reviewed_by
    application.reviewed_at = now
    application.save(update_fields=["status", "reviewed_by", "reviewed_at", "updated_at"])
    _tell_applicant_after_commit(application)

    leader = Leader.objects.create(
        user_id=application.user_id,
        application=application,
        real_name=application.real_name,
        phone=application.phone,
        kind=application.kind,
        share_code=_new_share_code(),
        joined_at=now,
    )
    community = application.community
    point = PickupPoint.objects.create(
        leader=leader,
        community=community,
        warehouse_id=community.warehouse_id,
        name=application.point_name,
        address=application.address,
        latitude=application.latitude,
        longitude=application.longitude,
        opening_hours=application.opening_hours,
        # The operator has just reviewed this address with the application.
        status=PointStatus.ACTIVE,
    )
    if application.storefront_photo:
        application.storefront_photo.open("rb")
        try:
            content = ContentFile(application.storefront_photo.read())
        finally:
            application.storefront_photo.close()
        photo = PickupPointPhoto(point=point)
        photo.image.save(application.storefront_photo.name.rsplit("/", 1)[-1], content)
    return leader


@transaction.atomic
def reject_application(
    *, application: LeaderApplication, reviewed_by, reason: str
) -> LeaderApplication:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Please give a reason for the rejection."))
    application = LeaderApplication.objects.select_for_update().get(pk=application.pk)
    guard(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.REJECTED, _APPLICATION)
    application.status = ApplicationStatus.REJECTED
    application.reject_reason = reason
    application.reviewed_by = reviewed_by
    application.reviewed_at = timeutils.now()
    application.save()
    _tell_applicant_after_commit(application)
    return application


def _tell_applicant_after_commit(application: LeaderApplication) -> None:
    from .tasks import tell_applicant_task

    application_id = application.pk
    publish_on_commit(tell_applicant_task, application_id)


def tell_applicant(*, application_id: int) -> bool:
    """SMS the applicant the result of the review, once. True when a message went out."""
    with transaction.atomic():
        application = LeaderApplication.objects.select_for_update().get(pk=application_id)
        if application.status == ApplicationStatus.PENDING or application.result_sent_at:
            return False
        application.result_sent_at = timeutils.now()
        application.save(update_fields=["result_sent_at"])
        if application.status == ApplicationStatus.APPROVED:
            template, params = "leader_application_approved", {"name": application.real_name}
        else:
            template = "leader_application_rejected"
            params = {"name": application.real_name, "reason": application.reject_reason}
        phone = application.phone
        # The gateway is slow and outside the database: send once the mark is saved.
        transaction.on_commit(lambda: send_sms(phone=phone, template=template, params=params))
    return True


# --- leaders ----------------------------------------------------------------------


def _set_leader_status(leader: Leader, status: str, reason: str = "") -> Leader:
    leader = Leader.objects.select_for_update().get(pk=leader.pk)
    if leader.status == status:
        return leader
    guard(LEADER_TRANSITIONS, leader.status, status, _LEADER)
    leader.status = status
    leader.suspended_reason = reason
    leader.save(update_fields=["status", "suspended_reason"])
    point_cache.bump()  # their points take orders or stop: shoppers see it at once
    return leader


@transaction.atomic
def suspend_leader(*, leader: Leader, reason: str = "") -> Leader:
    """Stop the leader: their points take no new orders and their shoppers are
    asked (on the storefront and the choose page) to pick another point."""
    return _set_leader_status(leader, LeaderStatus.SUSPENDED, reason.strip())


@transaction.atomic
def reactivate_leader(*, leader: Leader) -> Leader:
    return _set_leader_status(leader, LeaderStatus.ACTIVE)


# --- pickup points ----------------------------------------------------------------


def _set_point_status(point: PickupPoint, status: str) -> PickupPoint:
    point = PickupPoint.objects.select_for_update().get(pk=point.pk)
    if point.status == status:
        return point
    guard(POINT_TRANSITIONS, point.status, status, _POINT)
    point.status = status
    point.save(update_fields=["status"])
    point_cache.bump()
    return point


@transaction.atomic
def create_pickup_point(
    *,
    leader: Leader,
    community: Community,
    name: str,
    address: str,
    opening_hours: dict,
    daily_capacity: int,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> PickupPoint:
    """A leader's further point: it waits for an operator before shoppers see it."""
    hours = clean_opening_hours(opening_hours)
    _check_coordinates(latitude, longitude)
    if daily_capacity < 1:
        raise ValidationError(_("Daily capacity must be at least 1."))
    return PickupPoint.objects.create(
        leader=leader,
        community=community,
        warehouse_id=community.warehouse_id,
        name=name.strip(),
        address=address.strip(),
        latitude=latitude,
        longitude=longitude,
        opening_hours=hours,
        daily_capacity=daily_capacity,
        status=PointStatus.PENDING,
    )


@transaction.atomic
def approve_pickup_point(*, point: PickupPoint) -> PickupPoint:
    return _set_point_status(point, PointStatus.ACTIVE)


@transaction.atomic
def reject_pickup_point(*, point: PickupPoint) -> PickupPoint:
    return _set_point_status(point, PointStatus.REJECTED)


@transaction.atomic
def close_pickup_point(*, point: PickupPoint) -> PickupPoint:
    return _set_point_status(point, PointStatus.CLOSED)


@transaction.atomic
def reopen_pickup_point(*, point: PickupPoint) -> PickupPoint:
    return _set_point_status(point, PointStatus.ACTIVE)


@transaction.atomic
def update_pickup_point(
    *, point: PickupPoint, name: str, opening_hours: dict, daily_capacity: int
) -> PickupPoint:
    """The leader's own settings; the address goes through `request_address_change`."""
    hours = clean_opening_hours(opening_hours)
    if daily_capacity < 1:
        raise ValidationError(_("Daily capacity must be at least 1."))
    point = PickupPoint.objects.select_for_update().get(pk=point.pk)
    point.name = name.strip()
    point.opening_hours = hours
    point.daily_capacity = daily_capacity
    point.save(update_fields=["name", "opening_hours", "daily_capacity"])
    point_cache.bump()
    return point


@transaction.atomic
def request_address_change(
    *,
    point: PickupPoint,
    address: str,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> AddressChange | None:
    """A moved point: operators review the new address before shoppers see it.

    A point still waiting for its first review takes the address at once (the
    review covers it); a second request replaces the pending one.
    """
    address = address.strip()
    if not address:
        raise ValidationError(_("Please enter the new address."))
    _check_coordinates(latitude, longitude)
    point = PickupPoint.objects.select_for_update().get(pk=point.pk)
    if point.status == PointStatus.PENDING:
        point.address, point.latitude, point.longitude = address, latitude, longitude
        point.save(update_fields=["address", "latitude", "longitude"])
        point_cache.bump()
        return None
    change, _created = AddressChange.objects.update_or_create(
        point=point,
        status=ReviewStatus.PENDING,
        defaults={"address": address, "latitude": latitude, "longitude": longitude},
    )
    return change


@transaction.atomic
def approve_address_change(*, change: AddressChange, reviewed_by) -> AddressChange:
    change = AddressChange.objects.select_for_update().get(pk=change.pk)
    if change.status == ReviewStatus.APPROVED:
        return change
    guard(ADDRESS_CHANGE_TRANSITIONS, change.status, ReviewStatus.APPROVED, _ADDRESS_CHANGE)
    point = PickupPoint.objects.select_for_update().get(pk=change.point_id)
    point.address, point.latitude, point.longitude = (
        change.address,
        change.latitude,
        change.longitude,
    )
    point.save(update_fields=["address", "latitude", "longitude"])
    point_cache.bump()
    change.status = ReviewStatus.APPROVED
    change.reviewed_by = reviewed_by
    change.reviewed_at = timeutils.now()
    change.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return change


@transaction.atomic
def reject_address_change(*, change: AddressChange, reviewed_by, reason: str) -> AddressChange:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Please give a reason for the rejection."))
    change = AddressChange.objects.select_for_update().get(pk=change.pk)
    guard(ADDRESS_CHANGE_TRANSITIONS, change.status, ReviewStatus.REJECTED, _ADDRESS_CHANGE)
    change.status = ReviewStatus.REJECTED
    change.reject_reason = reason
    change.reviewed_by = reviewed_by
    change.reviewed_at = timeutils.now()
    change.save(update_fields=["status", "reject_reason", "reviewed_by", "reviewed_at"])
    return change


MAX_PHOTOS_PER_POINT = 9


@transaction.atomic
def add_point_photo(*, point: PickupPoint, image) -> PickupPointPhoto:
    photo_file = prepare_photo(image, name="point.jpg")
    point = PickupPoint.objects.select_for_update().get(pk=point.pk)
    if point.photos.count() >= MAX_PHOTOS_PER_POINT:
        raise ValidationError(_("A pickup point can have at most 9 photos."))
    photo = PickupPointPhoto(point=point)
    photo.image.save(photo_file.name, photo_file, save=False)
    photo.save()
    return photo


@transaction.atomic
def delete_point_photo(*, photo: PickupPointPhoto) -> None:
    """Remove the row now and the file once the deletion is committed.

    Deleting the file first would leave a row pointing at nothing if the
    transaction rolled back (the caller's, or a failure after this call).
    """
    storage, name = photo.image.storage, photo.image.name
    photo.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def pause_pickup_point_for_day(
    *, point: PickupPoint, day: date, reason: str = ""
) -> PickupPointPause:
    """No pickups on `day`: orders cannot be delivered there that day; shoppers are told."""
    today = timeutils.local_today()
    if day < today:
        raise ValidationError(_("You cannot pause a day in the past."))
    if day > today + timedelta(days=PAUSE_HORIZON_DAYS):
        raise ValidationError(_("You can pause a day at most 60 days ahead."))
    pause, created = PickupPointPause.objects.get_or_create(
        point=point, day=day, defaults={"reason": reason.strip()[:100]}
    )
    if created:
        from .tasks import tell_shoppers_of_pause_task

        point_cache.bump()  # the storefront warns of the paused delivery day

        pause_id = pause.pk
        publish_on_commit(tell_shoppers_of_pause_task, pause_id)
    return pause


def tell_shoppers_of_pause(*, pause_id: int) -> int:
    """SMS every shopper bound to the point that it hands out nothing that day, once.

    Returns how many messages went out (0 on a second run).
    """
    with transaction.atomic():
        pause = (
            PickupPointPause.objects.select_for_update()
            .select_related("point")
            .filter(pk=pause_id)
            .first()
        )
        if pause is None or pause.shoppers_told_at is not None:
            return 0
        pause.shoppers_told_at = timeutils.now()
        pause.save(update_fields=["shoppers_told_at"])
        phones = list(
            ShopperBinding.objects.filter(pickup_point=pause.point)
            .exclude(user__phone__isnull=True)
            .exclude(user__phone="")
            .order_by("pk")
            .values_list("user__phone", flat=True)
        )
        params = {"point": pause.point.name, "day": pause.day.strftime("%m-%d")}

        def send_all() -> None:
            for phone in phones:
                send_sms(phone=phone, template="pickup_point_paused", params=params)

        transaction.on_commit(send_all)
    return len(phones)


@transaction.atomic
def resume_pickup_point_for_day(*, point: PickupPoint, day: date) -> None:
    if PickupPointPause.objects.filter(point=point, day=day).delete()[0]:
        point_cache.bump()


# --- shopper binding --------------------------------------------------------------


def _cooldown_left(binding: ShopperBinding, now: datetime) -> timedelta:
    return binding.changed_at + PICKUP_CHANGE_COOLDOWN - now


def _bind(*, user, point: PickupPoint, source: str) -> ShopperBinding:
    """Bind or move the shopper to `point`; the caller holds the transaction."""
    if not point.is_taking_orders:
        raise ValidationError(
            _("This pickup point is not taking orders at the moment. Please choose another.")
        )
    now = timeutils.now()
    binding = ShopperBinding.objects.select_for_update().filter(user=user).first()
    if binding is not None and binding.pickup_point_id == point.pk:
        return binding
    if binding is not None:
        left = _cooldown_left(binding, now)
        # A shopper whose point stopped taking orders must be able to move at once.
        if left > timedelta(0) and binding.pickup_point.is_taking_orders:
            minutes = max(1, -(-int(left.total_seconds()) // 60))
            raise ValidationError(
                _(
                    "You changed your pickup point a moment ago. "
                    "You can change it again in %(minutes)d minutes."
                )
                % {"minutes": minutes},
                code="cooldown",
            )
        from_point_id = binding.pickup_point_id
        binding.pickup_point = point
        binding.leader_id = point.leader_id
        binding.source = source
        binding.changed_at = now
        binding.save(update_fields=["pickup_point", "leader", "source", "changed_at"])
    else:
        from_point_id = None
        try:
            with transaction.atomic():
                binding = ShopperBinding.objects.create(
                    user=user,
                    pickup_point=point,
                    leader_id=point.leader_id,
                    source=source,
                    bound_at=now,
                    changed_at=now,
                )
        except IntegrityError:
            # Another request bound this shopper first: theirs stands.
            return ShopperBinding.objects.get(user=user)
    BindingEvent.objects.create(
        user=user, from_point_id=from_point_id, to_point=point, source=source, created_at=now
    )
    point_cache.forget(user_id=user.pk)
    return binding


@transaction.atomic
def choose_pickup_point(
    *, user, pickup_point: PickupPoint, source: str = BindingSource.CHOSEN
) -> ShopperBinding:
    """The shopper picks a point on the choose page (cooldown applies to a change)."""
    point = PickupPoint.objects.select_related("leader").get(pk=pickup_point.pk)
    return _bind(user=user, point=point, source=source)


class UnknownShareCode(ValidationError):
    pass


@dataclass(frozen=True)
class ShareArrival:
    """What happened when a shopper opened a leader's link."""

    outcome: str  # "bound", "already_here", "asks_to_switch"
    point: PickupPoint
    binding: ShopperBinding | None


def share_point_for_code(share_code: str) -> PickupPoint:
    """The point a share code binds to: the leader's first open point."""
    leader = Leader.objects.filter(share_code=share_code).first() if share_code else None
    if leader is None:
        raise UnknownShareCode(
            _("This share link is not valid. Please ask your leader for a new one.")
        )
    point = (
        PickupPoint.objects.select_related("leader", "community", "warehouse")
        .filter(leader=leader, status=PointStatus.ACTIVE)
        .order_by("pk")
        .first()
    )
    if point is None or not leader.is_active:
        raise ValidationError(
            _(
                "This leader's pickup point is not taking orders at the moment. "
                "Please choose another."
            )
        )
    return point


@transaction.atomic
def bind_shopper_from_share(*, user, share_code: str, switch: bool = False) -> ShareArrival:
    """A shopper arrives through a leader's link or QR code.

    No pickup point yet: bound to the leader's point. Already at another point:
    nothing changes unless `switch` (the shopper confirmed on the page).
    """
    point = share_point_for_code(share_code)
    current = ShopperBinding.objects.select_for_update().filter(user=user).first()
    if current is not None and current.pickup_point_id == point.pk:
        return ShareArrival("already_here", point, current)
    if current is not None and not switch:
        return ShareArrival("asks_to_switch", point, current)
    binding = _bind(user=user, point=point, source=BindingSource.SHARE_LINK)
    return ShareArrival("bound", point, binding)
