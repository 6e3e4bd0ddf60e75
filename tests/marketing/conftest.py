"""Marketing fixtures: the orders shop (a point with stock for tomorrow, eager
Celery) plus coupon templates, promotions and points (tests/marketing/m1_support.py).
"""

from __future__ import annotations

from tests.orders.conftest import (  # noqa: F401 - fixtures
    community,
    eager_celery,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)
