"""Who is in an operator's segment (批量发券 to a segment, services/coupons.py).

A segment kind (SegmentKind) is answered by a resolver: a function
``resolver(*, job, now) -> iterable of user ids``. Marketing answers the kinds
it can read itself (a community's or a pickup point's shoppers: leaders'
bindings, an earlier app). "Shoppers inactive for N days" needs the orders,
and orders come after marketing in the import DAG: orders registers its
resolver here from ``OrdersConfig.ready()`` (orders/segments.py). Marketing
never imports orders; the dependency points down, as the DAG wants, and
nothing is resolved through signals.

A kind without a resolver is a configuration error (the job fails and says
so) rather than a silent fallback to another rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

Resolver = Callable[..., Iterable[int]]

_resolvers: dict[str, Resolver] = {}


def register(kind: str, resolver: Resolver) -> None:
    """Answer segment `kind` with `resolver(*, job, now)` (a later call for the
    same kind replaces the earlier one: ready() may run twice in tests)."""
    _resolvers[str(kind)] = resolver


def resolver_for(kind: str) -> Resolver:
    try:
        return _resolvers[str(kind)]
    except KeyError:
        raise ImproperlyConfigured(f"no resolver registered for segment {kind!r}") from None


def user_ids(*, job: Any, now: datetime) -> list[int]:
    """The user ids of a job's segment, distinct, in pk order."""
    return sorted(set(resolver_for(job.segment)(job=job, now=now)))


# --- the kinds marketing answers itself ----------------------------------------------


def _community(*, job, now) -> Iterable[int]:
    from leaders.models import ShopperBinding

    qs = ShopperBinding.objects.filter(pickup_point__community_id=job.community_id)
    return qs.values_list("user_id", flat=True)


def _pickup_point(*, job, now) -> Iterable[int]:
    from leaders.models import ShopperBinding

    qs = ShopperBinding.objects.filter(pickup_point_id=job.pickup_point_id)
    return qs.values_list("user_id", flat=True)


register("community", _community)
register("pickup_point", _pickup_point)
