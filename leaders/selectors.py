"""Reads of the leaders app for pages, other apps and reports."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import ACos, Cast, Cos, Greatest, Least, Radians, Sin

from tuangou import timeutils

from .models import (
    UPCOMING_PAUSE_DAYS,
    AddressChange,
    ApplicationStatus,
    Leader,
    LeaderApplication,
    PickupPoint,
    PickupPointPause,
    ReviewStatus,
    ShopperBinding,
)

EARTH_RADIUS_KM = 6371.0
CHOOSE_PAGE_LIMIT = 30
CUSTOMERS_PAGE_SIZE = 50


def _paused_on(day: date):
    return Exists(PickupPointPause.objects.filter(point=OuterRef("pk"), day=day))


# --- shoppers ---------------------------------------------------------------


def binding_for_shopper(*, user) -> ShopperBinding | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        ShopperBinding.objects.select_related(
            "pickup_point__warehouse", "pickup_point__community", "pickup_point__leader"
        )
        .filter(user=user)
        .first()
    )


def _upcoming_paused_days(today: date):
    """The point's paused days in [today, today + UPCOMING_PAUSE_DAYS), as a list."""
    return ArraySubquery(
        PickupPointPause.objects.filter(
            point=OuterRef("pk"),
            day__gte=today,
            day__lt=today + timedelta(days=UPCOMING_PAUSE_DAYS),
        )
        .order_by("day")
        .values("day")
    )


def pickup_point_for_shopper(*, user) -> PickupPoint | None:
    """The shopper's chosen point, its warehouse, community and leader; one query.

    `is_paused_today` and `upcoming_paused_days` are annotated so that the
    storefront can tell the shopper, without another query, that the point
    is paused on the delivery day (`PickupPoint.pickup_problem_on`).
    """
    if not getattr(user, "is_authenticated", False):
        return None
    today = timeutils.local_today()
    return (
        PickupPoint.objects.select_related("warehouse", "community", "leader")
        .annotate(
            is_paused_today=_paused_on(today),
            upcoming_paused_days=_upcoming_paused_days(today),
        )
        .filter(bindings__user=user)
        .first()
    )


def cached_pickup_point_for_shopper(*, user) -> PickupPoint | None:
    """pickup_point_for_shopper from Redis while nothing it holds has changed
    (leaders.point_cache says what replaces it): no query on a hit."""
    from . import point_cache

    if not getattr(user, "is_authenticated", False):
        return None
    return point_cache.point_for_shopper(user=user, load=pickup_point_for_shopper)


def pickup_point_is_open_on(*, pickup_point: PickupPoint, day: date) -> bool:
    """May parcels be collected at the point on `day`? (for orders and logistics)

    The point takes orders, it opens on that weekday and the leader did not pause the day.
    """
    if not pickup_point.is_taking_orders or pickup_point.hours_on(day.weekday()) is None:
        return False
    return not PickupPointPause.objects.filter(point=pickup_point, day=day).exists()


def paused_days_for_point(*, pickup_point: PickupPoint, start: date, days: int = 7) -> list[date]:
    """Days from `start` (inclusive) on which the leader paused pickups, for notices."""
    return list(
        PickupPointPause.objects.filter(
            point=pickup_point, day__gte=start, day__lt=start + timedelta(days=days)
        )
        .order_by("day")
        .values_list("day", flat=True)
    )


def points_for_choosing(
    *,
    latitude: Decimal | float | None = None,
    longitude: Decimal | float | None = None,
    query: str = "",
) -> list[PickupPoint]:
    """Open points, nearest first when a location is given (great-circle distance in SQL).

    `distance_km` is annotated (None without a location or coordinates);
    `is_paused_today` tells the shopper about a paused day.
    """
    qs = (
        PickupPoint.objects.visible_to_shoppers()
        .select_related("community", "warehouse", "leader")
        .annotate(is_paused_today=_paused_on(timeutils.local_today()))
    )
    query = query.strip()
    if query:
        qs = qs.filter(
            Q(community__name__icontains=query)
            | Q(name__icontains=query)
            | Q(community__district__icontains=query)
        )
    if latitude is not None and longitude is not None:
        lat = Radians(Value(float(latitude), output_field=FloatField()))
        lng = Radians(Value(float(longitude), output_field=FloatField()))
        plat = Radians(Cast(F("latitude"), FloatField()))
        plng = Radians(Cast(F("longitude"), FloatField()))
        # Spherical law of cosines; the clamp keeps ACOS inside its domain
        # when rounding pushes the same point a hair above 1.
        cosine = Sin(lat) * Sin(plat) + Cos(lat) * Cos(plat) * Cos(plng - lng)
        clamped = Greatest(Least(cosine, Value(1.0)), Value(-1.0))
        # PostgreSQL's LEAST/GREATEST skip NULLs: a point without coordinates
        # would come out at distance 0, so it gets NULL (listed last) here.
        distance = Case(
            When(
                latitude__isnull=False,
                longitude__isnull=False,
                then=ACos(clamped) * Value(EARTH_RADIUS_KM),
            ),
            default=None,
            output_field=FloatField(),
        )
        qs = qs.annotate(distance_km=distance).order_by(F("distance_km").asc(nulls_last=True), "pk")
    else:
        qs = qs.order_by("community__name", "pk")
    return list(qs[:CHOOSE_PAGE_LIMIT])


def visible_point(*, pk: int) -> PickupPoint | None:
    return (
        PickupPoint.objects.visible_to_shoppers()
        .select_related("leader", "community", "warehouse")
        .filter(pk=pk)
        .first()
    )


# --- applicants -----------------------------------------------------------------


def latest_application_for_user(*, user) -> LeaderApplication | None:
    return (
        LeaderApplication.objects.select_related("community")
        .filter(user=user)
        .order_by("-created_at", "-pk")
        .first()
    )


def pending_applications() -> QuerySet[LeaderApplication]:
    return LeaderApplication.objects.select_related("user", "community").filter(
        status=ApplicationStatus.PENDING
    )


# --- leaders ---------------------------------------------------------------------


def leader_for_user(*, user) -> Leader | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Leader.objects.select_related("user").filter(user=user).first()


def leader_by_share_code(*, share_code: str) -> Leader | None:
    return Leader.objects.filter(share_code=share_code).first() if share_code else None


def points_for_leader(*, leader: Leader) -> list[PickupPoint]:
    """The leader's points for their home and settings pages, with what those show."""
    today = timeutils.local_today()
    return list(
        PickupPoint.objects.filter(leader=leader)
        .select_related("community", "warehouse")
        .annotate(
            customer_count=Count("bindings", distinct=True),
            is_paused_today=_paused_on(today),
        )
        .prefetch_related(
            "photos",
            Prefetch(
                "pauses",
                queryset=PickupPointPause.objects.filter(day__gte=today),
                to_attr="upcoming_pauses",
            ),
            Prefetch(
                "address_changes",
                queryset=AddressChange.objects.filter(status=ReviewStatus.PENDING),
                to_attr="pending_address_changes",
            ),
        )
        .order_by("pk")
    )


def point_for_leader(*, leader: Leader, pk: int) -> PickupPoint | None:
    """One of the leader's own points, or None (another leader's id is simply not found)."""
    today = timeutils.local_today()
    return (
        PickupPoint.objects.filter(leader=leader, pk=pk)
        .select_related("community", "warehouse", "leader")
        .prefetch_related(
            "photos",
            Prefetch(
                "pauses",
                queryset=PickupPointPause.objects.filter(day__gte=today),
                to_attr="upcoming_pauses",
            ),
            Prefetch(
                "address_changes",
                queryset=AddressChange.objects.filter(status=ReviewStatus.PENDING),
                to_attr="pending_address_changes",
            ),
        )
        .first()
    )


def primary_point_for_leader(*, leader: Leader) -> PickupPoint | None:
    """The point the leader's share link binds shoppers to."""
    return PickupPoint.objects.filter(leader=leader, status="active").order_by("pk").first()


def customers_for_leader(*, leader: Leader, query: str = "") -> QuerySet[ShopperBinding]:
    """Shoppers bound to the leader's points; `query` matches a nickname or the
    last four digits of the phone."""
    qs = ShopperBinding.objects.filter(leader=leader).select_related("user", "pickup_point")
    query = query.strip()
    if query:
        match = Q(user__nickname__icontains=query)
        if query.isdigit() and len(query) <= 4:
            match |= Q(user__phone__endswith=query)
        qs = qs.filter(match)
    return qs.order_by("-changed_at", "-pk")


def customer_count_for_leader(*, leader: Leader) -> int:
    return ShopperBinding.objects.filter(leader=leader).count()


def pending_address_changes() -> QuerySet[AddressChange]:
    return AddressChange.objects.select_related("point__leader", "point__community").filter(
        status=ReviewStatus.PENDING
    )
