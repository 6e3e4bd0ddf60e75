"""Distances and driving times between points: the matrix the route solver reads.

A provider turns a list of coordinates into two square matrices, metres and
seconds. The default, `HaversineProvider`, uses the great-circle distance and
an average city speed (setting LOGISTICS_AVERAGE_SPEED_KMH, default 25): no
network, exact and repeatable, good enough to order a dozen stops in one
district. A road-distance provider (a map vendor's matrix API) plugs in
through the setting LOGISTICS_DISTANCE_PROVIDER, a dotted path to a class
with the same `matrix()` method; nothing else changes.

Pure functions and no database: the routing service reads the points and
hands their coordinates in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

# Mean Earth radius (IUGG), in metres: what every haversine calculator uses.
EARTH_RADIUS_M = 6_371_008.8
DEFAULT_SPEED_KMH = 25
DEFAULT_PROVIDER = "logistics.distances.HaversineProvider"
KM = Decimal("0.01")


@dataclass(frozen=True)
class Coordinates:
    """A point on the map: WGS-84 degrees (what the admin stores)."""

    latitude: float
    longitude: float

    @classmethod
    def of(cls, obj) -> Coordinates | None:
        """The coordinates of a model with latitude/longitude fields, or None when unset."""
        if obj is None or obj.latitude is None or obj.longitude is None:
            return None
        return cls(float(obj.latitude), float(obj.longitude))


@dataclass(frozen=True)
class Matrix:
    """distances[i][j] in metres and durations[i][j] in whole seconds (what the
    solver reads), from point i to point j."""

    distances: list[list[float]]
    durations: list[list[int]]


@runtime_checkable
class DistanceProvider(Protocol):
    """What the route solver needs: a full matrix between the given points."""

    def matrix(self, points: Sequence[Coordinates]) -> Matrix: ...


def haversine_m(a: Coordinates, b: Coordinates) -> float:
    """The great-circle distance between two points, in metres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def average_speed_kmh() -> float:
    """LOGISTICS_AVERAGE_SPEED_KMH: a number above 0; a bad value fails loudly."""
    value = getattr(settings, "LOGISTICS_AVERAGE_SPEED_KMH", DEFAULT_SPEED_KMH)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 200:
        raise ImproperlyConfigured(
            f"LOGISTICS_AVERAGE_SPEED_KMH must be a speed in km/h above 0, not {value!r}"
        )
    return float(value)


class HaversineProvider:
    """Straight-line distances, driving times at an average city speed."""

    def __init__(self, speed_kmh: float | None = None):
        self.speed_kmh = speed_kmh if speed_kmh is not None else average_speed_kmh()

    def matrix(self, points: Sequence[Coordinates]) -> Matrix:
        metres_per_second = self.speed_kmh * 1000 / 3600
        distances = [[haversine_m(a, b) for b in points] for a in points]
        durations = [[round(d / metres_per_second) for d in row] for row in distances]
        return Matrix(distances=distances, durations=durations)


def get_distance_provider() -> DistanceProvider:
    """The configured provider (LOGISTICS_DISTANCE_PROVIDER), HaversineProvider by default."""
    path = getattr(settings, "LOGISTICS_DISTANCE_PROVIDER", DEFAULT_PROVIDER) or DEFAULT_PROVIDER
    try:
        provider = import_string(path)()
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"LOGISTICS_DISTANCE_PROVIDER {path!r} cannot be imported"
        ) from exc
    if not isinstance(provider, DistanceProvider):
        raise ImproperlyConfigured(f"LOGISTICS_DISTANCE_PROVIDER {path!r} has no matrix()")
    return provider


def path_km(points: Sequence[Coordinates]) -> Decimal:
    """The haversine length of a path through `points` in order, in km to 2 places."""
    metres = sum(haversine_m(a, b) for a, b in itertools.pairwise(points))
    return (Decimal(metres) / 1000).quantize(KM, rounding=ROUND_HALF_UP)
